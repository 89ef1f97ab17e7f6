"""Chapter 02, teacher rollouts: the chatbot's personas drive CartPole through text, and the recordings of
that driving are what a student learns a persona from.

The teachers are voices (`eep_utils.personas`): Newton, the explicit neutral control (the chatbot
asked to be "a helpful assistant", so that every teacher has a system message) and Aristotle, each in
every template of `params.templates` and both wordings. Each voice is read the way the model answers:
its answer is constrained to a spelling of left or right in any casing (where the teacher honours a
grammar), P(right) pools every spelling at the choice position, and the answer mass says how much of
the model's probability went to answering at all.

- **Behaviour** is measured on probes: every voice asked once about each of the 81 text states, so the
  unit is the text state (a distinct prompt). A persona effect must exceed a wording effect, compared
  like with like within a template (`eep_utils.cartpole.contrasts`), then pooled.
- **Power**: a synthetic teacher (the control's answers turned in a known share of states; a positive
  control, never a chatbot) goes through the same test, so a null result becomes a bound.
- **Rollouts**: every voice plays the same episodes (episode e starts from `reset(seed=seed + e)`);
  returns are compared with the same wording control, with intervals over episodes clustered by the
  prompts they replay. The rollouts are saved under `artifacts_dir/rollouts/` (the you-are, wording-1
  voices under the persona's key: chapter 04 trains on them) and exported as Minari datasets.
"""
from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.cartpole.behaviour import action_grid, action_table, rule_agreement
from eep_utils.cartpole.contrasts import (POWER, BehaviourPower, PersonaContrast, Probes, behaviour_power,
                                          habit_share, persona_contrast, prompt_sequences, return_ci,
                                          returns_contrast)
from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023, STUDY_2023
from eep_utils.cartpole.episodes import EpisodeSet, minari_dataset_id, to_minari
from eep_utils.cartpole.policies import literal_rule_table
from eep_utils.cartpole.stand_in import RuleStandIn, describe_stand_in_rules
from eep_utils.cartpole.teaching import (ALL_TOP_LOGPROBS, ANY_CASE_CHOICE_GRAMMAR, BoundedHistoryProtocol, Decision,
                                         Study2023Protocol, ask_once, persona_sentence, run_cartpole_teacher)
from eep_utils.chat.types import Teacher, accepts_grammar
from eep_utils.experiments.base import (ChapterResult, Claim, TeacherFactory, Usability, headline_row, teacher_name,
                                       teachers_by_setting, untestable_result)
from eep_utils.experiments.params import ParameterError, TeacherRolloutsParams
from eep_utils.paths import repository_url
from eep_utils.personas import Voice, voices
from eep_utils.stats import Estimate, above_zero, cluster_bootstrap_ci, proportion_ci
from eep_utils.study2023.fetch import OriginalStudyUnavailable
from eep_utils.study2023.recordings import locate

CHAPTER = "02_teacher_rollouts"  # also the transcript every voice is recorded in
CHATGPT_2023 = "2023 ChatGPT as Newton"
# The two teachers the claims compare: the 2023 study's persona and the explicit neutral control.
NEWTON, CONTROL = "newton", "no_persona"
# Newton in this template and wording is the 2023 prompt, word for word; chapter 04 reads these voices' rollouts.
MAIN_TEMPLATE, MAIN_WORDING = "you-are", 1
PERSONA_EFFECT_CLAIM = "Newton's persona changes how the chatbot drives CartPole by more than rewording it does"
RETURNS_CLAIM = "Newton's CartPole returns differ from the neutral control's by more than rewording moves them"
BOUND_CLAIM = ("Newton's effect on how the chatbot drives, if any, is smaller than the smallest the behaviour "
               "test detects with 80% power")
SYNTHETIC = "synthetic teacher (a positive control, not a chatbot)"
UNIT_STATES = "95% CI over text states"
UNIT_CLUSTERS = "95% CI over distinct prompt sequences"
PROBES_FILE = "probes.parquet"  # every voice's probe answers (artifacts_dir/probes.parquet): chapter 04 reads them


def run(params: TeacherRolloutsParams, artifacts_dir: str | Path,
        teachers: TeacherFactory | None = None) -> ChapterResult:
    """Probe and roll out every voice, compare personas against rewordings, measure the test's power, and
    decide the claims."""
    if NEWTON not in params.personas or CONTROL not in params.personas:
        raise ParameterError(f"{CHAPTER}: personas is {params.personas}; it must include {NEWTON!r} and {CONTROL!r}, "
                             "the two teachers the chapter's claims compare (notebooks/parameters.yaml)")
    teachers = teachers or teachers_by_setting(params.teacher)
    artifacts_dir = Path(artifacts_dir)
    result = ChapterResult(CHAPTER, key_result="")

    # The cast: every persona in every template and both wordings, each asked everything the chapter asks.
    cast = voices(params.personas, params.templates)
    answers = ask(params, teachers)
    asked = answers.teachers
    chatbot = all(teacher.is_chatbot for teacher in asked.values())
    who = ", ".join(sorted({teacher_name(t.label, t.is_chatbot) for t in asked.values()}))
    result.details["The voices: who each teacher is asked to be"] = voices_table(cast).reset_index()
    result.sentences["teachers_note"] = (
        f"Every voice is answered by **{who}**, a live or recorded chatbot." if chatbot else
        "**No chatbot endpoint is configured for this build**, so the personas are answered by offline "
        "stand-ins: rules over the text state, one per persona, written by us (table below; a stand-in ignores "
        "the template and the wording). Their numbers show the pipeline working; they are not a chatbot's "
        "behaviour and are labelled as stand-ins everywhere. The 2023 ChatGPT recordings, further down, are a "
        "chatbot's.")
    result.details["The offline stand-ins' rules"] = describe_stand_in_rules().reset_index()
    result.numbers.update(n_voices=len(cast), n_templates=len(params.templates),
                          templates_list=", ".join(params.templates), n_states=STUDY_2023.n_states,
                          n_episodes=params.n_episodes, n_resamples=params.n_resamples,
                          n_permutations=params.n_permutations)

    # Probes: each voice's answer about every text state (the unit of behaviour); how usable the answers
    # are without the grammar.
    probed, free = answers.probed, answers.free
    probes = probes_of(probed, params)
    # What chapter 04 reads (every voice's rollouts and probes) is saved whatever this chatbot's answers allow.
    save_probes(probed, artifacts_dir)
    for voice in cast:
        answers.rollouts[voice].save(artifacts_dir / "rollouts" / rollout_folder(voice))
    usability = Usability.of("CartPole decisions (one per voice and text state)",
                             [d.answer for decisions in probed.values() for d in decisions],
                             [d.status != "fallback" for decisions in probed.values() for d in decisions])
    if chatbot and not usability.sufficient:
        return untestable_result(CHAPTER, [PERSONA_EFFECT_CLAIM, RETURNS_CLAIM, BOUND_CLAIM], usability, who)
    result.details["How each voice answered the probes"] = reading_table(probed, chatbot).reset_index()
    result.details["Usable answers without the grammar"] = usable_table(free, params.templates[0]).reset_index()
    masses = voice_masses(probes)
    result.numbers.update(mass_lowest=min(masses, default=math.nan), mass_highest=max(masses, default=math.nan),
                          free_usable=proportion_ci(sum(d.status == "ok" for ds in free.values() for d in ds),
                                                    sum(len(ds) for ds in free.values())))
    result.sentences["reading_statement"] = reading_statement(probes, chatbot)
    result.figures["probes"] = {"p_right": probes.p_right.reshape(len(cast), -1),  # voices() lists them in this order
                                "voices": [voice.label for voice in cast]}

    # Persona against wording, like with like within a template, then pooled (unit: the text state).
    newton = persona_contrast(probes, [(NEWTON, CONTROL), (CONTROL, NEWTON)], params.n_resamples,
                              params.n_permutations, params.seed)
    everyone = persona_contrast(probes, [(p, q) for p in params.personas for q in params.personas if p != q],
                                params.n_resamples, params.n_permutations, params.seed)
    result.details["Distances between voices, mean |ΔP(right)| over text states"] = (
        distance_table(probes).reset_index())
    result.details["Persona against wording, per template and pooled"] = contrast_table({"Newton vs the neutral control": newton,
                                                          "every pair of personas": everyone},
                                                         params.templates).reset_index()
    result.figures["contrasts"] = {"Newton vs control": newton, "every pair of personas": everyone}
    result.numbers.update(newton_effect=newton.pooled, newton_p=newton.p_value, all_effect=everyone.pooled,
                          all_p=everyone.p_value, states_compared=int(probes.answered.sum()))
    result.sentences["excess_statement"] = excess_statement(newton, everyone, chatbot)

    # Power: a synthetic teacher deviating from the control in a known share of states, in Newton's place.
    power = behaviour_power(probes, NEWTON, CONTROL, params.power_shares, params.power_replicates,
                            params.n_resamples, params.n_permutations, params.seed)
    newton_share = Estimate(power.share_of(newton.pooled.value), power.share_of(newton.pooled.low),
                            power.share_of(newton.pooled.high), newton.pooled.n)
    bound = bound_verdict(newton.pooled, power)
    result.details["The persona test's power against a synthetic teacher"] = power_table(power).reset_index()
    result.figures["power"] = {"power": power, "newton": newton.pooled}
    result.numbers.update(min_detectable=power.min_detectable, min_detectable_low=power.min_detectable_low,
                          min_detectable_high=power.min_detectable_high, effect_at_min=power.effect_at_min,
                          power_replicates=params.power_replicates,
                          shares_tried=", ".join(f"{share:g}" for share in params.power_shares),
                          newton_share=newton_share)
    result.sentences["power_statement"] = power_statement(power, newton.pooled, newton_share, bound)

    # The generic habit: how often a persona's probe decision is the neutral control's (same template, wording).
    habits = {f"{voice.label}": habit_share(probes.decision[probes.templates.index(voice.template),
                                                            probes.at(voice.persona), voice.wording - 1],
                                            probes.decision[probes.templates.index(voice.template),
                                                            probes.at(CONTROL), voice.wording - 1])
              for voice in cast if voice.persona != CONTROL}
    result.details["The generic habit: share of text states where a voice decides as the neutral control"] = (
        pd.DataFrame([{"voice": name, "share": f"{share.value:.2f}", "Wilson 95% CI over text states":
                       f"[{share.low:.2f}, {share.high:.2f}]", "text states": share.n}
                      for name, share in habits.items()]))

    # Rollouts: every voice played the same starting states; returns clustered by the prompts they replay.
    rollouts = answers.rollouts
    result.numbers["protocol_name"] = answers.protocol_name
    recorded, result.sentences["reproduction_note"] = recordings_2023(artifacts_dir / "rollouts" / "chatgpt_2023")
    played = {**{voice.label: rollouts[voice] for voice in cast}, **recorded}
    clusters = {name: prompt_sequences(episodes, shared_history=name == CHATGPT_2023)
                for name, episodes in played.items()}
    returns = {name: return_ci(episodes.returns(), clusters[name], params.n_resamples, params.seed)
               for name, episodes in played.items()}
    summary = summary_table(played, clusters, returns)
    shown_in_tables = [voice.label for voice in cast if rollout_folder(voice) == voice.persona]  # the main voices
    result.tables["teacher summary"] = summary.loc[  # the main voices and the 2023 run; every voice's: details
        [*shown_in_tables, *summary.index.difference([voice.label for voice in cast], sort=False)],
        ["episodes", "distinct prompt sequences", f"return, {UNIT_CLUSTERS}", "pushes right (%)", "fallbacks (%)"]]
    result.details["Every voice's rollouts"] = summary.reset_index()
    result.figures["action tables"] = {name: action_grid(action_table(played[name]))
                                       for name in [*shown_in_tables, *recorded]}
    by_key = {(voice.template, voice.persona, voice.wording): voice.label for voice in cast}
    returns_effect = returns_contrast({key: played[name].returns() for key, name in by_key.items()},
                                      {key: clusters[name] for key, name in by_key.items()}, NEWTON, CONTROL,
                                      params.templates, params.n_resamples, params.seed)
    pooled = {persona: pooled_return([played[v.label] for v in cast if v.persona == persona],
                                     [clusters[v.label] for v in cast if v.persona == persona], params)
              for persona in (NEWTON, CONTROL)}
    distinct = np.mean([len(np.unique(clusters[voice.label])) for voice in cast])
    result.numbers.update(returns_effect=returns_effect, newton_return=pooled[NEWTON], control_return=pooled[CONTROL],
                          distinct_sequences=float(distinct))
    result.sentences["returns_statement"] = returns_statement(returns_effect, pooled, distinct, params.n_episodes)

    # Did ChatGPT follow its own prompt's rule?
    result.sentences["rule_agreement"] = literal_rule_agreement(recorded.get(CHATGPT_2023))

    # The rollouts as data: Minari datasets (a rebuild replaces them rather than failing on them).
    minari_root = artifacts_dir / "minari"
    shutil.rmtree(minari_root, ignore_errors=True)
    result.details["The rollouts as Minari datasets"] = pd.DataFrame([
        {"teacher": name, "Minari dataset": str(getattr(dataset, "id", dataset)), "episodes": episodes.n_episodes}
        for name, episodes in played.items()
        for dataset in [to_minari(episodes, minari_root, code_permalink=repository_url(),
                                  dataset_id=None if name == CHATGPT_2023 else
                                  minari_dataset_id(f"{episodes.teacher} as {name}"))]])
    shown_name = shown_in_tables[0]
    longest = int(np.argmax(played[shown_name].returns()))
    result.figures["animation"] = {"teacher": shown_name, "episodes": played[shown_name],
                                   "episode": int(sorted(played[shown_name].frames["episode"].unique())[longest])}

    # Claims, headline, key result and caveat: chosen by the numbers.
    returns_verdict = above_zero(returns_effect)
    effect_evidence = (f"Newton vs the neutral control, d(persona·w1, other·w2) − d(persona·w1, persona·w2), "
                       f"within template, pooled: {interval(newton.pooled, 3)} ({UNIT_STATES}, {newton.pooled.n} "
                       f"states), stratified permutation p = {newton.p_value:.3f}")
    returns_evidence = (f"|R(Newton) − R(control)| minus the larger rewording gap, within template, pooled: "
                        f"{interval(returns_effect, 1)} frames ({UNIT_CLUSTERS}, {returns_effect.n} clusters)")
    bound_evidence = (f"Newton's effect {interval(newton.pooled, 3)} ({UNIT_STATES}) against the {SYNTHETIC}'s "
                      f"{power.effect_at_min:.3f} at the smallest share detected with {POWER:.0%} power, "
                      f"s = {power.min_detectable:g}"
                      if np.isfinite(power.min_detectable) else
                      f"no share of deviating states tried ({result.numbers['shares_tried']}) was detected with "
                      f"{POWER:.0%} power")
    if not chatbot:  # a difference between stand-ins is one between rules we wrote, not a persona's
        result.claims = [Claim.not_tested(PERSONA_EFFECT_CLAIM, effect_evidence, who),
                         Claim.not_tested(RETURNS_CLAIM, returns_evidence, who),
                         Claim.not_tested(BOUND_CLAIM, bound_evidence, who)]
    else:
        result.claims = [Claim.decided(PERSONA_EFFECT_CLAIM, newton.verdict, effect_evidence, who),
                         Claim.decided(RETURNS_CLAIM, returns_verdict, returns_evidence, who),
                         Claim.decided(BOUND_CLAIM, bound, bound_evidence, who)]
    synthetic_on = f"{SYNTHETIC}, built on the answers of {who}"
    result.headline = [
        headline_row("behaviour: Newton's persona effect beyond wording, mean gap in P(right) over text states "
                     "(within template, pooled)", newton.pooled, who, chatbot),
        headline_row("behaviour: persona effect beyond wording over every pair of personas (within template, pooled)",
                     everyone.pooled, who, chatbot),
        headline_row(f"behaviour test: smallest share of deviating text states detected with {POWER:.0%} power "
                     f"(range from the power's 95% CIs; {SYNTHETIC})",
                     Estimate(power.min_detectable, power.min_detectable_low, power.min_detectable_high,
                              params.power_replicates), synthetic_on, False),
        headline_row(f"behaviour: Newton's effect as a share of deviating text states on the {SYNTHETIC}'s scale "
                     "(0: no larger than a teacher identical to the control)", newton_share, who, chatbot),
        headline_row("CartPole returns: Newton's gap to the control beyond rewording, frames (within template, pooled)",
                     returns_effect, who, chatbot),
        *[headline_row(f"CartPole return: teacher {name}", returns[name],
                       name if name == CHATGPT_2023 else teacher_label(played[name]), played[name].is_chatbot)
          for name in [*shown_in_tables, *recorded]]]
    result.key_result = (
        f"Asked once about each of the {STUDY_2023.n_states} text states, "
        f"**{teacher_name(asked[NEWTON].label, asked[NEWTON].is_chatbot)}** as Newton "
        f"{result.sentences['excess_statement']}. {result.sentences['power_statement']}. "
        f"In the rollouts, {result.sentences['returns_statement']}.")
    result.caveat = caveat(chatbot, who, newton.verdict, bound, power, newton, newton_share,
                           float(np.mean(masses)) if masses else math.nan, distinct, params)
    return result


@dataclass
class Answers:
    """Everything chapter 02 asks its teachers, answered."""

    teachers: dict[str, Teacher]  # one per persona: every voice of a persona is recorded in one transcript
    probed: dict[Voice, list[Decision]]  # every voice asked once about each text state
    free: dict[str, list[Decision]]  # each persona's first voice asked without the grammar
    rollouts: dict[Voice, EpisodeSet]  # every voice's episodes
    protocol_name: str  # the rollouts' protocol


def ask(params: TeacherRolloutsParams, teachers: TeacherFactory) -> Answers:
    """Every request chapter 02 sends, and the answers: each voice asked once about every text state
    (constrained where the teacher honours a grammar), each persona's first voice asked again without the
    grammar (where one was honoured: otherwise its probes are those answers), and every voice's rollouts."""
    cast = voices(params.personas, params.templates)
    asked = {persona: teachers(CHAPTER, RuleStandIn(persona)) for persona in params.personas}
    grammar = all(accepts_grammar(teacher) for teacher in asked.values())
    texts = [STUDY_2023.describe_state(state) for state in range(STUDY_2023.n_states)]
    probed = {voice: ask_once(asked[voice.persona], voice, texts, answer_protocol(0, grammar), params.max_in_flight)
              for voice in cast}
    first = {persona: Voice(persona, params.templates[0], 1) for persona in params.personas}
    free = {persona: ask_once(asked[persona], voice, texts, answer_protocol(0, False), params.max_in_flight)
            if grammar else probed[voice] for persona, voice in first.items()}
    protocol = rollout_protocol(params, grammar)
    rollouts = {voice: run_cartpole_teacher(asked[voice.persona], voice, protocol, params.n_episodes, params.seed,
                                            steps_per_decision=STEPS_PER_DECISION_2023,
                                            max_in_flight=params.max_in_flight)
                for voice in cast}
    return Answers(asked, probed, free, rollouts, protocol.name)


def answer_protocol(turns: int, constrained: bool) -> BoundedHistoryProtocol:
    """The chapter's questions: the last `turns` exchanges, read the way the model answers (every casing of
    left and right admitted and read, 20 alternatives); the grammar only where the teacher honours one."""
    return BoundedHistoryProtocol(turns=turns, constrained=constrained, grammar=ANY_CASE_CHOICE_GRAMMAR,
                                  top_logprobs=ALL_TOP_LOGPROBS)


def rollout_protocol(params: TeacherRolloutsParams, grammar: bool):
    if params.protocol == "bounded":
        return answer_protocol(params.history_turns, grammar)
    return Study2023Protocol()


def rollout_folder(voice: Voice) -> str:
    """Where a voice's rollouts are saved: the persona's key for the main voice (chapter 04 reads it), else
    the voice's slug."""
    return voice.persona if (voice.template, voice.wording) == (MAIN_TEMPLATE, MAIN_WORDING) else voice.slug


def teacher_label(episodes: EpisodeSet) -> str:
    return teacher_name(episodes.teacher, episodes.is_chatbot)


def voices_table(cast: list[Voice]) -> pd.DataFrame:
    """Who each teacher is asked to be: the opening of its system prompt, before the 2023 task text."""
    return pd.DataFrame([{"voice": voice.label, "persona": voice.persona, "template": voice.template,
                          "wording": voice.wording, "system prompt opens with": persona_sentence(voice).strip()}
                         for voice in cast]).set_index("voice")


def soft_p_right(decision: Decision) -> float:
    """P(right) where the answer's log-probabilities gave it, the decision itself where they could not (an
    offline stand-in), NaN where the answer named no direction (a fallback is not the teacher's choice)."""
    if decision.status == "fallback":
        return math.nan
    return decision.p_right if np.isfinite(decision.p_right) else float(decision.action)


def probe_decision(decision: Decision) -> float:
    """1.0 right, 0.0 left, NaN where the answer named no direction (a fallback is not the teacher's choice)."""
    return math.nan if decision.status == "fallback" else float(decision.action)


def probes_of(probed: dict[Voice, list[Decision]], params: TeacherRolloutsParams) -> Probes:
    """The probe answers as arrays [template, persona, wording, state]."""
    def array(read) -> np.ndarray:
        return np.array([[[[read(d) for d in probed[Voice(p, t, w)]] for w in (1, 2)] for p in params.personas]
                         for t in params.templates], dtype=np.float64)

    return Probes(tuple(params.templates), tuple(params.personas), array(soft_p_right), array(probe_decision),
                  array(lambda d: d.mass))


def save_probes(probed: dict[Voice, list[Decision]], folder: Path) -> None:
    """The probe answers, one row per voice and text state (a probe's position is its state), as `probes_of`
    reads them: saved for chapter 04, which compares its students where these teachers differ."""
    rows = [{"persona": voice.persona, "template": voice.template, "wording": voice.wording, "state": state,
             "p_right": soft_p_right(decision), "decision": probe_decision(decision), "mass": decision.mass,
             "status": decision.status}
            for voice, decisions in probed.items() for state, decision in enumerate(decisions)]
    Path(folder).mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(Path(folder) / PROBES_FILE)


def reading_table(probed: dict[Voice, list[Decision]], chatbot: bool) -> pd.DataFrame:
    """Per voice, over the probe states: how often it chose right, its mean P(right), and its answer mass."""
    rows = []
    for voice, decisions in probed.items():
        mass = np.array([d.mass for d in decisions])
        rows.append({"voice": voice.label,
                     "chose right (% of states)": f"{100 * np.mean([d.action for d in decisions]):.0f}",
                     "mean P(right)": f"{np.nanmean([soft_p_right(d) for d in decisions]):.2f}",
                     "answer mass, mean over states": f"{np.nanmean(mass):.2f}" if np.isfinite(mass).any() else "—",
                     "lowest answer mass": f"{np.nanmin(mass):.2f}" if np.isfinite(mass).any() else "—",
                     "states": len(decisions)})
    return pd.DataFrame(rows).set_index("voice")


def voice_masses(probes: Probes) -> list[float]:
    """Each voice's answer mass, averaged over the probe states (voices without log-probabilities left out)."""
    per_voice = probes.mass.reshape(-1, probes.mass.shape[-1])
    return [float(np.nanmean(mass)) for mass in per_voice if np.isfinite(mass).any()]


def reading_statement(probes: Probes, chatbot: bool) -> str:
    masses = voice_masses(probes)
    if not masses:
        return ("These teachers give no log-probabilities, so P(right) is their decision itself and there is no "
                "answer mass to report.")
    low, high = min(masses), max(masses)
    verdict = ("so every voice was answering the question" if low >= 0.5 else
               "so at least one voice put most of its probability on something other than an answer")
    return (f"At the choice position the spellings of left and right held, per voice, between {low:.2f} and "
            f"{high:.2f} of the probability on average over the text states (the answer mass), {verdict}.")


def usable_table(free: dict[str, list[Decision]], template: str) -> pd.DataFrame:
    rows = []
    for persona, decisions in free.items():
        first_time = sum(d.status == "ok" for d in decisions)
        usable = proportion_ci(first_time, len(decisions))
        rows.append({"persona": f"{persona} · {template} · w1",
                     "usable at first asking, 95% CI (text states)": interval(usable, 2),
                     "usable after one reminder": sum(d.status != "fallback" for d in decisions),
                     "text states": len(decisions)})
    return pd.DataFrame(rows).set_index("persona")


def distance_table(probes: Probes) -> pd.DataFrame:
    """d(p·w1, q·w2), the mean |ΔP(right)| over the states every voice answered, within each template:
    its diagonal is the wording effect, the rest persona and wording together."""
    p_right = probes.p_right[..., probes.answered]
    rows = {}
    for t, template in enumerate(probes.templates):
        for a, persona in enumerate(probes.personas):
            rows[f"{persona} · {template} · w1"] = {
                f"{other} · w2": f"{np.mean(np.abs(p_right[t, a, 0] - p_right[t, b, 1])):.3f}"
                for b, other in enumerate(probes.personas)}
    return pd.DataFrame.from_dict(rows, orient="index")


def contrast_table(contrasts: dict[str, PersonaContrast], templates: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{"comparison": name,
                          **{f"{template}, {UNIT_STATES}": interval(contrast.per_template[template], 3)
                             for template in templates},
                          f"pooled, {UNIT_STATES}": interval(contrast.pooled, 3),
                          "permutation p (one-sided)": f"{contrast.p_value:.3f}",
                          "text states": contrast.pooled.n}
                         for name, contrast in contrasts.items()]).set_index("comparison")


def excess_statement(newton: PersonaContrast, everyone: PersonaContrast, chatbot: bool) -> str:
    """What the like-with-like wording control found, in words its verdict chooses."""
    moves = {True: "differs from the neutral control by more than rewording moves either of them",
             False: "differs from the neutral control no more than rewording moves either of them",
             None: "cannot be told apart, in this build, from a rewording of itself or of the control"}[newton.verdict]
    return (f"{moves}: the persona-and-wording distance minus the wording-only distance (mean gap in P(right), within "
            f"template, pooled) is {in_words(newton.pooled, 3, 'text states')}, stratified permutation "
            f"p = {newton.p_value:.3f}; over every pair of personas it is "
            f"{in_words(everyone.pooled, 3, 'text states')}, p = {everyone.p_value:.3f}")


def bound_verdict(effect: Estimate, power: BehaviourPower) -> bool | None:
    """Whether the measured effect lies below the synthetic teacher's at the smallest share detected with 80%
    power (its whole 95% CI), at or above it (its whole CI), or neither (or no share tried was detected)."""
    threshold = power.effect_at_min
    if not (np.isfinite(threshold) and np.isfinite(effect.low) and np.isfinite(effect.high)):
        return None
    return True if effect.high < threshold else False if effect.low >= threshold else None


def power_table(power: BehaviourPower) -> pd.DataFrame:
    return pd.DataFrame([{f"share of deviating text states ({SYNTHETIC})": f"{row['strength']:g}",
                          "detected": f"{row['detected']} of {row['replicates']}",
                          "power, 95% CI (synthetic teachers)": f"{row['power']:.2f} [{row['power_low']:.2f}, "
                                                                f"{row['power_high']:.2f}]",
                          "mean contrast": f"{row['effect']:.3f}"} for row in power.curve]).set_index(
        f"share of deviating text states ({SYNTHETIC})")


def power_statement(power: BehaviourPower, newton: Estimate, newton_share: Estimate, bound: bool | None) -> str:
    if not np.isfinite(power.min_detectable):
        return (f"A {SYNTHETIC} that turns the control's answer in a known share of the states is not detected with "
                f"{POWER:.0%} power at any share tried (up to {power.curve[-1]['strength']:g}), so the test cannot "
                "bound a persona effect in this build")
    if power.min_detectable_low == power.min_detectable_high == power.min_detectable:
        spread = f"either end of the power's 95% CIs over {power.replicates} synthetic teachers a share gives the same"
    else:
        pessimistic = (f"{power.min_detectable_high:g}" if np.isfinite(power.min_detectable_high)
                       else "beyond the shares tried")
        spread = (f"from {power.min_detectable_low:g} to {pessimistic} by the power's 95% CIs over "
                  f"{power.replicates} synthetic teachers a share")
    text = (f"The same test finds a {SYNTHETIC} that turns the control's answer in a share s of the states with "
            f"{POWER:.0%} power from s = {power.min_detectable:g}, {round(power.min_detectable * newton.n)} of the "
            f"{newton.n} states ({spread}; its mean contrast there "
            f"{power.effect_at_min:.3f})")
    return text + f"; Newton's measured contrast {where_on_the_scale(newton, newton_share)}" + {
        True: ", so Newton's effect, if any, is below what the test detects with 80% power",
        False: ", within what the test detects",
        None: ", and Newton's interval reaches that threshold, so this build cannot place it below"}[bound]


def where_on_the_scale(newton: Estimate, newton_share: Estimate) -> str:
    """Newton's contrast in the synthetic teacher's units, in words (a share at the scale's end is clipped)."""
    if not np.isfinite(newton_share.value):
        return f"({newton.value:.3f}) cannot be placed on it: the synthetic contrast does not rise with the share"
    if newton_share.value == 0:
        return (f"({newton.value:.3f}) is no larger than that of a synthetic teacher identical to the control "
                "(s = 0)")
    return f"({newton.value:.3f}) is that of a synthetic teacher turning s ≈ {newton_share.value:.2f}"


def pooled_return(episode_sets: list[EpisodeSet], clusters: list[np.ndarray],
                  params: TeacherRolloutsParams) -> Estimate:
    """A persona's mean return over its voices (the mean of their means), each voice's episodes resampled by cluster."""
    return cluster_bootstrap_ci(lambda *returns: float(np.mean([r.mean() for r in returns])),
                                *(episodes.returns() for episodes in episode_sets), clusters=clusters,
                                n_resamples=params.n_resamples, seed=params.seed)


def returns_statement(effect: Estimate, pooled: dict[str, Estimate], distinct: float, n_episodes: int) -> str:
    verdict = {True: "a gap larger than rewording makes", False: "no larger than the gap rewording makes",
               None: "a gap this build cannot tell from rewording's"}[above_zero(effect)]
    clusters = "distinct prompt sequences"
    return (f"Newton survived {in_words(pooled[NEWTON], 1, clusters)} frames per episode and the neutral control "
            f"{in_words(pooled[CONTROL], 1, clusters)}, each over its templates and wordings ({n_episodes} episodes "
            f"per voice replayed {distinct:.1f} distinct prompt sequences on average), {verdict}: the gap minus the "
            f"larger rewording gap is {in_words(effect, 1, clusters)} frames")


def summary_table(played: dict[str, EpisodeSet], clusters: dict[str, np.ndarray],
                  returns: dict[str, Estimate]) -> pd.DataFrame:
    """One row per teacher (who answered is said above the table): episodes, distinct prompt sequences, its
    return with a 95% CI over them, its action balance, parse trouble and tokens per decision."""
    rows = []
    for name, episodes in played.items():
        decided = episodes.frames[episodes.frames["decided"]]
        statuses = episodes.decisions["status"].value_counts()
        n_decisions = max(1, len(episodes.decisions))
        tokens = episodes.decisions["prompt_tokens"].sum() + episodes.decisions["completion_tokens"].sum()
        rows.append({"teacher": name, "episodes": episodes.n_episodes,
                     "distinct prompt sequences": len(np.unique(clusters[name])),
                     f"return, {UNIT_CLUSTERS}": interval(returns[name], 1),
                     "pushes right (%)": f"{100 * decided['action'].mean():.1f}",
                     "re-asked (%)": f"{100 * statuses.get('retried', 0) / n_decisions:.1f}",
                     "fallbacks (%)": f"{100 * statuses.get('fallback', 0) / n_decisions:.1f}",
                     "tokens per decision": f"{tokens / n_decisions:.0f}"})
    return pd.DataFrame(rows).set_index("teacher")


def recordings_2023(folder: Path) -> tuple[dict[str, EpisodeSet], str]:
    """The 2023 ChatGPT run in the book's episode format (saved to `folder`), and a note saying whether it is in."""
    try:
        chat = locate().chat_run()
    except OriginalStudyUnavailable as error:
        return {}, f"**The 2023 recordings were skipped in this build:** {error}"
    chat.save(folder)
    return {CHATGPT_2023: chat}, ("The 2023 chat run is included: its observations were rebuilt by replaying its "
                                  "recorded actions and checked against every state record in its files. Its "
                                  "episodes share one growing conversation, so each is its own cluster.")


def literal_rule_agreement(chat: EpisodeSet | None) -> str:
    """How often the 2023 ChatGPT decisions match its prompt's rule read literally (a lookup table)."""
    if chat is None:
        return "Skipped: the 2023 recordings are not available in this build."
    followed = rule_agreement(chat, literal_rule_table(STUDY_2023))
    fallbacks = int((chat.decisions["status"] == "fallback").sum())
    return (f"ChatGPT's own decisions ({fallbacks} fallbacks excluded) matched the literal rule in "
            f"{100 * followed.value:.1f}% of {followed.n} cases (95% CI {100 * followed.low:.1f}–"
            f"{100 * followed.high:.1f}% over decisions; each was asked with its own conversation so far, so no two "
            "prompts repeat).")


def caveat(chatbot: bool, who: str, verdict: bool | None, bound: bool | None, power: BehaviourPower,
           newton: PersonaContrast, newton_share: Estimate, mean_mass: float, distinct: float,
           params: TeacherRolloutsParams) -> str:
    if not chatbot:
        return ("The teachers here are stand-ins: differences between them are differences between rules we wrote. "
                "Only a chatbot teacher can show that a *persona prompt* changes behaviour, so the introduction marks "
                "these claims \"not tested\" in this build.")
    sample = (f"With {who} ({len(params.templates)} templates × 2 wordings per persona, {STUDY_2023.n_states} text "
              f"states, {params.n_episodes} episodes per voice, temperature 0)")
    parts = []
    if verdict:
        parts.append(f"{sample}, Newton's prompt moved the chatbot's answers by more than rewording did. These are "
                     "two templates and two wordings of one model: others may move it differently")
    elif bound is True:
        parts.append(f"{sample}, a persona effect beyond wording is not shown, and it is bounded: the test finds a "
                     f"persona that turns the control's answer in {power.min_detectable:.0%} of the states 80% of the "
                     f"time, and Newton's measured contrast {where_on_the_scale(newton.pooled, newton_share)}")
    else:
        bound_text = (f"the test needs a persona that turns the control's answer in {power.min_detectable:.0%} of "
                      "the states for 80% power, and Newton's interval reaches that far, so this build neither shows "
                      "an effect nor bounds it below that" if np.isfinite(power.min_detectable) else
                      "the test did not reach 80% power at any share tried, so the null bounds nothing")
        parts.append(f"{sample}, a persona effect beyond wording is not shown; {bound_text}")
    disagreement = templates_disagree(newton)
    if disagreement:
        parts.append(disagreement)
    if np.isfinite(mean_mass) and mean_mass < 0.5:
        parts.append(f"The chatbot put on average only {mean_mass:.2f} of its probability on any spelling of left "
                     "or right where it chose: mostly it was about to say something else")
    if distinct < params.n_episodes / 2:
        parts.append(f"At temperature 0 its {params.n_episodes} episodes per voice replayed only {distinct:.1f} "
                     "distinct prompt sequences on average, so the returns carry that much independent evidence")
    parts.append("Whether a bigger model holds a persona is one setting away (`EEP_LOCAL_MODEL` for a bigger GGUF, "
                 "or `OPENAI_BASE_URL`, `OPENAI_API_KEY` and `EEP_CHATBOT_MODEL` for an endpoint; *Re-run with your "
                 "own chatbot* estimates the time and cost)")
    return ". ".join(parts) + "."


def templates_disagree(contrast: PersonaContrast) -> str:
    """A sentence when one template's contrast lies above 0 and another's below (the pooled value averages a
    template effect away); "" otherwise."""
    verdicts = {template: above_zero(estimate) for template, estimate in contrast.per_template.items()}
    if not (True in verdicts.values() and False in verdicts.values()):
        return ""
    listed = "; ".join(f"in {template}, {in_words(contrast.per_template[template], 3, 'text states')}"
                       for template in verdicts)
    return ("The templates disagree about Newton: " + listed + ". The claim rests on the pooled contrast, as the "
            "design fixes in advance; one template alone is one wording of the frame, and a reader who prefers it "
            "finds its effect in the figure above")


def in_words(estimate: Estimate, digits: int, unit: str) -> str:
    """e.g. "0.052 (95% CI 0.010 to 0.094 over 81 text states)": the interval with its unit."""
    return (f"{estimate.value:.{digits}f} (95% CI {estimate.low:.{digits}f} to {estimate.high:.{digits}f} over "
            f"{estimate.n} {unit})")


def interval(estimate: Estimate, digits: int) -> str:
    """An estimate for a display table, e.g. "0.12 [0.05, 0.20]"."""
    return f"{estimate.value:.{digits}f} [{estimate.low:.{digits}f}, {estimate.high:.{digits}f}]"
