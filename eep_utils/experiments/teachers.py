"""Chapter 02, teacher rollouts: the chatbot's personas drive CartPole through text, and the recordings of
that driving are what a student learns a persona from.

Every persona, in each of its wordings, plays the same episodes (episode e starts from `reset(seed=seed + e)`)
through the 2023 study's text projection, one decision held for two frames. Two teachers are compared text
state by text state (`eep_utils.cartpole.contrasts`): a persona effect must exceed what rewording one
persona does. The rollouts are saved under `artifacts_dir/rollouts/<name>` (chapter 04 trains on them, the
re-run page counts their decisions) and exported as Minari datasets under `artifacts_dir/minari`.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.book.report import teacher_name
from eep_utils.book.site import repository_url
from eep_utils.cartpole.behaviour import action_grid, action_table, rule_agreement, teacher_summary
from eep_utils.cartpole.contrasts import (counts_by_episode, distance_ci, habit_share, persona_minus_wording,
                                          same_behaviour_test)
from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023, STUDY_2023
from eep_utils.cartpole.episodes import EpisodeSet, to_minari
from eep_utils.cartpole.policies import literal_rule_table
from eep_utils.cartpole.stand_in import RuleStandIn, describe_stand_in_rules
from eep_utils.cartpole.teaching import (BoundedHistoryProtocol, Study2023Protocol, label_observations,
                                         run_cartpole_teacher)
from eep_utils.chat.types import Teacher, accepts_grammar
from eep_utils.experiments.base import ChapterResult, Claim, TeacherFactory, headline_row, teachers_by_setting
from eep_utils.experiments.params import ParameterError, TeacherRolloutsParams
from eep_utils.personas import PERSONAS
from eep_utils.stats import Estimate, above_zero, mean_ci, proportion_ci, welch_test
from eep_utils.study2023.fetch import OriginalStudyUnavailable
from eep_utils.study2023.recordings import locate

CHAPTER = "02_teacher_rollouts"
CHATGPT_2023 = "2023 ChatGPT as Newton"
# The two teachers the claims compare: the 2023 study's persona and the same task text with none.
NEWTON, CONTROL = "newton", "no_persona"
PERSONA_EFFECT_CLAIM = "Newton's persona changes how a chatbot drives CartPole by more than rewording it does"
RETURNS_CLAIM = "Newton's CartPole returns differ from the no-persona control's"


def run(params: TeacherRolloutsParams, artifacts_dir: str | Path,
        teachers: TeacherFactory | None = None) -> ChapterResult:
    """Record every persona's rollouts, compare personas against rewordings, and decide the claims."""
    if NEWTON not in params.personas or CONTROL not in params.personas:
        raise ParameterError(f"{CHAPTER}: personas is {params.personas}; it must include {NEWTON!r} and {CONTROL!r}, "
                             "the two teachers the chapter's claims compare (notebooks/parameters.yaml)")
    teachers = teachers or teachers_by_setting(params.teacher)
    artifacts_dir = Path(artifacts_dir)
    result = ChapterResult(CHAPTER, key_result="")

    # The cast: each persona in each wording, asked through the teacher layer (wordings share a transcript).
    cast = {persona.label: persona for persona in (PERSONAS[p].worded(w) for p in params.personas
                                                     for w in params.wordings)}
    who = {name: teachers(f"cartpole-{persona.key}-{params.protocol}", RuleStandIn(persona.key))
           for name, persona in cast.items()}
    all_chatbots = all(teacher.is_chatbot for teacher in who.values())
    chatbot_names = ", ".join(sorted({teacher.label for teacher in who.values()}))
    result.tables["teachers"] = pd.DataFrame([
        {"teacher": name, "answered by": teacher_name(t.label, t.is_chatbot), "chatbot": t.is_chatbot,
         "persona sentence": cast[name].sentence.strip() or "(none: the task text only)"}
        for name, t in who.items()]).set_index("teacher")
    result.sentences["teachers_note"] = (
        "Every persona is answered by a **live or recorded chatbot** in this build." if all_chatbots else
        "**No chatbot endpoint is configured for this build**, so the personas are answered by offline "
        "stand-ins: rules over the text state, one per persona, written by us (table below). Their numbers show "
        "the pipeline working; they are not a chatbot's behaviour and are labelled as stand-ins everywhere. "
        "The 2023 ChatGPT recordings, further down, are a chatbot's.")
    result.tables["stand-in rules"] = describe_stand_in_rules()

    # Rollouts: every teacher plays the same starting states.
    rollouts = {}
    for name, teacher in who.items():
        rollouts[name] = run_cartpole_teacher(teacher, cast[name], protocol_for(params, teacher), params.n_episodes,
                                              params.seed, steps_per_decision=STEPS_PER_DECISION_2023,
                                              max_in_flight=params.max_in_flight)
        rollouts[name].save(artifacts_dir / "rollouts" / name.replace(" (wording 2)", "-wording2"))
    result.numbers["n_episodes"] = params.n_episodes
    result.numbers["protocol_name"] = protocol_for(params, who[params.personas[0]]).name
    recorded, result.sentences["reproduction_note"] = recordings_2023(artifacts_dir / "rollouts" / "chatgpt_2023")
    all_rollouts = {**{f"{name} ({'chatbot' if t.is_chatbot else 'stand-in'})": rollouts[name]
                       for name, t in who.items()}, **recorded}

    # What each teacher did: returns, action balance, parse trouble, tokens; and its action table.
    result.tables["teacher summary"] = summary_table(all_rollouts)
    result.figures["action tables"] = {name: action_grid(action_table(episodes))
                                       for name, episodes in all_rollouts.items()}

    # Persona or wording: behaviour distances of persona pairs against those of a persona's two wordings.
    counts = {name: counts_by_episode(rollouts[name]) for name in who}
    persona_pairs = [(a, b) for i, a in enumerate(params.personas) for b in params.personas[i + 1:]]
    wording_pairs = [(p, PERSONAS[p].worded(2).label) for p in params.personas if 2 in params.wordings]
    distances = {}  # (pair kind, "a vs b") -> (distance with CI, permutation p)
    for kind, pairs in (("persona", persona_pairs), ("wording", wording_pairs)):
        for a, b in pairs:
            distances[kind, f"{a} vs {b}"] = (
                distance_ci(counts[a], counts[b], params.n_resamples, params.seed),
                same_behaviour_test(counts[a], counts[b], params.n_resamples, params.seed)[1])
    result.tables["distances"] = pd.DataFrame([
        {"teachers compared": name, "pair": kind, "behaviour distance, 95% CI (episodes)": interval(distance, 2),
         "p (same behaviour)": f"{p_same:.3f}", "episodes": distance.n}
        for (kind, name), (distance, p_same) in distances.items()]).set_index("teachers compared")
    result.figures["distances"] = {(kind, name): distance for (kind, name), (distance, _) in distances.items()}
    effects = {}
    if 2 in params.wordings:
        for persona in [p for p in params.personas if p != CONTROL]:
            effects[persona] = persona_minus_wording(
                counts[persona], counts[CONTROL], counts[PERSONAS[persona].worded(2).label],
                counts[PERSONAS[CONTROL].worded(2).label], params.n_resamples, params.seed)
    for persona, effect in effects.items():
        result.numbers[f"excess_{persona}"] = effect
    newton_effect = effects.get(NEWTON)
    newton_verdict = above_zero(newton_effect) if newton_effect is not None else None
    result.sentences["excess_statement"] = excess_statement(newton_effect, newton_verdict)
    result.numbers["n_resamples"] = params.n_resamples

    # The generic habit: how often a persona's majority push is the no-persona control's.
    result.figures["habits"] = {name: habit_share(counts[name], counts[CONTROL]) for name in who if name != CONTROL}

    # Usable answers: each persona asked once per text state, with no history, with and without the grammar.
    probe_states = np.arange(min(params.n_probe_states, STUDY_2023.n_states))
    probe_observations = np.array([STUDY_2023.observation_of_state(s) for s in probe_states])
    usable_rows, free_first, free_asked = [], 0, 0
    for persona in params.personas:
        for constrained in ([True, False] if accepts_grammar(who[persona]) else [False]):
            _, _, statuses = label_observations(who[persona], persona, probe_observations, params.max_in_flight,
                                                constrained=constrained)
            first_time = sum(status == "ok" for status in statuses)
            if not constrained:
                free_first, free_asked = free_first + first_time, free_asked + len(statuses)
            usable_rows.append({
                "persona": persona, "grammar": "yes" if constrained else "no",
                "usable at first asking, 95% CI (text states)": interval(proportion_ci(first_time, len(statuses)), 2),
                "usable after one reminder": sum(status != "fallback" for status in statuses),
                "text states": len(statuses)})
    result.tables["usable answers"] = pd.DataFrame(usable_rows).set_index("persona")
    result.numbers["n_probe"] = len(probe_states)
    result.numbers["free_usable"] = proportion_ci(free_first, free_asked)

    # Did ChatGPT follow its own prompt's rule, read literally?
    result.sentences["rule_agreement"] = literal_rule_agreement(recorded.get(CHATGPT_2023))

    # The rollouts as data: Minari datasets (a rebuild replaces them rather than failing on them).
    minari_root = artifacts_dir / "minari"
    shutil.rmtree(minari_root, ignore_errors=True)
    result.tables["minari"] = pd.DataFrame([
        {"teacher": name, "Minari dataset": str(getattr(dataset, "id", dataset)), "episodes": episodes.n_episodes}
        for name, episodes in all_rollouts.items()
        for dataset in [to_minari(episodes, minari_root, code_permalink=repository_url())]]).set_index("teacher")
    shown_name, shown = next(iter(all_rollouts.items()))
    longest = int(np.argmax(shown.returns()))
    result.figures["animation"] = {"teacher": shown_name, "episodes": shown,
                                   "episode": int(shown.frames["episode"].unique()[longest])}

    # Headline, claims, key result and caveat: chosen by the numbers.
    result.headline = [headline_row(f"CartPole return: teacher {name}", mean_ci(episodes.returns()), name,
                                    episodes.is_chatbot) for name, episodes in all_rollouts.items()]
    result.headline += [headline_row(f"behaviour distance minus the larger rewording distance: {persona} vs {CONTROL}",
                                     effect, who[persona].label, who[persona].is_chatbot)
                        for persona, effect in effects.items()]
    newton, control = rollouts[NEWTON].returns(), rollouts[CONTROL].returns()
    returns_p = welch_test(newton, control)
    effect_evidence = (f"behaviour distance to the control minus the larger rewording distance {newton_effect}"
                       if newton_effect is not None else "no second wordings in this build")
    returns_evidence = f"mean returns {newton.mean():.1f} vs {control.mean():.1f}, Welch p = {returns_p:.3g}"
    if not all_chatbots:  # a difference between stand-ins is one between rules we wrote, not a persona's
        result.claims = [Claim.not_tested(PERSONA_EFFECT_CLAIM, effect_evidence, chatbot_names),
                         Claim.not_tested(RETURNS_CLAIM, returns_evidence, chatbot_names)]
    else:
        result.claims = [
            Claim.not_tested(PERSONA_EFFECT_CLAIM, effect_evidence, chatbot_names) if newton_effect is None
            else Claim.decided(PERSONA_EFFECT_CLAIM, newton_verdict, effect_evidence, chatbot_names),
            # A p-value of 0.05 or more cannot show that the returns are equal: inconclusive, never "not shown".
            Claim.decided(RETURNS_CLAIM, True if returns_p < 0.05 else None, returns_evidence, chatbot_names)]
    result.key_result = (
        f"As Newton, **{teacher_name(who[NEWTON].label, who[NEWTON].is_chatbot)}** survived "
        f"{in_words(mean_ci(newton))} frames per episode, against {in_words(mean_ci(control))} without a "
        f"persona (Welch p = {returns_p:.3f}); {result.sentences['excess_statement']}.")
    result.caveat = caveat(all_chatbots, newton_verdict, chatbot_names, params.n_episodes)
    return result


def protocol_for(params: TeacherRolloutsParams, teacher: Teacher):
    """The conversation protocol; answers constrained to left/right where the teacher honours a grammar."""
    if params.protocol == "bounded":
        return BoundedHistoryProtocol(turns=params.history_turns, constrained=accepts_grammar(teacher))
    return Study2023Protocol()


def recordings_2023(folder: Path) -> tuple[dict[str, EpisodeSet], str]:
    """The 2023 ChatGPT run in the book's episode format (saved to `folder`), and a note saying whether it is in."""
    try:
        chat = locate().chat_run()
    except OriginalStudyUnavailable as error:
        return {}, f"**The 2023 recordings were skipped in this build:** {error}"
    chat.save(folder)
    return {CHATGPT_2023: chat}, ("The 2023 chat run is included: its observations were rebuilt by replaying its "
                                  "recorded actions and checked against every state record in its files.")


def summary_table(all_rollouts: dict[str, EpisodeSet]) -> pd.DataFrame:
    """One row per teacher: returns (frames per episode) and action balance with their 95% CIs, parse trouble,
    tokens per decision."""
    rows = []
    for episodes in all_rollouts.values():
        row = teacher_summary(episodes)
        rows.append({"teacher": episodes.teacher, "episodes": f"{row['episodes']:.0f}",
                     "decisions": f"{row['decisions']:.0f}", "return": f"{row['return']:.1f}",
                     "return 95% CI": row["return 95% CI"], "pushes right (%)": f"{row['pushes right (%)']:.1f}",
                     "right 95% CI (%)": row["right 95% CI (%)"], "re-asked (%)": f"{row['re-asked (%)']:.1f}",
                     "fallbacks (%)": f"{row['fallbacks (%)']:.1f}",
                     "tokens per decision": f"{row['tokens per decision']:.0f}"})
    return pd.DataFrame(rows, index=list(all_rollouts))


def excess_statement(effect: Estimate | None, verdict: bool | None) -> str:
    """What the wording control found for Newton against the control, in words the verdict chooses."""
    if effect is None:
        return "no second wordings were asked in this build, so the wording control is not run"
    return (f"Newton's distance from the no-persona control exceeds the larger of their two rewording distances by "
            f"{effect.value:.3f} (95% CI {effect.low:.3f} to {effect.high:.3f}): "
            + {True: "the persona moves the chatbot's behaviour by more than rewording it does",
               False: "the persona moves the chatbot's behaviour no more than rewording it does, so what differs "
                      "between Newton and the control is not shown to be the persona",
               None: "the interval spans zero, so this build cannot tell the persona's effect from the wording's"}[
                verdict])


def literal_rule_agreement(chat: EpisodeSet | None) -> str:
    """How often the 2023 ChatGPT decisions match its prompt's rule read literally (a lookup table)."""
    if chat is None:
        return "Skipped: the 2023 recordings are not available in this build."
    followed = rule_agreement(chat, literal_rule_table(STUDY_2023))
    fallbacks = int((chat.decisions["status"] == "fallback").sum())
    return (f"ChatGPT's own decisions ({fallbacks} fallbacks excluded) matched the literal rule in "
            f"{100 * followed.value:.1f}% of {followed.n} cases "
            f"(95% CI {100 * followed.low:.1f}–{100 * followed.high:.1f}%).")


def caveat(all_chatbots: bool, newton_verdict: bool | None, chatbot_names: str, n_episodes: int) -> str:
    if not all_chatbots:
        return ("Some teachers here are stand-ins: differences between them are differences between rules "
                "we wrote. Only a chatbot teacher can show that a *persona prompt* changes behaviour, so the "
                "introduction marks that claim \"not tested\" in this build.")
    if newton_verdict:
        return (f"With {chatbot_names} ({n_episodes} episodes per persona and wording, temperature 0), "
                "Newton's prompt moved the chatbot's behaviour by more than rewording it did. This is one "
                "model and one pair of wordings: another wording, or another model, may move it differently.")
    return (f"With {chatbot_names} ({n_episodes} episodes per persona and wording, temperature 0), a "
            "persona effect on behaviour is not shown: rewording a prompt moved the chatbot "
            + ("about as far as" if newton_verdict is None else "at least as far as")
            + " removing the persona did, so what the persona prompt changes cannot be told from what its "
            "words change. A small model may follow wording more than it follows a persona; whether a "
            "bigger one does otherwise is one setting away (`EEP_LOCAL_MODEL` for a "
            "bigger GGUF, or `OPENAI_BASE_URL`, `OPENAI_API_KEY` and `EEP_CHATBOT_MODEL` for an endpoint; "
            "*Re-run with your own chatbot* estimates the time and cost).")


def in_words(estimate: Estimate) -> str:
    return f"{estimate.value:.1f} (95% CI {estimate.low:.1f} to {estimate.high:.1f})"


def interval(estimate: Estimate, digits: int) -> str:
    """An estimate for a display table, e.g. "0.12 [0.05, 0.20]"."""
    return f"{estimate.value:.{digits}f} [{estimate.low:.{digits}f}, {estimate.high:.{digits}f}]"
