"""The game of personality: prompts, judgment parsing, the provisional judge, pixel students, the matrix statistics."""
import asyncio
import hashlib
import math

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from eep_utils.book.report import claim
from eep_utils.personality.agreement import (AgreementMatrix, agreement_matrices, auc_by_row, cell_contrast,
                                             extraction_index,
                                             extraction_test, offdiagonal_correlation)
from eep_utils.personality.creatures import generate_creatures
from eep_utils.personality.personas import (GENERIC_DISLIKES, GENERIC_LIKES, NO_PERSONA, PERSONAS, Persona, judge_captions,
                                            judgment_request, persona_as_asked, probability_of_cute, reworded,
                                            verdict_of)
from eep_utils.chat.parsing import Judgment, parse_judgment
from eep_utils.chat.types import ChatAnswer
from eep_utils.personality.judge import PersonaJudgeStandIn
from eep_utils.personality.students import (STUDENT_KINDS, OneVerdictStudent, PixelFeatures, cute_probability, fit_student,
                                            held_out_split)

# --- prompts -------------------------------------------------------------------------------------


def test_personas_follow_the_prompt_contract():
    assert len(PERSONAS) >= 4 and len({p.key for p in PERSONAS}) == len(PERSONAS)
    for persona in PERSONAS:
        request = judgment_request(persona, "A tiny pink kitten\nwith soft fur.")
        (system_role, system), (user_role, user) = request.messages
        assert (system_role, user_role) == ("system", "user")
        likes = [line for line in system.splitlines() if line.startswith("You find cute:")]
        dislikes = [line for line in system.splitlines() if line.startswith("You do not find cute:")]
        assert len(likes) == 1 and len(dislikes) == 1
        assert "Caption: A tiny pink kitten with soft fur." in user.splitlines()
        assert "answer yes or no" in user and request.grammar == 'root ::= "yes" | "no"' and request.logprobs
        assert judgment_request(persona, "x", constrained=False).grammar is None
    # Tastes differ: no two personas like the same things.
    assert len({frozenset(p.likes) for p in PERSONAS}) == len(PERSONAS)


def test_p_cute_pools_every_spelling_of_the_two_words_at_the_verdict():
    def answer(text, alternatives):
        top = [{"token": token, "logprob": math.log(p)} for token, p in alternatives.items()]
        return ChatAnswer(text, "m", logprobs=[{"token": text, "logprob": math.log(alternatives[text]),
                                                "top_logprobs": top}])

    assert probability_of_cute(answer("yes", {"yes": 0.8, "no": 0.2}), parse_judgment("yes")) == pytest.approx(0.8)
    # What a small model does under the grammar: it would have said "No"; the lower-case words are far down.
    constrained = answer("no", {"No": 0.4, "This": 0.3, "Yes": 0.1, "no": 0.001})
    assert probability_of_cute(constrained, parse_judgment("no")) == pytest.approx(0.1 / 0.501)
    assert probability_of_cute(ChatAnswer('{"cute": true, "score": 7}', "m"), Judgment(True, 7.0)) == 0.7  # stand-in
    assert math.isnan(probability_of_cute(ChatAnswer("maybe", "m"), parse_judgment("maybe")))


def test_a_reworded_judge_keeps_its_taste_in_other_words():
    for persona in PERSONAS:
        second = reworded(persona)
        assert second.wording == 2 and second.key == f"{persona.key} (wording 2)"
        assert len(second.likes) == len(persona.likes) and len(second.dislikes) == len(persona.dislikes)
        assert second.system_message() != persona.system_message()
        assert "You find cute:" in second.system_message()  # the stand-in's prompt contract still holds
    control = reworded(NO_PERSONA)
    assert control.is_control and [role for role, _ in judgment_request(control, "A snake.").messages] == [
        "system", "user"]


def test_no_persona_control_gets_the_task_only():
    request = judgment_request(NO_PERSONA, "A snake.")
    assert [role for role, _ in request.messages] == ["user"]
    assert "You find cute" not in request.messages[0][1]


# --- judgments ---------------------------------------------------------------------------------


class CannedTeacher:
    label, model = "canned answers (test)", "canned"

    def __init__(self, answers, is_chatbot=True):
        self.answers = answers
        self.is_chatbot = is_chatbot
        self.seen = []

    async def acomplete(self, request):
        await asyncio.sleep(0.001 * (len(self.seen) % 3))  # out-of-order completion
        self.seen.append(request)
        caption = request.messages[-1][1].split("Caption: ", 1)[1]
        return ChatAnswer(text=self.answers[caption], model="canned")


def test_judge_captions_reads_answers_however_written_and_keeps_them():
    answers = {"a": '{"cute": true, "score": 8}', "b": "no idea", "c": 'Sure! ```json\n{"cute": false, "score": 1}\n```',
               "d": '{"score": 6}', "e": '{"score": 4.5}', "f": "{'cute': True}", "g": '{"cute": "maybe", "score": 11}'}
    table = judge_captions(CannedTeacher(answers), PERSONAS[0], list(answers))
    assert table["answer"].tolist() == list(answers.values())
    assert table["cute"].fillna(-1).tolist() == [1.0, -1, 0.0, 1.0, 0.0, 1.0, -1]
    assert table["score"].fillna(-1).tolist() == [8.0, -1, 1.0, 6.0, 4.5, -1, -1]
    assert table["cute_from_score"].tolist() == [False, False, False, True, True, False, False]


def test_verdict_of_a_judgment():
    assert verdict_of(Judgment(True, 2.0)) == (1.0, False)   # the stated verdict wins over the score
    assert verdict_of(Judgment(None, 5.0)) == (1.0, True)
    assert math.isnan(verdict_of(Judgment(None, None))[0])


def test_judge_captions_works_inside_a_running_event_loop():
    # As in a Jupyter kernel, where asyncio.run cannot be called directly.
    async def inside():
        return judge_captions(CannedTeacher({"a": '{"cute": true, "score": 8}'}), NO_PERSONA, ["a"])

    assert asyncio.run(inside())["cute"].tolist() == [1.0]


def test_control_is_the_task_alone_for_a_chatbot_and_generic_anchors_for_a_stand_in():
    chatbot, stand_in = CannedTeacher({"a": "{}"}), CannedTeacher({"a": "{}"}, is_chatbot=False)
    judge_captions(chatbot, NO_PERSONA, ["a"])
    judge_captions(stand_in, NO_PERSONA, ["a"])
    assert [role for role, _ in chatbot.seen[0].messages] == ["user"]
    system = stand_in.seen[0].messages[0][1]
    assert f"You find cute: {', '.join(GENERIC_LIKES)}" in system.splitlines()
    assert f"You do not find cute: {', '.join(GENERIC_DISLIKES)}" in system.splitlines()
    # A persona's prompt is the same for both.
    assert persona_as_asked(PERSONAS[1], stand_in) is PERSONAS[1]


# --- the teacher layer's offline stand-in, on these prompts (bag-of-words encoder instead of MiniLM) --


class BagOfWordsEncoder:
    """Words hashed to 256 dimensions: texts sharing words are similar. Fast and offline, for tests."""

    def __init__(self):
        self.batches = []

    def encode(self, texts):
        self.batches.append(len(texts))
        vectors = np.zeros((len(texts), 256), np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(",", " ").replace(".", " ").split():
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 256] += 1
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def test_stand_in_judges_by_the_persona_s_taste():
    encoder = BagOfWordsEncoder()
    judge = PersonaJudgeStandIn(encoder=encoder)
    fur_lover = Persona("fur", "You love fur.", likes=("fluffy fur", "kitten"), dislikes=("slimy skin", "frog"))
    skin_lover = Persona("skin", "You love frogs.", likes=("slimy skin", "frog"), dislikes=("fluffy fur", "kitten"))
    captions = ["A kitten with fluffy fur.", "A frog with slimy skin."]
    by_fur_lover = judge_captions(judge, fur_lover, captions)
    by_skin_lover = judge_captions(judge, skin_lover, captions)
    assert by_fur_lover["cute"].tolist() == [1.0, 0.0]
    assert by_skin_lover["cute"].tolist() == [0.0, 1.0]
    assert by_fur_lover["score"][0] > by_fur_lover["score"][1]
    assert encoder.batches[0] == len(captions)  # the captions were embedded in one batch first
    control = judge_captions(judge, NO_PERSONA, ["A sweet, cuddly little kitten.", "An ugly, scary frog."])
    assert control["cute"].tolist() == [1.0, 0.0]


# --- pixel students -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pictures():
    creatures = generate_creatures(500, seed=11)
    return creatures, PixelFeatures().transform(creatures.images)


def test_pixel_features_are_deterministic_and_check_their_input(pictures):
    creatures, features = pictures
    assert features.shape[0] == 500 and np.isfinite(features).all()
    assert np.array_equal(PixelFeatures().transform(creatures.images[:5]), features[:5])
    with pytest.raises(ValueError, match="shaped"):
        PixelFeatures().transform(creatures.images[:, :, :, 0])
    with pytest.raises(ValueError, match="multiple"):
        PixelFeatures().transform(creatures.images[:, :60, :60])


@pytest.mark.parametrize("kind", STUDENT_KINDS)
def test_students_learn_a_visible_taste_and_not_a_shuffled_one(pictures, kind):
    creatures, features = pictures
    # A taste the pictures show: furry animals are cute. Some verdicts unparsed (NaN): left out of training.
    verdicts = creatures.traits["covering"].eq("fur").to_numpy(float)
    verdicts[::17] = np.nan
    train, test = slice(0, 350), slice(350, None)
    student = fit_student(kind, features[train], verdicts[train], seed=0)
    truth = creatures.traits["covering"].eq("fur").to_numpy()[test]
    assert roc_auc_score(truth, cute_probability(student, features[test])) > 0.9
    # A shuffled student learns some random function of the pictures: near chance on average over shuffles.
    shuffled = [roc_auc_score(truth, cute_probability(fit_student(kind, features[train], verdicts[train], seed=seed,
                                                                  shuffle_labels=True), features[test]))
                for seed in range(5)]
    assert abs(np.mean(shuffled) - 0.5) < 0.1 and max(shuffled) < 0.8


def test_a_teacher_with_one_verdict_makes_a_one_verdict_student(pictures):
    _, features = pictures
    student = fit_student("XGBoost", features[:50], np.ones(50), seed=0)
    assert isinstance(student, OneVerdictStudent)
    assert (cute_probability(student, features[50:60]) == 1.0).all()
    with pytest.raises(ValueError, match="unknown student kind"):
        fit_student("nearest neighbour", features[:50], np.r_[np.ones(25), np.zeros(25)], seed=0)


def test_held_out_split_partitions_the_rows_by_the_books_seeded_generator():
    rows = np.arange(3, 300, 2)
    train, test = held_out_split(rows, 0.33, seed=7)
    assert len(test) == round(0.33 * len(rows)) and np.array_equal(np.sort(np.r_[train, test]), rows)
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    # The same pictures a permutation by np.random.default_rng(seed) holds out, however many there are.
    assert np.array_equal(test, np.sort(np.random.default_rng(7).permutation(rows)[:len(test)]))
    assert not np.array_equal(held_out_split(rows, 0.33, seed=8)[1], test)


# --- the matrix statistics ------------------------------------------------------------------------


def test_rank_statistics_match_the_reference_implementations():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, (3, 60)).astype(float)   # many ties
    labels = rng.random((3, 60)) < 0.4
    for row in range(3):
        assert auc_by_row(scores, labels)[row] == pytest.approx(roc_auc_score(labels[row], scores[row]))
    assert np.isnan(auc_by_row(scores[:1], np.ones((1, 60))))[0]
    # Every bootstrap replicate is a statistic of its resampled pictures, as scipy computes it from them.
    students = {"a": scores[0], "b": rng.normal(size=60)}
    verdicts = {"t": labels[1].astype(float)}
    teacher_scores = {"t": scores[2]}
    matrices = agreement_matrices(students, verdicts, teacher_scores, n_resamples=5, seed=4)
    resamples = np.random.default_rng(4).integers(0, 60, (5, 60))
    for r, rows in enumerate(resamples):
        for i, student in enumerate(students.values()):
            assert matrices["ROC-AUC"].replicates[r, i, 0] == pytest.approx(roc_auc_score(labels[1][rows], student[rows]))
            assert matrices["Spearman"].replicates[r, i, 0] == pytest.approx(spearmanr(student[rows], scores[2][rows]).statistic)


def test_extraction_index_and_matrix_correlation_on_known_matrices():
    assert extraction_index(np.array([[1.0, 0.5], [0.5, 1.0]])) == pytest.approx(0.5)
    assert extraction_index(np.array([[0.9, 0.6, 0.3], [0.6, 0.9, 0.3], [0.3, 0.3, 0.9]])) == pytest.approx(0.9 - 0.4)
    with pytest.raises(ValueError, match="square"):
        extraction_index(np.ones((2, 3)))
    a = np.array([[1, 2, 3], [4, 1, 6], [7, 8, 1]], float)
    assert offdiagonal_correlation(a, 2 * a + 5) == pytest.approx(1.0)
    assert offdiagonal_correlation(a, -a) == pytest.approx(-1.0)


def _synthetic_class(n_teachers=4, n=400, noise=0.3, copy_of=None, seed=0):
    """Teachers with independent tastes; each student is its teacher's taste plus noise (or all copy one teacher)."""
    rng = np.random.default_rng(seed)
    names = [f"persona {k}" for k in range(n_teachers)]
    taste = {name: rng.normal(size=n) for name in names}
    verdicts = {name: (taste[name] > 0).astype(float) for name in names}
    scores = {name: np.clip(np.round(5 + 2 * taste[name]), 0, 10) for name in names}
    students = {name: (taste[copy_of or name] + noise * rng.normal(size=n)) for name in names}
    return students, verdicts, scores, names


def test_matrix_recovers_a_known_persona_transfer():
    students, verdicts, scores, names = _synthetic_class()
    matrices = agreement_matrices(students, verdicts, scores, n_resamples=300, seed=1)
    auc = matrices["ROC-AUC"]
    assert auc.value.shape == (4, 4)
    assert (np.diag(auc.value) > 0.9).all()
    assert np.abs(auc.value[~np.eye(4, dtype=bool)] - 0.5).max() < 0.12
    assert (auc.low <= auc.value).all() and (auc.value <= auc.high).all()
    assert (np.diag(matrices["Spearman"].value) > 0.85).all()
    assert auc.cell("persona 2", "persona 2").value == auc.value[2, 2]
    assert auc.value[1, 3] == pytest.approx(roc_auc_score(verdicts["persona 3"], students["persona 1"]))
    assert matrices["Spearman"].value[2, 0] == pytest.approx(spearmanr(students["persona 2"], scores["persona 0"]).statistic)
    test = extraction_test(auc, names)
    # Diagonal ≈ 0.95, off-diagonal ≈ 0.5: the index is about 0.45 and no other matching does as well.
    assert 0.35 < test.index.value < 0.5 and test.index.low > 0.3
    assert test.exact and test.n_permutations == 24 and test.p_value == pytest.approx(1 / 24)


def test_matrix_finds_no_transfer_when_every_student_copies_one_teacher():
    students, verdicts, scores, names = _synthetic_class(copy_of="persona 0", seed=3)
    test = extraction_test(agreement_matrices(students, verdicts, scores, n_resamples=300, seed=1)["ROC-AUC"], names)
    assert abs(test.index.value) < 0.05 and test.index.low < 0 < test.index.high
    assert test.p_value > 0.2


def test_extraction_p_value_counts_the_matchings_at_least_as_good_as_the_true_one():
    names = ["a", "b", "c"]
    # Traces of the 6 row orders: true 1; (b, a, c) 11; (b, c, a) and (c, a, b) 5; the other two 0.
    value = np.array([[0, 5, 0], [5, 0, 0], [0, 0, 1.0]])
    test = extraction_test(AgreementMatrix("ROC-AUC", names, names, value, value, value, value[None], 10), names)
    assert test.exact and test.n_permutations == 6 and test.p_value == pytest.approx(4 / 6)


def test_large_classes_are_tested_by_sampled_permutations():
    students, verdicts, scores, names = _synthetic_class(n_teachers=9, n=150, seed=4)
    test = extraction_test(agreement_matrices(students, verdicts, scores, n_resamples=50)["ROC-AUC"], names,
                           n_permutations=2000)
    assert not test.exact and test.p_value == pytest.approx(1 / 2001)


def test_agreement_refuses_missing_or_mismatched_values():
    students, verdicts, scores, names = _synthetic_class(n=50)
    verdicts["persona 1"][3] = np.nan
    with pytest.raises(ValueError, match="drop unparsed"):
        agreement_matrices(students, verdicts, scores, n_resamples=10)
    students, verdicts, scores, names = _synthetic_class(n=50)
    students["persona 0"] = students["persona 0"][:40]
    with pytest.raises(ValueError, match="one value per"):
        agreement_matrices(students, verdicts, scores, n_resamples=10)


def test_an_undefined_agreement_makes_the_extraction_test_undefined_not_significant():
    names = ["a", "b", "c"]
    value = np.eye(3) * 0.4 + 0.5
    value[1, 2] = np.nan  # a judge that gave one verdict to every held-out picture: no ROC-AUC
    test = extraction_test(AgreementMatrix("ROC-AUC", names, names, value, value, value, value[None], 10), names)
    assert math.isnan(test.index.value) and math.isnan(test.p_value)
    assert claim("x", shown=False, evidence="e", teacher="t", decidable=False)["status"] == "inconclusive"


def test_cell_contrast_is_the_difference_of_cell_means_with_the_joint_bootstrap_interval():
    rng = np.random.default_rng(0)
    truth = rng.random(200) > 0.5
    students = {"a": truth + rng.normal(0, 0.3, 200), "b": rng.normal(0, 1, 200)}
    teachers = {"a": truth.astype(float), "b": (rng.random(200) > 0.5).astype(float)}
    matrix = agreement_matrices(students, teachers, {k: v.copy() for k, v in teachers.items()}, 300, 1)["ROC-AUC"]
    contrast = cell_contrast(matrix, plus=[("a", "a")], minus=[("a", "b")])
    assert contrast.value == pytest.approx(matrix.value[0, 0] - matrix.value[0, 1])
    assert contrast.low > 0.2  # a student of its own teacher, far above chance against the other
    null = cell_contrast(matrix, plus=[("b", "a")], minus=[("b", "b")])
    assert null.low < 0 < null.high


def test_resamples_where_a_statistic_is_undefined_are_left_out_and_counted():
    # One cute picture in six: a resample that misses it (about a third do) has no ROC-AUC for that teacher.
    rng = np.random.default_rng(5)
    names = ["a", "b", "c"]
    students = {name: rng.normal(size=6) for name in names}
    verdicts = {"a": np.array([1.0, 0, 0, 0, 0, 0]), "b": np.array([1.0, 1, 1, 0, 0, 0]),
                "c": np.array([0.0, 1, 0, 1, 0, 1])}
    scores = {name: rng.normal(size=6) for name in names}
    auc = agreement_matrices(students, verdicts, scores, n_resamples=200, seed=2)["ROC-AUC"]
    undefined = np.isnan(auc.replicates).any(axis=(1, 2))
    assert 20 < auc.undefined == undefined.sum() < 200
    # The intervals are over the defined resamples only, as before.
    first_cell = auc.replicates[:, 0, 0]
    assert auc.low[0, 0] == pytest.approx(np.quantile(first_cell[~np.isnan(first_cell)], 0.025))
    test = extraction_test(auc, names)
    assert test.undefined == undefined.sum() and np.isfinite(test.index.low)
    students, verdicts, scores, names = _synthetic_class(n=100)
    defined = agreement_matrices(students, verdicts, scores, n_resamples=50)["ROC-AUC"]
    assert defined.undefined == 0 and extraction_test(defined, names).undefined == 0
