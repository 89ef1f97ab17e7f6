"""The game of personality: judging, the stand-in judge, pixel students, the matrix statistics, the like-with-like
contrasts and the synthetic judges."""
import asyncio
import hashlib
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from eep_utils.book.report import claim
from eep_utils.chat.types import ChatAnswer
from eep_utils.personality.agreement import (AgreementMatrix, agreement_matrices, auc_by_row, cell_contrast,
                                             extraction_index,
                                             extraction_test, offdiagonal_correlation)
from eep_utils.personality.contrasts import (judge_contrast, matching_test, persona_indices, pooled_over_splits,
                                             rank_correlations, student_contrasts)
from eep_utils.personality.creatures import generate_creatures
from eep_utils.personality.judge import PersonaJudgeStandIn
from eep_utils.personality.judging import GENERIC_DISLIKES, GENERIC_LIKES, judge_captions, request_for
from eep_utils.personality.students import (STUDENT_KINDS, OneVerdictStudent, PixelFeatures, cute_probability,
                                            cuter_half, fit_student, held_out_split)
from eep_utils.personality.synthetic import synthetic_judges, taste_scores, trait_design
from eep_utils.personality.training import make_splits
from eep_utils.personas import Voice

# --- judging -------------------------------------------------------------------------------------


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
        return self.answers[caption]


def answer(text, alternatives):
    top = [{"token": token, "logprob": math.log(p)} for token, p in alternatives.items()]
    chosen = {"token": text, "logprob": math.log(alternatives[text]), "top_logprobs": top}
    return ChatAnswer(text, "m", logprobs=[chosen])


def test_judge_captions_reads_every_spelling_and_keeps_the_answers_in_caption_order():
    answers = {"a": answer("No", {"No": 0.4, " yes": 0.1, "Yes": 0.1, "This": 0.4}),
               "b": answer(" yes", {" yes": 0.5, "no": 0.3, "The": 0.2}),
               "c": ChatAnswer("This creature is", "m"),
               "d": ChatAnswer('{"cute": true, "score": 7}', "m")}  # the stand-in's kind of answer
    table = judge_captions(CannedTeacher(answers), Voice("aquarist", "you-are"), list(answers))
    assert table["answer"].tolist() == ["No", " yes", "This creature is", '{"cute": true, "score": 7}']
    assert table["cute"].fillna(-1).tolist() == [0.0, 1.0, -1, 1.0]
    assert table["p_cute"].iloc[:2].tolist() == pytest.approx([0.2 / 0.6, 0.5 / 0.8])
    assert table["mass"].iloc[:2].tolist() == pytest.approx([0.6, 0.8])
    assert math.isnan(table["p_cute"][2]) and table["p_cute"][3] == 0.7 and math.isnan(table["mass"][3])


def test_judge_captions_works_inside_a_running_event_loop():
    # As in a Jupyter kernel, where asyncio.run cannot be called directly.
    async def inside():
        return judge_captions(CannedTeacher({"a": ChatAnswer("yes", "m")}), Voice("no_persona", "imagine"), ["a"])

    assert asyncio.run(inside())["cute"].tolist() == [1.0]


def test_the_control_is_its_neutral_message_for_a_chatbot_and_generic_anchors_for_a_stand_in():
    chatbot, stand_in = CannedTeacher({}), CannedTeacher({}, is_chatbot=False)
    control = Voice("no_persona", "you-are", 2)
    asked = request_for(chatbot, control, "A snake.").messages[0][1]
    assert asked.splitlines() == ["You are an AI assistant.",
                                  "Judge every creature by your own taste, not by what most people would say."]
    system = request_for(stand_in, control, "A snake.").messages[0][1].splitlines()
    assert system[0] == "You are an AI assistant." and system[-1].startswith("Judge every creature")
    assert f"You find cute: {', '.join(GENERIC_LIKES)}" in system
    assert f"You do not find cute: {', '.join(GENERIC_DISLIKES)}" in system
    persona = Voice("herpetologist", "imagine", 1)
    assert request_for(stand_in, persona, "A snake.") == request_for(chatbot, persona, "A snake.")


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
    captions = ["A kitten with fluffy fur and huge eyes.", "A slender snake with scales."]
    by_child = judge_captions(judge, Voice("five_year_old", "you-are"), captions)
    by_herpetologist = judge_captions(judge, Voice("herpetologist", "imagine", 2), captions)
    assert by_child["cute"].tolist() == [1.0, 0.0]
    assert by_herpetologist["cute"].tolist() == [0.0, 1.0]
    assert by_child["p_cute"][0] > by_child["p_cute"][1]
    assert encoder.batches[0] == len(captions)  # the captions were embedded in one batch first
    control = judge_captions(judge, Voice("no_persona", "you-are"), ["A sweet, cuddly little kitten.",
                                                                     "An ugly, scary frog."])
    assert control["cute"].tolist() == [1.0, 0.0]


def test_cuter_half_splits_at_the_judge_s_own_median_and_keeps_unknowns():
    labels = cuter_half([0.1, 0.2, 0.3, np.nan, 0.4])
    assert labels[:3].tolist() == [0.0, 0.0, 1.0] and math.isnan(labels[3]) and labels[4] == 1.0


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


# --- like with like: the persona index, its matching test, splits pooled -----------------------------


def test_persona_index_is_diagonal_minus_off_diagonal_on_stacks_of_matrices():
    m = np.array([[1.0, 0.2], [0.4, 0.8]])
    assert persona_indices(m) == pytest.approx(0.9 - 0.3)
    assert persona_indices(np.stack([m, m.T])).tolist() == pytest.approx([0.6, 0.6])
    with pytest.raises(ValueError, match="square"):
        persona_indices(np.ones((2, 3)))


def test_rank_correlations_are_spearman_on_each_resample():
    rng = np.random.default_rng(1)
    first, second = rng.normal(size=(3, 40)), rng.normal(size=(2, 40))
    rows = np.vstack([np.arange(40), rng.integers(0, 40, 40)])
    values = rank_correlations(first, second, rows)
    assert values.shape == (2, 3, 2)
    for r in range(2):
        for i in range(3):
            for j in range(2):
                assert values[r, i, j] == pytest.approx(spearmanr(first[i, rows[r]], second[j, rows[r]])[0])


def test_the_matching_test_enumerates_matchings_within_each_template():
    best = np.eye(3) + 0.1  # the true matching is the only best one in both templates
    test = matching_test([best, best])
    assert test.exact and test.n_matchings == 36 and test.p_value == pytest.approx(1 / 36)
    flat = np.ones((3, 3))  # every matching alike: p = 1
    assert matching_test([flat]).p_value == 1.0
    # Too many combinations to enumerate: drawn, the observed counted once more.
    sampled = matching_test([np.eye(6)] * 2, seed=3, limit=500)
    assert not sampled.exact and sampled.n_matchings == 501 and 1 / 501 <= sampled.p_value < 0.02
    assert math.isnan(matching_test([np.full((3, 3), np.nan)]).p_value)


def test_a_persona_that_matches_its_own_rewording_is_found_and_a_template_alone_is_not():
    rng = np.random.default_rng(0)
    tastes = rng.normal(size=(4, 200))
    # Each template adds its own shared habit to every judge: within-template comparisons cancel it.
    first = {t: tastes + shift * rng.normal(size=200) + 0.5 * rng.normal(size=(4, 200))
             for t, shift in (("a", 1.0), ("b", 3.0))}
    second = {t: tastes + shift * rng.normal(size=200) + 0.5 * rng.normal(size=(4, 200))
              for t, shift in (("a", 1.0), ("b", 3.0))}
    found = judge_contrast(first, second, n_resamples=200, seed=0)
    assert found.pooled.low > 0 and found.test.p_value == pytest.approx(1 / 576)
    assert set(found.by_template) == {"a", "b"} and found.matrices["a"].shape == (4, 4)
    shared = rng.normal(size=200)  # no persona: one function, each judge its own noise
    alike = judge_contrast({"a": shared + rng.normal(size=(4, 200))}, {"a": shared + rng.normal(size=(4, 200))},
                           n_resamples=200, seed=0)
    assert alike.pooled.low < 0 < alike.pooled.high


def test_pooled_over_splits_averages_the_splits_and_pools_their_resamples():
    per_split = np.array([[0.1, 0.0, 0.2, np.nan], [0.3, 0.2, 0.4, 0.3]])
    estimate = pooled_over_splits(per_split, n=30)
    assert estimate.value == pytest.approx(0.2) and estimate.n == 30 and estimate.undefined == 1
    assert estimate.low == pytest.approx(np.quantile([0.0, 0.2, 0.2, 0.4, 0.3], 0.025))


def test_student_contrasts_read_the_index_the_wording_control_and_the_generic_habit():
    students, judges = ["p1", "q1"], ["p1", "q1", "p2", "q2", "c1"]
    value = np.array([[0.9, 0.5, 0.8, 0.6, 0.7],
                      [0.4, 0.7, 0.5, 0.6, 0.5]])
    matrix = AgreementMatrix("ROC-AUC", students, judges, value, value, value, value[None], 10)
    contrasts = student_contrasts(matrix, ["p1", "q1"], ["p2", "q2"], "c1")
    assert contrasts["index"][0] == pytest.approx(0.8 - 0.45)
    assert contrasts["wording"][0] == pytest.approx(0.7 - 0.55)
    assert contrasts["generic"][0] == pytest.approx(0.8 - 0.6)
    assert len(contrasts["index"]) == 2  # the point, then the one resample


def test_splits_differ_from_one_another_and_repeat_with_their_seed():
    splits = make_splits(90, 3, 0.33, seed=5)
    assert all(len(s.test) == 30 and len(np.intersect1d(s.train, s.test)) == 0 for s in splits)
    assert len({tuple(s.test) for s in splits}) == 3 and len({s.seed for s in splits}) == 3
    assert [tuple(s.test) for s in make_splits(90, 3, 0.33, seed=5)] == [tuple(s.test) for s in splits]


# --- synthetic judges ------------------------------------------------------------------------------


def test_a_synthetic_taste_belongs_to_the_persona_and_keeps_the_judge_s_own_values():
    traits = generate_creatures(60, seed=3).traits
    design = trait_design(traits)
    assert np.allclose(design.mean(axis=0), 0) and np.allclose(design.std(axis=0), 1)
    tastes = taste_scores(design, ["aquarist", "newton"], seed=1)
    rng = np.random.default_rng(2)
    real = {Voice(p, t, w): rng.random(60) for p in ("aquarist", "newton", "no_persona")
            for t in ("you-are", "imagine") for w in (1, 2)}
    assert all(np.array_equal(values, real[voice]) for voice, values in synthetic_judges(real, tastes, 0.0).items())
    pure = synthetic_judges(real, tastes, 1.0)
    for voice, values in pure.items():
        assert sorted(values) == pytest.approx(sorted(real[voice]))  # the judge's own scale and spread
        if voice.persona == "no_persona":
            assert np.array_equal(values, real[voice])
        else:  # ordered by its persona's taste, in every template and wording
            assert spearmanr(values, tastes[voice.persona])[0] == pytest.approx(1.0)
    voice = Voice("aquarist", "imagine", 2)
    assert synthetic_judges(real, tastes, 0.5)[voice] == pytest.approx(0.5 * real[voice] + 0.5 * pure[voice])
    with pytest.raises(ValueError, match="share"):
        synthetic_judges(real, tastes, 1.5)
    with pytest.raises(ValueError, match="traits"):
        trait_design(pd.DataFrame({"size": [0.1, 0.2]}))
