"""Chapter 05: ELLM-style intrinsic rewards from the chatbot's goals, on CartPole.

ELLM (Du et al. 2023) asks an LLM what would be worth doing and rewards the body whenever a caption of
what it did looks like one of those suggestions. `run` reads as the method:

1. the teacher suggests k goals per text state and voice (ELLM's per-step query, cached per state), each
   question after a set of worked examples dealt to its state; how many answers copy an example, and in
   how many states the goals depend on the state, on the persona and on the wording, is measured. When
   Newton's goals depend on the state in no more than half of the text states, every claim is "not
   testable with this chatbot": the steps below still show the pipeline, but comparing agents trained on
   such goals would compare constants;
2. every transition caption is embedded beside every goal; T is calibrated on a random walk's decisions
   so that `reward_share` of them would be rewarded (never from CartPole's reward);
3. R_int is measured along four agents' trajectories (the teacher acting on its own advice, its
   imitation student, a random walk, the full-state controller), correlated with survival, and swept
   over T and k;
4. a tabular Q-learner trained on R_int alone is judged on CartPole's return against those baselines,
   episode by episode on the same starts; the claims and the key result follow from those differences.

The chapter reads no earlier chapter's artefact. Its tables are also written as CSV files under
`<artifacts_dir>/05_ellm/` for readers who want the raw numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.cartpole.body import Rollouts
from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023, STUDY_2023
from eep_utils.cartpole.evaluation import RandomPolicy, play_episodes
from eep_utils.cartpole.policies import LookupTablePolicy, LQRController
from eep_utils.cartpole.students import STUDENTS, imitate
from eep_utils.chat.embeddings import make_encoder
from eep_utils.chat.types import Teacher
from eep_utils.ellm.captions import TransitionCaptioner
from eep_utils.ellm.goals import (
    GoalSuggestions,
    GoalTemplateStandIn,
    advised_actions,
    example_set_of_states,
    example_sets,
    goal_request,
    suggest_goals,
)
from eep_utils.ellm.rewards import (
    ELLMReward,
    episode_rank_correlation,
    intrinsic_rewards,
    push_direction_contrast,
    reward_by_state,
    similarity_matrix,
    threshold_for_share,
    threshold_sweep,
    train_intrinsic_q_learner,
)
from eep_utils.ellm.verdicts import (
    LARGE_EFFECT,
    MIN_STATE_DEPENDENCE,
    SMALL_EFFECT,
    compared,
    copied_example_share,
    copied_goal_share,
    copies,
    direction_sentence,
    paired_difference,
    push_effect,
    same_goals_share,
    sign_word,
    state_dependent,
    verdict,
)
from eep_utils.experiments.base import (ChapterResult, Claim, TeacherFactory, Usability, headline_row, teacher_name,
                                       teachers_by_setting, untestable_result)
from eep_utils.experiments.params import EllmParams, ParameterError
from eep_utils.personas import Voice, voices
from eep_utils.stats import Estimate, mean_ci, proportion_ci

CHAPTER = "05_ellm_rewards"
GOALS_EXPERIMENT = "05_ellm_rewards"  # the transcript the goal requests are recorded in and replayed from
CONTROL = "no_persona"  # the explicit neutral assistant every persona is compared with
HOLD = STEPS_PER_DECISION_2023
EXAMPLE_STATE = STUDY_2023.state_of_words(("center", "stopped", "rightwards", "right"))
MAIN_PERSONA = "newton"  # the claims are about the chatbot's goals as Newton
MIN_DECISIONS_PER_STATE = 20  # a state's mean R_int is listed only when met this often
STUDENT = "imitation student of the Newton teacher (XGBoost)"
CONTROLLER = "full-state controller (LQR)"
RANDOM_WALK = "random walk"
TEACHER_OWN_ADVICE = f"teacher acting on its advice · {MAIN_PERSONA}"
# The baselines the R_int agent is compared with, as the claims name them.
BASELINES = {
    "a random walk": RANDOM_WALK,
    "the imitation student of the same chatbot": STUDENT,
    "the chatbot acting on its own goals": TEACHER_OWN_ADVICE,
}
CLAIM_AGAINST = ("An agent trained on ELLM's intrinsic reward alone (a chatbot's goals as Newton) plays CartPole "
                 "better than {}")
CLAIM_RATE = "ELLM's intrinsic reward per frame rises with survival on CartPole"


def run(params: EllmParams, artifacts_dir: str | Path, teachers: TeacherFactory | None = None) -> ChapterResult:
    """Chapter 05's experiment at `params`' sizes; writes its raw tables under `<artifacts_dir>/05_ellm/`."""
    if MAIN_PERSONA not in params.personas:
        raise ParameterError(f"the personas setting of 05_ellm_rewards (notebooks/parameters.yaml) is "
                             f"{params.personas}; add {MAIN_PERSONA!r}, whose goals the chapter's claims are about")
    try:
        example_sets(params.worked_examples)
    except ValueError as error:
        raise ParameterError(f"05_ellm_rewards: {error}") from None
    teachers = teachers or teachers_by_setting(params.teacher)
    personas = params.personas
    # Every persona in every template and wording is asked; the first template and wording's goals become
    # rewards (one voice per persona), the others tell a persona's effect on the goals from a wording's.
    asked = voices(personas, params.templates, params.wordings)
    rewarded = {p: Voice(p, params.templates[0], params.wordings[0]) for p in personas}
    # Separate seed streams: calibration, analysis trajectories, training and evaluation never share episodes.
    calibration_seed, trajectory_seed = params.seed, params.seed + 10_000
    train_seed, eval_seed = params.seed + 20_000, params.seed + 30_000
    output_dir = Path(artifacts_dir) / "05_ellm"
    output_dir.mkdir(parents=True, exist_ok=True)

    # --- The pieces: who suggests goals (and the goals every voice was given), the sentence model, the captions
    goals = ask(params, teachers)
    goal_teacher = goals.teacher
    encoder = make_encoder(params.embeddings)
    captioner = TransitionCaptioner()
    teacher_label = teacher_name(goal_teacher.label, goal_teacher.is_chatbot)
    chatbot = goal_teacher.is_chatbot
    # Rewards need goals: the voice whose answers gave the fewest goal lists decides whether the claims can be
    # tested (a persona with no goal at all has no reward).
    usability = min((Usability.of(f"goal lists as {voice.label}", goals.by_voice[voice].answers,
                                  [bool(listed) for listed in goals.by_voice[voice].goals])
                     for voice in rewarded.values()), key=lambda found: found.usable / max(found.answers, 1))
    if chatbot and not usability.sufficient:
        return untestable_result(CHAPTER, [*(CLAIM_AGAINST.format(label) for label in BASELINES), CLAIM_RATE],
                                 usability, teacher_label)

    # --- Goals, asked once per text state and voice, each question after its dealt worked examples
    by_voice = goals.by_voice
    suggestions = {p: by_voice[voice] for p, voice in rewarded.items()}
    shown = play_episodes(RandomPolicy(calibration_seed), 1, calibration_seed, HOLD, record=True)
    goal_counts = pd.concat(
        {p: pd.Series([g for goals in suggestions[p].goals for g in goals]).value_counts() for p in personas},
        names=["persona", "goal"]).rename("states").reset_index()
    goal_counts.insert(0, "teacher", teacher_label)
    goal_counts.to_csv(output_dir / "goals_per_persona.csv", index=False)
    alike = min(same_goals_share(suggestions[a], suggestions[b]) for a in personas for b in personas if a < b)

    # --- Do the goals depend on the state, the persona, the wording? (a census of the text states)
    dependence = _dependence(by_voice)
    dependence.assign(teacher=teacher_label).to_csv(output_dir / "goal_dependence.csv")
    main = dependence.loc[rewarded[MAIN_PERSONA].label]
    testable = bool(main["state-dependent share"] > MIN_STATE_DEPENDENCE)
    copied = float(main["copied answers share"])

    # --- Similarities, and T calibrated on a random walk's decisions
    similarities = {p: similarity_matrix(encoder, captioner.vocabulary, suggestions[p].vocabulary) for p in personas}
    calibration = play_episodes(RandomPolicy(calibration_seed), max(params.trajectory_episodes, 100),
                                calibration_seed, HOLD, record=True)
    thresholds = {p: threshold_for_share(params.reward_share, similarities[p], suggestions[p].goal_ids(),
                                         calibration, STUDY_2023, captioner) for p in personas}
    newton, newton_similarity = suggestions[MAIN_PERSONA], similarities[MAIN_PERSONA]
    contrast = push_direction_contrast(newton_similarity, captioner.vocabulary, newton.vocabulary)
    effect = push_effect(contrast, newton_similarity, newton.vocabulary)

    # --- Four agents' trajectories: the teacher on its own advice, its imitation student, two baselines
    teacher_policy = LookupTablePolicy(STUDY_2023, advised_actions(newton))
    teacher_rollouts = play_episodes(teacher_policy, max(params.trajectory_episodes, 100), train_seed, HOLD,
                                     record=True)
    # The imitation student senses the four numbers, never text, and is trained on the teacher's decisions only.
    student = imitate(STUDENTS["xgboost"](), teacher_rollouts.observations, teacher_rollouts.actions)
    teacher_is_constant = bool(np.unique(teacher_rollouts.actions).size == 1)
    agents = {
        "teacher (Newton, its own advice)": teacher_policy,
        "imitation student": student.predict,
        "random walk": RandomPolicy(trajectory_seed),
        "full-state controller": LQRController(),
    }
    trajectories = {name: play_episodes(policy, params.trajectory_episodes, trajectory_seed, HOLD, record=True)
                    for name, policy in agents.items()}

    def rewards_for(persona, threshold, transitions, return_goals=False):
        reward = ELLMReward(similarities[persona], suggestions[persona].goal_ids(params.k), threshold)
        return intrinsic_rewards(reward, transitions, STUDY_2023, captioner, return_goals=return_goals)

    # --- R_int along the trajectories, per agent and persona
    by_agent = []
    for persona in personas:
        for agent, transitions in trajectories.items():
            rewards = rewards_for(persona, thresholds[persona], transitions)
            per_episode = np.bincount(transitions.episode, weights=rewards, minlength=transitions.n_episodes)
            by_agent.append({"agent": agent, "persona": persona, "R_int": mean_ci(per_episode),
                             "rewarded": proportion_ci(int(np.sum(rewards > 0)), len(rewards)),
                             "return": transitions.returns.mean()})
    _save_reward_by_agent(by_agent, teacher_label, output_dir / "intrinsic_reward_by_agent.csv")

    # --- Does R_int track survival? (intervals resample whole episodes)
    everyone = Rollouts.concatenate(list(trajectories.values()))
    newton_rewards, newton_goals = rewards_for(MAIN_PERSONA, thresholds[MAIN_PERSONA], everyone, return_goals=True)
    episode_rewards = np.bincount(everyone.episode, weights=newton_rewards, minlength=everyone.n_episodes)
    episodes = np.arange(everyone.n_episodes)
    rank = dict(n_resamples=params.bootstrap_resamples, seed=params.seed)
    rho_remaining = episode_rank_correlation(newton_rewards, everyone.remaining, everyone.episode, **rank)
    rho_return = episode_rank_correlation(episode_rewards, everyone.returns, episodes, **rank)
    rho_rate = episode_rank_correlation(episode_rewards / everyone.returns, everyone.returns, episodes, **rank)

    # --- The threshold T and the number of goals k; the states with the highest and lowest R_int
    sweep = threshold_sweep(newton_similarity, newton, trajectories, params.sweep_thresholds, params.sweep_ks,
                            STUDY_2023, captioner)
    sweep.assign(teacher=teacher_label, persona=MAIN_PERSONA).to_csv(output_dir / "threshold_sweep.csv", index=False)
    at_top = sweep[(sweep["threshold"] == max(params.sweep_thresholds)) & (sweep["agent"] == "all")]
    by_state = reward_by_state(newton_rewards, newton_goals, everyone, newton, STUDY_2023,
                               min_decisions=MIN_DECISIONS_PER_STATE)
    by_state.assign(teacher=teacher_label).to_csv(output_dir / "reward_by_state.csv")

    # --- Agents trained on R_int alone: one per persona at its calibrated T, one with Newton's goals at ELLM's T
    learners = {}
    for persona in personas:
        reward = ELLMReward(similarities[persona], suggestions[persona].goal_ids(), thresholds[persona])
        learners[f"R_int agent · {persona} (T = {thresholds[persona]:.3f})"] = train_intrinsic_q_learner(
            reward, captioner, params.train_episodes, train_seed, steps_per_decision=HOLD)
    newton_agent = f"R_int agent · {MAIN_PERSONA} (T = {thresholds[MAIN_PERSONA]:.3f})"
    ellm_agent = f"R_int agent · {MAIN_PERSONA} (T = {params.ellm_threshold}, ELLM's)"
    reward = ELLMReward(newton_similarity, newton.goal_ids(), params.ellm_threshold)
    learners[ellm_agent] = train_intrinsic_q_learner(reward, captioner, params.train_episodes, train_seed,
                                                     steps_per_decision=HOLD)
    earned_at_ellm_t = float(learners[ellm_agent].history["intrinsic_return"].sum())

    # --- Judged on CartPole's return, every policy on the same seeded starts
    policies = {
        CONTROLLER: agents["full-state controller"],
        RANDOM_WALK: RandomPolicy(eval_seed),
        **{f"teacher acting on its advice · {p}": LookupTablePolicy(STUDY_2023, advised_actions(suggestions[p]))
           for p in personas},
        STUDENT: student.predict,
        **{name: LookupTablePolicy(STUDY_2023, learned.table) for name, learned in learners.items()},
    }
    runs = {name: play_episodes(policy, params.eval_episodes, eval_seed, HOLD) for name, policy in policies.items()}
    returns = {name: played.summary() for name, played in runs.items()}
    pd.DataFrame([{"policy": name, "teacher": teacher_label, **e.as_dict()} for name, e in returns.items()]
                 ).to_csv(output_dir / "comparison.csv", index=False)
    differences = {label: paired_difference(runs[newton_agent].returns, runs[name].returns)
                   for label, name in BASELINES.items()}

    # --- Claims, decided by the differences' intervals (not tested unless a chatbot suggested the goals;
    # not testable unless Newton's goals depend on the state)
    state_evidence = _state_evidence(main, rewarded[MAIN_PERSONA])
    claims = _claims(differences, rho_rate, teacher_label, chatbot, teacher_is_constant,
                     None if testable else state_evidence)
    if chatbot and not testable:
        summary = _not_testable_result(teacher_label, main, dependence, rewarded)
    else:
        summary = _key_result(teacher_label, returns[newton_agent], returns[RANDOM_WALK], returns[STUDENT],
                              differences, alike)

    answered = {voice.label: len(by_voice[voice].answers) for voice in asked}
    highest = max(float(s.max()) for s in similarities.values())
    return ChapterResult(
        chapter=CHAPTER,
        key_result=summary,
        caveat=_caveat(chatbot, testable, state_evidence),
        numbers={
            "teacher_label": teacher_label, "encoder_name": encoder.name, "n_captions": len(captioner.vocabulary),
            "k": params.k, "ellm_threshold": params.ellm_threshold, "n_personas": len(personas),
            "n_voices": len(asked), "worked_examples": params.worked_examples,
            "n_states": STUDY_2023.n_states, "hold": HOLD,
            "state_dependent_pct": 100 * float(main["state-dependent share"]),
            "state_dependent_states": int(main["state-dependent states"]),
            "copied_pct": 100 * copied, "copied_goals_pct": 100 * float(main["copied goals share"]),
            "min_state_dependence_pct": 100 * MIN_STATE_DEPENDENCE,
            "unparsed_total": sum(len(suggestions[p].unparsed_states) for p in personas),
            "most_goals": max(len(goals) for p in personas for goals in suggestions[p].goals),
            "max_similarity": highest, "reward_share_pct": 100 * params.reward_share,
            "threshold_newton": thresholds[MAIN_PERSONA], "trajectory_episodes": params.trajectory_episodes,
            "rho_remaining": rho_remaining, "rho_return": rho_return, "rho_rate": rho_rate,
            "sweep_top_threshold": max(params.sweep_thresholds),
            "sweep_top_share": 100 * float(at_top["share_rewarded"].max()),
            "train_episodes": params.train_episodes, "eval_episodes": params.eval_episodes,
            **{name: returns[policy] for name, policy in (
                ("agent_newton", newton_agent), ("agent_ellm_t", ellm_agent), ("student", STUDENT),
                ("random", RANDOM_WALK), ("teacher_newton", TEACHER_OWN_ADVICE), ("controller", CONTROLLER))},
            "versus_random": differences["a random walk"],
            "versus_student": differences["the imitation student of the same chatbot"],
            "versus_teacher": differences["the chatbot acting on its own goals"],
        },
        sentences={
            "example_question": _example_question(rewarded[MAIN_PERSONA], params.k, params.worked_examples),
            "provenance": _provenance(answered, goal_teacher, teacher_label),
            "persona_note": _persona_note(alike, len(personas)),
            "examples_note": _examples_note(params.worked_examples),
            "dependence_note": _dependence_note(main, rewarded[MAIN_PERSONA], testable),
            "result_status": _result_status(chatbot, testable, main, rewarded[MAIN_PERSONA], state_evidence),
            "result_lead": ("**What the pipeline did (no claim rests on it).**" if chatbot and not testable
                            else "**Result.**"),
            "ellm_t_effect": ("at that T, R_int is zero everywhere" if highest <= params.ellm_threshold
                              else "only the closest few caption–goal pairs pass that T"),
            "contrast_sentence": _contrast_sentence(contrast, effect),
            "teacher_advice": _teacher_advice(teacher_is_constant),
            **{f"{name}_sign": sign_word(estimate) for name, estimate in (
                ("rho_remaining", rho_remaining), ("rho_return", rho_return), ("rho_rate", rho_rate))},
            "ellm_t_training": ("earned no reward in training, so its table kept the default push (right)"
                                if earned_at_ellm_t == 0 else f"earned {earned_at_ellm_t:.2f} R_int in all training"),
            "agent_vs_random": compared(differences["a random walk"]),
            "agent_vs_student": compared(differences["the imitation student of the same chatbot"]),
            "agent_vs_teacher": compared(differences["the chatbot acting on its own goals"]),
        },
        tables={
            "top goals": _top_goals_table(goal_counts),
            "dependence": _dependence_table(dependence),
            "differences": pd.DataFrame([
                {"comparison": f"R_int agent − {label}", "difference in return (frames)": _interval(d),
                 "paired episodes": d.n} for label, d in differences.items()]).set_index("comparison"),
            # The evidence is the differences above and the sentence beside the table: the appendix has it.
            "claims": pd.DataFrame([c.as_row() for c in claims]).set_index("claim")[["status"]],
        },
        # The appendix's tables for this chapter: what the page's argument does not rest on.
        details={title: table.reset_index(drop=table.index.names == [None]) for title, table in {
            "Each voice's answer in the example state": pd.DataFrame({
                "voice": [voice.label for voice in asked],
                "answer, as received": [by_voice[voice].answers[EXAMPLE_STATE] for voice in asked],
                "goals parsed": ["; ".join(by_voice[voice].goals[EXAMPLE_STATE]) for voice in asked],
            }).set_index("voice"),
            "Transition captions of a random walk's first decisions": pd.DataFrame({
                "text state before": [", ".join(STUDY_2023.words_of_state(s))
                                      for s in STUDY_2023.state_index(shown.observations)],
                "transition caption": captioner.captions(shown.observations, shown.actions, shown.next_observations),
            }).head(8),
            "Calibrated thresholds T": pd.DataFrame({
                "calibrated T": {p: f"{thresholds[p]:.3f}" for p in personas},
                "highest similarity": {p: f"{float(s.max()):.3f}" for p, s in similarities.items()},
                "distinct goals": {p: len(suggestions[p].vocabulary) for p in personas},
            }).rename_axis("persona"),
            "Newton's push goals: similarity to captions of that push and of the opposite push":
                contrast.map(lambda value: f"{value:.3f}"),
            "R_int per episode by agent": _reward_by_agent_table(by_agent),
            "Does R_int track survival? (Spearman ρ, 95% CI resampling episodes)": pd.DataFrame([
                {"measure": measure, "Spearman ρ": _interval(estimate), "episodes resampled": estimate.n}
                for measure, estimate in (("R_int per decision vs frames remaining", rho_remaining),
                                          ("R_int per episode vs return", rho_return),
                                          ("R_int per frame vs return", rho_rate))]).set_index("measure"),
            "The threshold T and the number of goals k (Newton's goals)": _sweep_table(sweep),
            "Text states with the highest and lowest R_int (Newton's goals)": _states_table(by_state),
            "The claims and their evidence": pd.DataFrame([c.as_row() for c in claims]),
            "CartPole return of every policy (same seeded starts)": pd.DataFrame([
                {"policy": name, "learns from": _learns_from(name), "return (frames)": _interval(e, 1),
                 "episodes": e.n} for name, e in returns.items()]).set_index("policy"),
        }.items()},
        figures={
            "returns": {"returns": returns, "agent": newton_agent, "random walk": RANDOM_WALK,
                        "episodes": params.eval_episodes, "teacher": teacher_label},
        },
        claims=claims,
        headline=[headline_row(f"CartPole return: {name}", returns[name], teacher_label, chatbot)
                  for name in (newton_agent, STUDENT)],
    )


# ---------------------------------------------------------------------------------------------
# Steps named by what they decide


def _dependence(by_voice: dict[Voice, GoalSuggestions]) -> pd.DataFrame:
    """Per voice asked: how many answers copy a worked example, in how many text states the goals depend on
    the state, and in how many they differ from the neutral control's (same template and wording) and from
    the same persona's other wording (same template). Every text state is asked: these are counts over all
    of them, not estimates from a sample."""
    rows = {}
    for voice, suggestions in by_voice.items():
        dependent = state_dependent(suggestions)
        control = by_voice.get(Voice(CONTROL, voice.template, voice.wording))
        reworded = by_voice.get(Voice(voice.persona, voice.template, 3 - voice.wording))
        rows[voice.label] = {
            "persona": voice.persona, "template": voice.template, "wording": voice.wording,
            "copied answers": int(copies(suggestions).sum()), "copied answers share": copied_example_share(suggestions),
            "copied goals share": copied_goal_share(suggestions),
            "no goal": len(suggestions.unparsed_states),
            "state-dependent states": int(dependent.sum()), "state-dependent share": float(dependent.mean()),
            "differs from the control share": (1 - same_goals_share(suggestions, control)
                                               if control is not None and voice.persona != CONTROL else np.nan),
            "differs from the other wording share": (1 - same_goals_share(suggestions, reworded)
                                                     if reworded is not None else np.nan),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("voice")


def _dependence_table(dependence: pd.DataFrame) -> pd.DataFrame:
    """The dependence measures as the chapter shows them (percent of the text states)."""
    def percent(share: float) -> str:
        return "—" if np.isnan(share) else f"{100 * share:.0f}%"

    return pd.DataFrame({
        "answers copying a worked example": dependence["copied answers share"].map(percent),
        "goals taken from a worked example": dependence["copied goals share"].map(percent),
        "goals depend on the state": [f"{n} ({percent(share)})" for n, share in
                                      zip(dependence["state-dependent states"], dependence["state-dependent share"])],
        "goals differ from the control's": dependence["differs from the control share"].map(percent),
        "goals differ from the other wording's": dependence["differs from the other wording share"].map(percent),
    }, index=dependence.index)


def _state_evidence(main: pd.Series, voice: Voice) -> str:
    """Why Newton's goals can or cannot carry a test: how many states' goals depend on the state, and why
    the others do not (a clause, no final full stop)."""
    n_states = STUDY_2023.n_states
    rest = n_states - int(main["state-dependent states"]) - int(main["copied answers"]) - int(main["no goal"])
    return (f"as {voice.label}, the chatbot's goals depend on the text state in {int(main['state-dependent states'])} "
            f"of the {n_states} text states ({100 * main['state-dependent share']:.0f}%; a test needs more than "
            f"{100 * MIN_STATE_DEPENDENCE:.0f}%): in {int(main['copied answers'])} states the answer copies a worked "
            f"example its question showed, word for word, in {rest} it repeats the most common answer among the "
            f"states shown the same worked examples, and in {int(main['no goal'])} it gives no goal")


@dataclass
class Goals:
    """Everything chapter 05 asks its teacher, answered."""

    teacher: Teacher
    by_voice: dict[Voice, GoalSuggestions]  # every voice's goals in every text state


def ask(params: EllmParams, teachers: TeacherFactory) -> Goals:
    """Every request chapter 05 sends, and the answers: k goals per text state from every persona in every
    template and wording, each question after the worked examples dealt to its state."""
    teacher = teachers(GOALS_EXPERIMENT, GoalTemplateStandIn())
    return Goals(teacher, {voice: suggest_goals(teacher, voice, params.k, params.worked_examples)
                           for voice in voices(params.personas, params.templates, params.wordings)})


def _claims(differences: dict[str, Estimate], rho_rate: Estimate, teacher_label: str, chatbot: bool,
            teacher_is_constant: bool, untestable: str | None) -> list[Claim]:
    """The R_int agent against each baseline (shown when the paired difference's 95% CI lies above zero),
    then whether R_int per frame rises with survival; all not tested when no chatbot suggested the goals,
    and all not testable (`untestable` says why) when the chatbot's goals do not depend on the state."""

    def decided(statement: str, estimate: Estimate, evidence: str) -> Claim:
        if not chatbot:
            return Claim.not_tested(statement, evidence, teacher_label)
        if untestable:
            return Claim.not_testable(statement, untestable[0].upper() + untestable[1:], teacher_label)
        shown, decidable = verdict(estimate)
        return Claim.decided(statement, shown if decidable else None, evidence, teacher_label)

    # A constant teacher's student is that constant: one claim for both, not the same one twice.
    same_policy = ("; the teacher's advice names one push everywhere, so its imitation student is the same policy"
                   if teacher_is_constant else "")
    claims = []
    for label, difference in differences.items():
        if teacher_is_constant and label == "the imitation student of the same chatbot":
            continue
        claims.append(decided(
            CLAIM_AGAINST.format(label), difference,
            f"difference in return, R_int agent − {label}: {difference} (95% CI, {difference.n} paired episodes)"
            + (same_policy if label == "the chatbot acting on its own goals" else "")))
    claims.append(decided(CLAIM_RATE, rho_rate, f"Spearman ρ of R_int per frame with return {rho_rate}"))
    return claims


def _key_result(teacher_label: str, agent: Estimate, random_walk: Estimate, student: Estimate,
                differences: dict[str, Estimate], alike: float) -> str:
    summary = (
        f"With goals from {teacher_label}, the agent trained on ELLM's intrinsic reward alone survives "
        f"{agent.value:.1f} frames (95% CI {agent.low:.1f}–{agent.high:.1f}), "
        f"{compared(differences['a random walk'], explain=False)} a random walk ({random_walk.value:.1f}), and "
        f"{compared(differences['the imitation student of the same chatbot'], explain=False)} the imitation "
        f"student of the same chatbot ({student.value:.1f}).")
    if alike == 1:
        summary += " Every persona got the same goals, so no persona reached the agent."
    return summary


def _not_testable_result(teacher_label: str, main: pd.Series, dependence: pd.DataFrame,
                         rewarded: dict[str, Voice]) -> str:
    """The key result when the chatbot's goals do not follow the state: what it did, and no comparison."""
    summary = (
        f"With goals from {teacher_label}, this chapter's claims are not testable with this chatbot: as "
        f"{rewarded[MAIN_PERSONA].label}, its goals depend on the text state in only "
        f"{int(main['state-dependent states'])} of the {STUDY_2023.n_states} text states "
        f"({100 * main['state-dependent share']:.0f}%; a test needs more than {100 * MIN_STATE_DEPENDENCE:.0f}%), "
        f"and {100 * main['copied answers share']:.0f}% of its answers copy a worked example word for word.")
    if CONTROL in rewarded:
        summary += (f" Its goals differ from the neutral control's in "
                    f"{100 * main['differs from the control share']:.0f}% of the states.")
    return summary + (" R_int built from such goals rewards much the same whatever the state, so no comparison of "
                      "the agents trained on it is read as a result.")


def _caveat(chatbot: bool, testable: bool, state_evidence: str) -> str:
    """What this build's teacher can and cannot show."""
    if not chatbot:
        return ("This build's teacher is not a chatbot: nothing here is about a chatbot's goals; the claims stay "
                "not tested until a chatbot answers.")
    if not testable:
        return ("It shows that the whole pipeline runs on a real chatbot's answers, every one recorded and "
                "replayed. It cannot test ELLM's premise, that a chatbot's common sense about the state shapes "
                f"the reward: {state_evidence}. Testing it needs a chatbot whose goals follow the state "
                "(chapter 07 says what asking another one costs).")
    return ("It shows that the whole pipeline runs on a real chatbot's answers, every one recorded and replayed. "
            "Its goals vary with the state; whether they carry common sense is what the comparisons above measure.")


def _result_status(chatbot: bool, testable: bool, main: pd.Series, voice: Voice, state_evidence: str) -> str:
    """Whether the comparisons below decide the claims, said before them."""
    if not chatbot:
        return ("This build's goals come from an offline stand-in, not a chatbot: the comparisons below run the "
                "pipeline, and the claims stay not tested.")
    if not testable:
        return (f"**Not testable with this chatbot.** {state_evidence[0].upper()}{state_evidence[1:]}. The returns "
                "below show what the pipeline does with such goals; no claim is decided by them.")
    return (f"As {voice.label}, the chatbot's goals depend on the state in {int(main['state-dependent states'])} of "
            f"the {STUDY_2023.n_states} text states ({100 * main['state-dependent share']:.0f}%), more than "
            f"{100 * MIN_STATE_DEPENDENCE:.0f}%: the claims below are decided by their intervals.")


def _provenance(answered: dict[str, int], goal_teacher, teacher_label: str) -> str:
    """Where the goals came from, and whether every state got an answer."""
    if not all(n == STUDY_2023.n_states for n in answered.values()):
        return f"Only {answered} answers per voice came back from {teacher_label}."
    replayed = goal_teacher.usage.replayed
    return (f"All {sum(answered.values())} answers ({len(answered)} voices × {STUDY_2023.n_states} text states) "
            f"came from {teacher_label}"
            + (f", {replayed} of them replayed from its recordings." if replayed else ", asked in this build."))


def _persona_note(alike: float, n_personas: int) -> str:
    if alike == 1:
        return (f"All {n_personas} personas were given the same goals in every state: in this build the persona "
                "does not reach the goals at all.")
    return ("The personas' goals differ: any two personas were given the same goals in at most "
            f"{100 * alike:.0f}% of the states.")


def _examples_note(worked_examples: int) -> str:
    """How the questions show the answer format."""
    if worked_examples == 0:
        return ("The questions show no worked example: the system message alone asks for short phrases, one per "
                "line, so no answer can be a copy.")
    sets = example_sets(worked_examples)
    return (f"Each question comes after {worked_examples} worked exchange{'s' if worked_examples > 1 else ''}, one "
            f"of {len(sets)} sets cut from a pool of {len(sets) * worked_examples} (written for this book over "
            "different states, pushing left, right or not at all, each worded its own way). The sets are dealt to "
            "the text states in a seeded shuffle, never showing a state its own answer, and every voice sees the "
            "same set in the same state, so voices are compared like with like and no single worked answer can "
            "be copied everywhere.")


def _dependence_note(main: pd.Series, voice: Voice, testable: bool) -> str:
    """What the dependence table says about the goals the claims are about, chosen by its numbers."""
    note = (f"As {voice.label}, {int(main['copied answers'])} of the {STUDY_2023.n_states} answers "
            f"({100 * main['copied answers share']:.0f}%) copy a worked example word for word")
    if not np.isnan(main["copied goals share"]):
        note += (f", and {100 * main['copied goals share']:.0f}% of all its goals are taken word for word from the "
                 "worked examples its question showed")
    note += (f". Its goals depend on the state (they copy no example and differ from the most common answer "
             f"among the states shown the same worked examples) in {int(main['state-dependent states'])} states "
             f"({100 * main['state-dependent share']:.0f}%): "
             + ("more than half, so the claims can be tested." if testable else
                f"not more than {100 * MIN_STATE_DEPENDENCE:.0f}%, so the claims are not testable with this "
                "chatbot."))
    persona, reworded = main["differs from the control share"], main["differs from the other wording share"]
    if np.isnan(persona):
        return note
    note += (f" Its goals differ from the neutral control's (same template and wording) in {100 * persona:.0f}% of "
             "the states")
    if np.isnan(reworded):
        return note + ("; no second wording was asked in this build, so a persona's effect cannot be told from "
                       "any change of the system message.")
    return note + (f", and from its own other wording's in {100 * reworded:.0f}%: rewording the same persona changes "
                   f"them {'at least as often as' if reworded >= persona else 'less often than'} a change of persona.")


def _contrast_sentence(contrast: pd.DataFrame, effect: float) -> str:
    """Whether the sentence model tells a push goal's own push from the opposite one."""
    if contrast.empty:
        return f"None of Newton's goals names a push: {direction_sentence(effect)}."
    return ("On average a push goal's similarity to captions of the push it names, minus its similarity to "
            f"captions of the opposite push, is {contrast['difference'].mean():+.3f}: {effect:+.2f} times the "
            "spread (standard deviation) of its similarities over all captions; below "
            f"{SMALL_EFFECT} of the spread a contrast counts as negligible, from {LARGE_EFFECT} on as large "
            f"(Cohen's conventions). Here {direction_sentence(effect)}.")


def _teacher_advice(teacher_is_constant: bool) -> str:
    if teacher_is_constant:
        return ("**The teacher's advice names one push in every state.** Its goals, read as actions, give the "
                "same action everywhere, so the teacher acting on its advice is a constant policy, and its "
                "imitation student is that constant (scikit-learn's `DummyClassifier`): no classifier learns a "
                "boundary from a single action. The comparison below still runs, but the student adds nothing "
                "the teacher does not already do.")
    return ("The teacher's advice names different pushes in different states, so its imitation student has two "
            "actions to learn from.")


def _example_question(voice: Voice, k: int, worked_examples: int) -> str:
    """The conversation the teacher is asked as `voice` in the example state, as a Markdown code block."""
    examples = example_sets(worked_examples)[example_set_of_states(worked_examples)[EXAMPLE_STATE]]
    request = goal_request(voice, STUDY_2023.describe_state(EXAMPLE_STATE), k, examples)
    turns = "\n\n".join(f"[{role}]\n{content}" for role, content in request.messages)
    return f"```text\n{turns}\n```"


def _interval(estimate: Estimate, digits: int = 2) -> str:
    """An estimate as "value [low, high]" at `digits` decimals ("undefined" where it is NaN)."""
    if not np.isfinite(estimate.value):
        return "undefined"
    return f"{estimate.value:.{digits}f} [{estimate.low:.{digits}f}, {estimate.high:.{digits}f}]"


def _learns_from(policy: str) -> str:
    return "R_int" if policy.startswith("R_int") else "teacher's actions" if policy.startswith("imitation") else "—"


def _save_reward_by_agent(rows: list[dict], teacher_label: str, path: Path) -> None:
    pd.DataFrame([{"": f"{row['agent']} · {row['persona']}", "persona": row["persona"],
                   "rewarded decisions": f"{100 * row['rewarded'].value:.1f}%", "return (frames)": row["return"],
                   "mean": row["R_int"].value, "95% CI": f"[{row['R_int'].low:.2f}, {row['R_int'].high:.2f}]",
                   "n": row["R_int"].n} for row in rows]).set_index("").assign(teacher=teacher_label).to_csv(path)


def _reward_by_agent_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"goals of": row["persona"], "agent": row["agent"],
                          "R_int per episode": _interval(row["R_int"]), "episodes": row["R_int"].n,
                          "decisions rewarded": f"{100 * row['rewarded'].value:.1f}%",
                          "return (frames)": f"{row['return']:.1f}"} for row in rows]).set_index(["goals of", "agent"])


def _top_goals_table(goal_counts: pd.DataFrame, most: int = 6) -> pd.DataFrame:
    """Each persona's most frequent goals side by side, each with the number of text states it was suggested in."""
    columns = {persona: [f"{row.goal} ({row.states})" for row in rows.head(most).itertuples()]
               for persona, rows in goal_counts.groupby("persona", sort=False)}
    length = max(len(goals) for goals in columns.values())
    return pd.DataFrame({persona: goals + [""] * (length - len(goals)) for persona, goals in columns.items()},
                        index=pd.RangeIndex(1, length + 1, name="rank"))


def _sweep_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """All agents' decisions pooled: per k and T, the share rewarded and R_int's correlation with the frames
    remaining."""
    pooled = sweep[sweep["agent"] == "all"]
    return pd.DataFrame({
        "k": pooled["k"], "threshold T": pooled["threshold"],
        "decisions rewarded": pooled["share_rewarded"].map(lambda share: f"{100 * share:.1f}%"),
        "Spearman ρ, R_int vs frames remaining": pooled["spearman_remaining"].map(
            lambda rho: "undefined" if not np.isfinite(rho) else f"{rho:.2f}"),
    }).set_index(["k", "threshold T"])


def _states_table(by_state: pd.DataFrame) -> pd.DataFrame:
    """The five text states with the highest and the five with the lowest mean R_int."""
    table = pd.concat({"highest": by_state.head(5), "lowest": by_state.tail(5)}, names=["R_int", "state"])
    return pd.DataFrame({
        "decisions": table["decisions"],
        "mean R_int": table["mean_reward"].map(lambda value: f"{value:.3f}"),
        "decisions rewarded": table["rewarded_share"].map(lambda share: f"{100 * share:.1f}%"),
        "goal most often achieved": table["most_achieved_goal"],
    }).set_axis(pd.MultiIndex.from_arrays([table.index.get_level_values("R_int"), table["description"]],
                                          names=["R_int", "text state"]))
