"""Chapter 04 · Embodied students: imitation carries a teacher's CartPole behaviour into a body.

A student senses CartPole's four numbers directly (never the text, never the reward) and learns only to
imitate a teacher's recorded decisions. The teachers are chapter 02's: each persona of `params.personas`
in the template "you-are" and wording 1 (Newton's is the 2023 prompt; `no_persona` is the explicit
neutral control, "a helpful assistant"). The experiment, top to bottom:

1. The 2023 student re-examined (needs the 2023 recordings; without them its claims are not made): its
   training pairs checked against CartPole's dynamics, and its published table reproduced.
2. Students of this build's teachers (chapter 02's rollouts, and the 2023 chat run): four kinds of
   student (five when tuned) trained on whole episodes, validation episodes held out, each played for
   `eval_episodes` episodes against its teacher and the book's random walk (chapter 01's). Agreement on
   held-out episodes is resampled by the prompt sequences they replay, not by decisions.
3. Newton's and the control's students compared text state by text state: the teachers' decisions are
   chapter 02's probes (one question per state), the students' their actions at each state's
   representative observation. Do the students differ where the teachers do?
4. DAgger, where the teacher can still be asked: its labels, like the fidelity labels, are asked as chapter
   02 asks its probes (the voice's system prompt, any casing of left and right, 20 alternatives), one
   question per text state, all recorded in the experiment `04_students`; soft labels where the teacher
   gave log-probabilities.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.cartpole.behaviour import (DisagreementPatterns, disagreement_patterns, disagreement_statement,
                                          follows_teachers)
from eep_utils.cartpole.body import Rollouts
from eep_utils.cartpole.contrasts import prompt_sequences, return_ci
from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023, STUDY_2023
from eep_utils.cartpole.episodes import EpisodeSet, push_consistency
from eep_utils.cartpole.evaluation import (RANDOM_WALK_FILE, RandomWalkBaseline, compared, load_random_walk,
                                           play_episode_from)
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.cartpole.students import (STUDENTS, TUNING_GRIDS, Labeller, agreement_beyond_constant,
                                         assess_student, closed_loop_return, clustered_agreement,
                                         constant_agreement, dagger, split_by_episode, tune_student)
from eep_utils.cartpole.teaching import state_labeller
from eep_utils.chat.types import Teacher, TranscriptMiss, accepts_grammar
from eep_utils.experiments import embodiment
from eep_utils.experiments import teachers as teacher_rollouts
from eep_utils.experiments.base import (ChapterResult, Claim, TeacherFactory, Usability, book_folder,
                                       further_chatbot, headline_row, made_if_missing, teacher_name,
                                       teachers_by_setting, untestable_result)
from eep_utils.experiments.params import StudentsParams, params_for
from eep_utils.personas import Voice
from eep_utils.stats import Estimate, above_zero, proportion_ci
from eep_utils.study2023.fetch import OriginalStudyUnavailable
from eep_utils.study2023.recordings import ORIGINAL_TRAINING_ROWS, OriginalStudy, locate
from eep_utils.study2023.replay import zipped_pair_alignment
from eep_utils.study2023.reproduction import aligned_statement, pairing_statement, reproduction_table

CHAPTER = "04_students"  # also the experiment (transcript) every DAgger and fidelity label is recorded in
NEWTON, CONTROL = "newton", "no_persona"  # the pair whose students are compared
CHATGPT_2023 = "chatgpt_2023"  # the 2023 chat run's demonstrations
STUDENT_KINDS = ("original_xgboost", "xgboost", "logistic", "mlp")
TUNED = "xgboost (tuned)"
EVAL_SEED_OFFSET = 40_000  # students play episodes no teacher and no baseline chapter played
SHOWN_EPISODES = 20  # episodes the animated student plays; the longest is shown
N_RESAMPLES = 2000  # bootstrap resamples of every interval the chapter computes
PUBLISHED, HERE = "XGBoost student, published model", "played here"
UNIT_SEQUENCES = "95% CI over held-out prompt sequences"
UNIT_STATES = "95% CI over text states"
FOLLOWS_STATEMENT = "The XGBoost student of Newton differs from the control's where the teachers do"


def run(params: StudentsParams, artifacts_dir: str | Path, teachers: TeacherFactory | None = None) -> ChapterResult:
    """Chapter 04's experiment (see the module docstring): students trained, played, compared and claimed."""
    if not {NEWTON, CONTROL} <= set(params.personas):
        raise ValueError(f"04_students: personas {params.personas} must include {NEWTON!r} and {CONTROL!r}, whose "
                         "students the chapter compares; add them in notebooks/parameters.yaml")
    teachers = teachers or teachers_by_setting(params.teacher)
    eval_seed = params.seed + EVAL_SEED_OFFSET
    notes: list[str] = []
    result = ChapterResult(CHAPTER, key_result="", notes=notes)
    random_walk = _random_walk(params, artifacts_dir, notes)

    # 1. The 2023 student, re-examined: its pairs against CartPole's dynamics, its table reproduced. It belongs
    # to the 2023 recordings, not to a chatbot: on the model ladder only the book's own chatbot's run makes it.
    study, chat, study_problem = _study_2023() if not further_chatbot(artifacts_dir) else (None, None, "")
    if study is not None:
        pairs = check_2023_pairs(study, chat)
        reproduction = reproduction_table(study, random_walk, params.reproduction_episodes, eval_seed,
                                          replay_frames=params.replay_frames)
        result.tables["push_check"] = pairs.table
        result.figures["reproduction"] = reproduction
        result.details["The 2023 table reproduced, every agent"] = _reproduction_display(reproduction).reset_index()
        result.sentences["pairing"] = pairs.paragraph
        result.sentences["why_numbers_differ"] = why_numbers_differ(reproduction, params.replay_frames)
        played_here = reproduction[reproduction.origin == HERE].set_index("agent")["mean"]
        result.numbers.update(own_action_rows=pairs.own_action_rows, rows_2023=pairs.rows,
                              aligned_return=float(played_here["XGBoost student, aligned pairs"]),
                              published_arrays_return=float(played_here["XGBoost student retrained as in 2023"]))
    elif further_chatbot(artifacts_dir):
        result.sentences["pairing"] = "The 2023 student is re-examined once, with the book's own chatbot's run."
        result.sentences["why_numbers_differ"] = ""
    else:
        result.sentences["pairing"] = f"**The reproduction was skipped in this build:** {study_problem}"
        result.sentences["why_numbers_differ"] = ("Without the 2023 recordings this build reproduces no part of "
                                                  "the published table.")

    # 2. Students of chapter 02's teachers, each played against its teacher and the random walk; the personas'
    # students (and DAgger's, section 4) asked about by their teachers.
    demonstrations, probes = _chapter_02(params, artifacts_dir, notes, teachers)
    taught = [demonstrations[persona] for persona in params.personas]
    usability = Usability.of("CartPole decisions its students would learn from",
                             [answer for d in taught for answer in d.decisions["answer"]],
                             [status != "fallback" for d in taught for status in d.decisions["status"]])
    if all(d.is_chatbot for d in taught) and not usability.sufficient:
        teacher = demonstrations[NEWTON].teacher
        return untestable_result(CHAPTER, [agreement_statement(teacher), FOLLOWS_STATEMENT], usability, teacher)
    labels = ask(params, teachers, demonstrations, random_walk.returns)
    asked = labels.teachers
    if chat is not None:
        demonstrations[CHATGPT_2023] = chat
    clusters = {name: prompt_sequences(episodes, shared_history=name == CHATGPT_2023)
                for name, episodes in demonstrations.items()}
    trained = {name: labels.trained[name] if name in labels.trained else
               train_students(episodes, clusters[name], None, random_walk.returns, params, eval_seed)
               for name, episodes in demonstrations.items()}
    result.details["The demonstrations each student learns from"] = pd.DataFrame([
        {"demonstrations of": name, "teacher": d.teacher, "chatbot": d.is_chatbot, "episodes": d.n_episodes,
         "distinct prompt sequences": len(np.unique(clusters[name])), "decisions": len(d.decisions)}
        for name, d in demonstrations.items()])
    result.details["Every student, trained and played"] = _students_display(trained).reset_index()
    result.figures["returns"] = _returns_figure_data(demonstrations, clusters, trained, params.seed)
    result.numbers.update(eval_episodes=params.eval_episodes, walk_episodes=len(random_walk.returns))

    # 3. Do Newton's and the control's students differ where their teachers do? Unit: the text state.
    decisions = {persona: probe_decisions(probes, main_voice(persona)) for persona in (NEWTON, CONTROL)}
    patterns = {kind: disagreement_patterns(decisions[NEWTON], decisions[CONTROL],
                                            trained[NEWTON].students[kind].predict,
                                            trained[CONTROL].students[kind].predict, n_resamples=N_RESAMPLES,
                                            seed=params.seed)
                for kind in trained[NEWTON].students}
    taught = taught_states(patterns["xgboost"], demonstrations[NEWTON], demonstrations[CONTROL])
    result.tables["disagreement"] = _disagreement_display(patterns, taught)
    pattern = patterns["xgboost"]
    same_way = disagreement_statement(pattern, "Newton", "the control", "XGBoost students")
    result.sentences["same_way"] = same_way
    consistency = {persona: rollouts_repeat_probes(demonstrations[persona], decisions[persona])
                   for persona in (NEWTON, CONTROL)}
    result.numbers.update(states_compared=pattern.teachers.n, states_taught=taught,
                          teachers_differ=pattern.teachers_differ_in)

    # 4. DAgger where the teacher can be asked again (asked in section 2); soft labels where it gave
    # log-probabilities.
    histories = labels.dagger
    notes += labels.notes
    result.figures["dagger"] = {"histories": histories, "teachers": {p: asked[p].label for p in histories}}
    with_probabilities = {name: d for name, d in demonstrations.items() if np.isfinite(d.soft_labels()).any()}
    result.sentences["soft_labels"] = _soft_labels_sentence(with_probabilities)
    if with_probabilities:
        result.details["Students of hard and of soft labels"] = soft_label_students(
            with_probabilities, params.eval_episodes, eval_seed).reset_index()
    result.figures["student_episode"] = longest_student_episode(demonstrations[params.personas[0]],
                                                                params.personas[0], eval_seed)

    # Claims, the key result and what the chapter concludes.
    newton = trained[NEWTON]
    student = newton.students["xgboost"].predict
    agrees = clustered_agreement(student, *newton.held_out, n_resamples=N_RESAMPLES, seed=params.seed)
    beyond = agreement_beyond_constant(student, *newton.held_out, n_resamples=N_RESAMPLES, seed=params.seed)
    constant = constant_agreement(newton.held_out[1])
    newton_return = newton.rollouts["xgboost"].summary()
    teacher_a, teacher_b = demonstrations[NEWTON], demonstrations[CONTROL]
    newton_teacher = return_ci(teacher_a.returns(), clusters[NEWTON], N_RESAMPLES, params.seed)
    chatbot = teacher_a.is_chatbot and teacher_b.is_chatbot
    who = teacher_name(teacher_a.teacher, teacher_a.is_chatbot)
    result.claims.append(_claim(
        agreement_statement(teacher_a.teacher),
        tested=teacher_a.is_chatbot, verdict=above_zero(beyond),
        evidence=(f"agreement {agrees.value:.2f}, the constant {constant:.2f}; the difference {beyond.value:.2f} "
                  f"[{beyond.low:.2f}, {beyond.high:.2f}] ({UNIT_SEQUENCES}, {beyond.n} of them)"),
        teacher=teacher_a.teacher))
    follows = follows_teachers(pattern)
    if not chatbot:
        result.claims.append(Claim.not_tested(FOLLOWS_STATEMENT, same_way, teacher_a.teacher))
    elif 0 < pattern.teachers.value < 1:
        result.claims.append(Claim.decided(FOLLOWS_STATEMENT, follows, same_way, teacher_a.teacher))
    else:  # teachers that never (or always) differ leave no pattern for students to follow
        result.claims.append(Claim.not_testable(FOLLOWS_STATEMENT, same_way, teacher_a.teacher))
    if study is not None:  # the 2023 part's claims are made only with its recordings
        chatgpt, walk = trained[CHATGPT_2023].rollouts["original_xgboost"].summary(), random_walk.summary()
        result.claims.append(Claim.decided(
            "A student trained on correctly paired 2023 ChatGPT decisions beats a random walk",
            _above(compared(chatgpt, walk)), f"return {chatgpt} vs random walk {walk} (95% CIs over episodes)",
            chat.teacher))
        aligned, aligned_better = aligned_statement(reproduction)
        result.claims.append(Claim.decided(
            "The 2023 recipe does better on correctly paired frames than on the published arrays",
            aligned_better, aligned, chat.teacher))
        result.sentences["study_statement"] = f"{pairs.unrelated_sentence} {aligned}."
    elif further_chatbot(artifacts_dir):
        result.sentences["study_statement"] = "The 2023 student is re-examined with the book's own chatbot's run."
    else:
        result.sentences["study_statement"] = "The 2023 recordings were not available to this build."
    result.headline = best_students(demonstrations, trained)
    result.sentences["stand_in_note"] = _stand_in_note(demonstrations)
    result.numbers.update(agree_newton=_percent(agrees), agree_beyond_newton=_percent(beyond),
                          constant_newton=100 * constant)
    result.key_result = (
        f"The XGBoost student of {teacher_a.teacher} as Newton agrees with it on **{100 * agrees.value:.0f}%** of "
        f"held-out decisions (95% CI {100 * agrees.low:.0f}–{100 * agrees.high:.0f}% over {agrees.n} held-out "
        f"prompt sequences; always pushing its more common way: {100 * constant:.0f}%) and survives "
        f"{newton_return.value:.1f} frames (mean over {newton_return.n} episodes) against the teacher's "
        f"{newton_teacher.value:.1f}. For Newton's and the control's students, {same_way}.")
    result.caveat = caveat(chatbot, who, pattern, taught, consistency, beyond)
    return result


def _percent(estimate: Estimate) -> Estimate:
    return Estimate(100 * estimate.value, 100 * estimate.low, 100 * estimate.high, estimate.n,
                    estimate.level, estimate.undefined)


# --- Earlier chapters' artefacts --------------------------------------------------------------------------


def _random_walk(params: StudentsParams, artifacts_dir, notes: list[str]) -> RandomWalkBaseline:
    """Chapter 01's random walk, the book's one baseline (played with the 2023 decision hold): every chatbot's
    students are compared with the same walk, the one in the book's own artefacts folder."""
    artifacts_dir = book_folder(artifacts_dir)
    notes += made_if_missing([Path(artifacts_dir) / RANDOM_WALK_FILE], embodiment.CHAPTER,
                             lambda: embodiment.run(params_for(embodiment.CHAPTER, params.quick), artifacts_dir),
                             params.quick)
    return load_random_walk(artifacts_dir, STEPS_PER_DECISION_2023)


def _chapter_02(params: StudentsParams, artifacts_dir, notes: list[str],
                teachers: TeacherFactory) -> tuple[dict[str, EpisodeSet], pd.DataFrame]:
    """Chapter 02's rollouts of every persona's main voice (artifacts_dir/rollouts/<persona>) and every voice's
    probes (artifacts_dir/probes.parquet), made by chapter 02's experiment if missing."""
    folders = [Path(artifacts_dir) / "rollouts" / persona for persona in params.personas]
    probes = Path(artifacts_dir) / teacher_rollouts.PROBES_FILE
    notes += made_if_missing([*folders, probes], teacher_rollouts.CHAPTER,
                             lambda: teacher_rollouts.run(params_for(teacher_rollouts.CHAPTER, params.quick),
                                                          artifacts_dir, teachers), params.quick)
    return {folder.name: EpisodeSet.load(folder) for folder in folders}, pd.read_parquet(probes)


def _study_2023() -> tuple[OriginalStudy | None, EpisodeSet | None, str]:
    """The 2023 recordings and their chat run, or None and why they are not available to this build."""
    try:
        study = locate()
        return study, study.chat_run(), ""
    except OriginalStudyUnavailable as error:
        return None, None, str(error)


# --- 1. The 2023 student ------------------------------------------------------------------------------------


@dataclass
class PairCheck:
    table: pd.DataFrame  # the push check on the zipped arrays and on the replayed run
    paragraph: str  # what the check and the pairs' alignment show, in words
    unrelated_sentence: str  # how related the published student's training pairs are
    own_action_rows: int  # rows of the 2023 arrays that pair an observation with its own action
    rows: int  # rows of the 2023 arrays


def check_2023_pairs(study: OriginalStudy, chat: EpisodeSet) -> PairCheck:
    """Do the 2023 training pairs obey CartPole's dynamics (a push changes the cart's velocity its way)?

    Checked on the arrays the 2023 student trained on (zipped from the state records and the actions)
    and on the same run rebuilt by replaying its actions."""
    observations, actions = study.original_training_arrays()
    zipped_ok = push_consistency(observations[:-1], actions[:-1], observations[1:])
    replayed_ok = chat.dynamics_consistency().dropna().astype(bool).to_numpy()
    alignment = zipped_pair_alignment(study.replayed_run("2023-03-03"), len(observations))
    rows = []
    for pairs, passed in {"2023 training arrays (zipped)": zipped_ok,
                          "the same run, replayed and aligned": replayed_ok}.items():
        e = proportion_ci(int(passed.sum()), len(passed))
        rows.append({"pairs": pairs, "pass the push check (%)": f"{100 * e.value:.1f}",
                     "95% CI (%)": f"[{100 * e.low:.1f}, {100 * e.high:.1f}]", "pairs checked": e.n})
    own_action = int((alignment["lag"] == 0).sum())
    trained_on = alignment["same_episode"].iloc[:ORIGINAL_TRAINING_ROWS]
    push_sentence, unrelated_sentence, _ = pairing_statement(zipped_ok, replayed_ok, trained_on)
    paragraph = (f"Only {own_action} of the {len(observations)} rows of the 2023 arrays pair an observation with "
                 "its own action. The cause: the recording script appended an extra state record at every reset, "
                 "so each finished episode shifted the states one row against the actions. "
                 f"{push_sentence} **{unrelated_sentence}** Below, students are trained only on replayed, "
                 "dynamics-checked pairs.")
    return PairCheck(pd.DataFrame(rows).set_index("pairs"), paragraph, unrelated_sentence, own_action,
                     len(observations))


def why_numbers_differ(reproduction: pd.DataFrame, replay_frames: int) -> str:
    """Why the reproduced means differ from the published ones, with every number from the table."""
    def row_of(agent, origin):
        return reproduction[(reproduction.agent == agent) & (reproduction.origin == origin)].iloc[0]

    def mean_of(agent, origin):
        return float(row_of(agent, origin)["mean"])

    chatbot_2023 = row_of("Newton chatbot", "2023 score file")
    as_in_2023 = ""
    if replay_frames:  # the published model replayed frame by frame as in 2023
        as_in_2023 = f", and replayed the 2023 way it scores {mean_of(PUBLISHED, 'replayed as in 2023'):.2f}"
    return ("**Why the numbers differ.** (1) *Decision rhythm:* the 2023 scripts decided on every second frame of "
            "the whole run, so an episode following an odd-length one began by holding the previous push; played "
            f"here with a fresh rhythm per episode, the published model scores {mean_of(PUBLISHED, HERE):.2f} rather "
            f"than its recorded {mean_of('XGBoost student', '2023 score file'):.2f}{as_in_2023}. "
            "(2) *Misaligned pairs:* the 2023 recipe retrained on the same arrays scores "
            f"{mean_of('XGBoost student retrained as in 2023', HERE):.2f}; on the same {ORIGINAL_TRAINING_ROWS} "
            f"frames correctly paired it scores {mean_of('XGBoost student, aligned pairs', HERE):.2f}, and on every "
            f"checked decision of the run {mean_of('XGBoost student, checked decisions', HERE):.2f}. "
            f"(3) *Sampling:* the chatbot's mean rests on {int(chatbot_2023['n'])} episodes: its 95% CI is "
            f"{chatbot_2023['ci_low']:.2f}–{chatbot_2023['ci_high']:.2f}.")


def _reproduction_display(reproduction: pd.DataFrame) -> pd.DataFrame:
    return _formatted(reproduction.drop(columns=["teacher"]),
                      {"mean": "{:.3f}", "ci_low": "{:.2f}", "ci_high": "{:.2f}", "published": "{:.6f}",
                       "p_vs_random": "{:.2g}"}).set_index(["agent", "origin"])


# --- 2. Students of this build's teachers ---------------------------------------------------------------------


@dataclass
class TrainedStudents:
    """One teacher's students: fitted, their table rows, their games, and the teacher's held-out episodes."""

    students: dict  # kind -> fitted student
    rows: dict  # kind -> the students table's row
    rollouts: dict[str, Rollouts]  # kind -> the student's own episodes
    held_out: tuple[np.ndarray, np.ndarray, np.ndarray]  # the validation episodes' observations, actions, clusters
    training_pairs: int


@dataclass
class Labels:
    """Everything chapter 04 asks its teachers, with the students it asked about."""

    teachers: dict[str, Teacher]  # per persona, the teacher asked (the `04_students` experiment)
    trained: dict[str, TrainedStudents]  # per persona, its students, their fidelity labelled by the teacher
    dagger: dict[str, pd.DataFrame]  # per persona, DAgger's history (none where the labels were not recorded)
    notes: list[str]  # which DAgger runs were skipped, and why


def ask(params: StudentsParams, teachers: TeacherFactory, demonstrations: dict[str, EpisodeSet],
        random_returns) -> Labels:
    """Every request chapter 04 sends, and the answers: each persona's teacher (chapter 02's main voice) labels
    the states its students reach on their own (their fidelity) and the states DAgger's students visit. Which
    states those are depends on the students, so they are trained and played here, from chapter 02's
    `demonstrations` of each persona, and assessed against the random walk's `random_returns` (the assessment
    asks nothing)."""
    eval_seed = params.seed + EVAL_SEED_OFFSET
    voices = {persona: main_voice(persona) for persona in params.personas}
    asked = {persona: teachers(CHAPTER, RuleStandIn(persona)) for persona in params.personas}
    labellers = {persona: _labeller(teacher, voices[persona]) for persona, teacher in asked.items()}
    trained = {persona: train_students(demonstrations[persona], prompt_sequences(demonstrations[persona]),
                                       labellers[persona], random_returns, params, eval_seed)
               for persona in params.personas}
    histories, notes = {}, []
    for persona in params.personas:
        X, y, _ = demonstrations[persona].training_pairs(dynamics_checked=True)
        try:
            histories[persona] = dagger(STUDENTS["xgboost"], labellers[persona], X, y,
                                        iterations=params.dagger_iterations,
                                        rollout_episodes=params.dagger_rollout_episodes,
                                        max_new_labels=params.dagger_max_labels, eval_episodes=params.eval_episodes,
                                        seed=eval_seed, progress=False).history
        except TranscriptMiss as error:
            notes.append(f"DAgger for {persona} skipped: the replayed transcripts lack its labels ({error}).")
    return Labels(asked, trained, histories, notes)


def main_voice(persona: str) -> Voice:
    """The voice whose students chapter 04 trains: chapter 02's main template, first wording."""
    return Voice(persona, teacher_rollouts.MAIN_TEMPLATE, teacher_rollouts.MAIN_WORDING)


def _labeller(teacher: Teacher, voice: Voice) -> Labeller:
    """The teacher asked about every text state as chapter 02 asks its probes (one independent question per
    state, in the voice, read the way the model answers); DAgger and fidelity read its answers."""
    label = state_labeller(teacher, voice, teacher_rollouts.answer_protocol(0, accepts_grammar(teacher)))
    return lambda observations: label(observations)[:2]


def train_students(episodes: EpisodeSet, clusters: np.ndarray, label_fn: Labeller | None, random_returns,
                   params: StudentsParams, eval_seed: int) -> TrainedStudents:
    """Every kind of student trained on the teacher's dynamics-checked decisions (whole episodes held out
    for validation), then played and assessed (`assess_student`); fidelity only where `label_fn` can ask.
    `clusters` labels the teacher's episodes (in episode order) by the prompt sequence they replay."""
    X, y, groups = episodes.training_pairs(dynamics_checked=True)
    cluster_of = dict(zip(sorted(episodes.frames["episode"].unique()), clusters, strict=True))
    train, validation = split_by_episode(groups, params.validation_fraction, params.seed)
    held_out = X[validation], y[validation], np.array([cluster_of[episode] for episode in groups[validation]])
    students = {kind: STUDENTS[kind]() for kind in STUDENT_KINDS}
    if params.tune:
        students[TUNED] = tune_student(STUDENTS["xgboost"](), TUNING_GRIDS["xgboost"], X[train], y[train],
                                       groups[train]).best_estimator_
    rows, rollouts = {}, {}
    for kind, student in students.items():
        if not hasattr(student, "classes_"):  # the tuned one is already refitted on the training episodes
            student.fit(X[train], y[train])
        rows[kind], rollouts[kind] = assess_student(student, held_out, episodes.returns(), random_returns,
                                                    eval_episodes=params.eval_episodes, seed=eval_seed,
                                                    label_fn=label_fn, max_labels=params.dagger_max_labels,
                                                    n_resamples=N_RESAMPLES)
    return TrainedStudents(students, rows, rollouts, held_out, len(train))


def _students_display(trained: dict[str, TrainedStudents]) -> pd.DataFrame:
    table = pd.DataFrame([{"teacher": name, "student": kind, "training pairs": t.training_pairs, **row}
                          for name, t in trained.items() for kind, row in t.rows.items()])
    return _formatted(table, {"return": "{:.1f}", "share of teacher's return (%)": "{:.0f}",
                              "agreement on held-out teacher states (%)": "{:.1f}",
                              "fidelity on own states (%)": "{:.1f}",
                              "p vs random walk": "{:.2g}"}).set_index(["teacher", "student"])


def _returns_figure_data(demonstrations: dict[str, EpisodeSet], clusters: dict[str, np.ndarray],
                         trained: dict[str, TrainedStudents], seed: int) -> pd.DataFrame:
    """Per teacher: its return (95% CI over the distinct prompt sequences its episodes replay), then each
    student's (95% CI over its episodes, each from its own starting state)."""
    rows = []
    for name, episodes in demonstrations.items():
        entries = [("teacher", return_ci(episodes.returns(), clusters[name], N_RESAMPLES, seed))]
        entries += [(kind, played.summary()) for kind, played in trained[name].rollouts.items()]
        rows += [{"teacher": name, "who": who, "label": f"{name}: {who}", **e.as_dict()} for who, e in entries]
    return pd.DataFrame(rows)


def best_students(demonstrations: dict[str, EpisodeSet], trained: dict[str, TrainedStudents]) -> list[dict]:
    """Headline rows: each teacher's student with the highest mean return."""
    returns = pd.DataFrame([{"teacher": name, "student": kind, "return": row["return"]}
                            for name, t in trained.items() for kind, row in t.rows.items()])
    best = returns.sort_values("return").groupby("teacher").tail(1).set_index("teacher")
    return [headline_row(f"CartPole return: best student of {name} ({row['student']})",
                         trained[name].rollouts[row["student"]].summary(), demonstrations[name].teacher,
                         demonstrations[name].is_chatbot)
            for name, row in best.iterrows()]


def _stand_in_note(demonstrations: dict[str, EpisodeSet]) -> str:
    stand_ins = [name for name, d in demonstrations.items() if not d.is_chatbot]
    if not stand_ins:
        return "Every teacher here is a chatbot; no stand-in's students are shown."
    return (f"Students of the stand-in teachers ({', '.join(stand_ins)}) show that the imitation machinery works "
            "and how much of a rule's behaviour survives the change of senses (text words to continuous numbers); "
            "they show nothing about a chatbot persona.")


# --- 3. Newton's and the control's students ---------------------------------------------------------------


def probe_decisions(probes: pd.DataFrame, voice: Voice) -> np.ndarray:
    """The voice's decision in every text state as chapter 02's probes read it (1 right, 0 left, NaN where it
    named no direction), in state order."""
    rows = probes[(probes["persona"] == voice.persona) & (probes["template"] == voice.template)
                  & (probes["wording"] == voice.wording)].sort_values("state")
    if rows["state"].tolist() != list(range(STUDY_2023.n_states)):
        raise ValueError(f"chapter 02's probes ({teacher_rollouts.PROBES_FILE}) hold {len(rows)} text states for "
                         f"{voice.label}, not all {STUDY_2023.n_states}: run chapter 02 again")
    return rows["decision"].to_numpy(np.float64)


def taught_states(pattern: DisagreementPatterns, *teachers: EpisodeSet) -> int:
    """How many of the compared text states occur in every teacher's demonstrations (elsewhere a student
    extrapolates)."""
    compared = set(pattern.states["state"])
    for episodes in teachers:
        observations, _, _ = episodes.training_pairs(dynamics_checked=True)
        compared &= set(STUDY_2023.state_index(observations).tolist())
    return len(compared)


def rollouts_repeat_probes(episodes: EpisodeSet, decisions: np.ndarray) -> tuple[int, int]:
    """(states, of) — in how many of the text states the teacher's rollouts visited, where its probe named a
    direction, every decision the rollouts took there is the probe's: a rollout carries two turns of
    history, which can change a temperature-0 answer, and students learn the rollouts."""
    observations, actions, _ = episodes.training_pairs(dynamics_checked=True)
    states = STUDY_2023.state_index(observations)
    visited = [state for state in np.unique(states) if np.isfinite(decisions[state])]
    same = sum(bool(np.all(actions[states == state] == decisions[state])) for state in visited)
    return same, len(visited)


def _disagreement_display(patterns: dict[str, DisagreementPatterns], taught: int) -> pd.DataFrame:
    def percent(e):
        return f"{100 * e.value:.0f} [{100 * e.low:.0f}, {100 * e.high:.0f}]"

    def kappa(e):
        if not np.isfinite(e.value):  # a pattern that is constant has no kappa
            return "undefined"
        if not np.isfinite(e.low):
            return f"{e.value:.2f} (no interval)"
        return f"{e.value:.2f} [{e.low:.2f}, {e.high:.2f}]"

    return pd.DataFrame([{"student": kind, "text states compared": r.teachers.n,
                          "of them in both teachers' demonstrations": taught,
                          f"teachers differ (%, {UNIT_STATES})": percent(r.teachers),
                          f"students differ (%, {UNIT_STATES})": percent(r.students),
                          f"kappa between the patterns ({UNIT_STATES})": kappa(r.pattern),
                          "resamples where kappa is undefined": r.pattern.undefined}
                         for kind, r in patterns.items()]).set_index("student")


def caveat(chatbot: bool, who: str, pattern: DisagreementPatterns, taught: int,
           consistency: dict[str, tuple[int, int]], beyond: Estimate) -> str:
    """What limits the chapter's conclusions, chosen by this build's numbers and naming its chatbot."""
    if not chatbot:
        return ("The teachers here are stand-ins: differences between their students are differences between "
                "rules we wrote. Only a chatbot teacher can show that imitation carries a *persona* into a body, so "
                "the introduction marks these claims \"not tested\" in this build.")
    n, differ = pattern.teachers.n, pattern.teachers_differ_in
    parts = []
    if n == 0:
        parts.append(f"{who} named no direction as both Newton and the control in any text state, so their students "
                     "cannot be compared")
    elif differ == 0:
        parts.append(f"Asked once per text state, {who} as Newton and as the neutral control chose the same way in "
                     f"all {n} states: there is no persona difference for a student to inherit, so whether imitation "
                     "carries a persona into a body is not testable with this chatbot")
    elif differ == n:
        parts.append(f"Asked once per text state, {who} as Newton and as the neutral control chose differently in "
                     f"all {n} states, so no pattern of difference is left for the students to follow")
    else:
        verdict = follows_teachers(pattern)
        rests = (f"Asked once per text state, {who} as Newton and as the neutral control chose differently in "
                 f"{differ} of {n} states; the comparison of their students rests on those {differ}")
        if verdict is None:
            rests += (", too few for kappa's interval over text states to tell following from chance"
                      if np.isfinite(pattern.pattern.value) else ", and the students' pattern left kappa undefined")
        elif pattern.students.value == 0:
            rests += "; their students, asked at each state's representative observation, differ in none of them"
        parts.append(rests)
    if n and taught < n:
        parts.append(f"{n - taught} of the {n} compared states never occur in both teachers' demonstrations: there a "
                     "student's action is its extrapolation, not something it was shown")
    drifted = {persona: counts for persona, counts in consistency.items() if counts[0] < counts[1]}
    if drifted:
        listed = " and ".join(f"{'Newton' if persona == NEWTON else 'the control'} in {same} of the {of} text "
                              "states its rollouts visited" for persona, (same, of) in drifted.items())
        parts.append("With two turns of history in their rollouts, the teachers did not always answer as in their "
                     f"probes: every rollout decision matched the probe for {listed}; a student learns the "
                     "rollouts, the comparison reads the probes")
    if beyond.n < 5:
        parts.append(f"The held-out episodes of Newton's teacher replay only {beyond.n} distinct prompt "
                     f"sequence{'s' if beyond.n != 1 else ''}, so the agreement's interval rests on that many")
    parts.append("Whether a bigger model's personas carry further is one setting away (`EEP_LOCAL_MODEL` for a "
                 "bigger GGUF, or `OPENAI_BASE_URL`, `OPENAI_API_KEY` and `EEP_CHATBOT_MODEL` for an endpoint; "
                 "*Re-run with your own chatbot* estimates the time and cost)")
    return ". ".join(parts) + "."


# --- 4. Soft labels and one student's episode -------------------------------------------------------------


def _soft_labels_sentence(with_probabilities: dict[str, EpisodeSet]) -> str:
    if with_probabilities:
        return ("The teachers with log-probabilities in this build (" + ", ".join(with_probabilities) + ") also taught "
                "an XGBoost student their p(right) as soft labels; it is in the appendix beside its hard-label twin.")
    return ("No teacher in this build gave token log-probabilities (stand-ins have none; the 2023 recordings kept "
            "none), so students here learn from hard labels only. With a live chatbot whose endpoint returns "
            "log-probabilities, the rollouts record the teacher's p(right) and students train on it.")


def soft_label_students(with_probabilities: dict[str, EpisodeSet], eval_episodes: int, eval_seed: int) -> pd.DataFrame:
    """An XGBoost student per teacher trained on hard labels and on the teacher's p(right), both played."""
    rows = []
    for name, episodes in with_probabilities.items():
        X, y, _ = episodes.training_pairs(include_fallbacks=True)
        p_right = episodes.soft_labels()
        for kind, labels in (("hard labels", None), ("soft labels", p_right)):
            student = STUDENTS["xgboost"]().fit(X, y, p_right=labels)
            e = closed_loop_return(student.predict, eval_episodes, eval_seed).summary()
            rows.append({"teacher": name, "labels": kind, "return": f"{e.value:.1f}",
                         "95% CI over episodes": f"[{e.low:.1f}, {e.high:.1f}]"})
    return pd.DataFrame(rows).set_index(["teacher", "labels"])


def longest_student_episode(episodes: EpisodeSet, teacher: str, eval_seed: int) -> dict:
    """The longest of a few episodes played by an XGBoost student of `teacher`, every frame recorded."""
    X, y, _ = episodes.training_pairs(dynamics_checked=True)
    student = STUDENTS["xgboost"]().fit(X, y)
    played = closed_loop_return(student.predict, SHOWN_EPISODES, eval_seed)
    title = f"XGBoost student of {teacher}"
    longest = played.initial_states[np.argmax(played.returns)]
    return {"episode": play_episode_from(student.predict, longest, STEPS_PER_DECISION_2023, title), "title": title}


# --- Helpers ----------------------------------------------------------------------------------------------


def _above(order: int) -> bool | None:
    """A `compared` order as a claim's verdict: above (True), below (False), intervals overlap (None)."""
    return None if order == 0 else order == 1


def agreement_statement(teacher: str) -> str:
    return (f"A student of {teacher} as Newton agrees with its teacher on held-out episodes more often than always "
            "pushing the teacher's more common way")


def _claim(statement: str, tested: bool, verdict: bool | None, evidence: str, teacher: str) -> Claim:
    """A claim about a chatbot's students: not tested where the teacher is a stand-in."""
    if not tested:
        return Claim.not_tested(statement, evidence, teacher)
    return Claim.decided(statement, verdict, evidence, teacher)


def _formatted(table: pd.DataFrame, formats: dict[str, str], missing: str = "—") -> pd.DataFrame:
    """`table` with the named columns as text at their precision, missing values as `missing`."""
    shown = table.copy()
    for column, pattern in formats.items():
        shown[column] = [missing if pd.isna(v) else pattern.format(v) for v in table[column]]
    return shown.fillna(missing) if shown.isna().any().any() else shown
