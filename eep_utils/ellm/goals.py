"""ELLM on CartPole, the chatbot's side: the goal prompt, reading goals out of answers, the offline
stand-in, asking once per text state, and the actions the goals advise.

ELLM (Du et al. 2023) moves an LLM's common sense into an agent without demonstrations: at each
step the LLM reads a caption of the state and the valid actions and suggests goals, and the agent
is rewarded for transitions that look like them (`eep_utils.ellm.rewards`). Here:

- the state caption is the 2023 text projection (`Projection.describe`), the words the 2023
  chatbot read; the system message opens with a voice's introduction (`eep_utils.personas`:
  a persona in a template and wording, the neutral control `no_persona` included), as chapter 02's;
- the answer format is shown by worked exchanges from a pool over different states and pushes
  (`WORKED_EXAMPLES`), cut into sets; each state's question shows one set, the same for every voice,
  so that no single worked answer can be copied everywhere and a copy can be told from an answer
  about the state (`eep_utils.ellm.verdicts`); or none;
- goals come from any teacher (`chat.types.Teacher`) through `goal_request` / `parse_goals`, and the
  offline `GoalTemplateStandIn` answers like a chatbot from a readable table of goal templates per
  persona and situation (`GOAL_TEMPLATES`);
- goals depend only on the text state (and the worked examples shown with it), so they are asked once
  per state (`suggest_goals`);
- `advised_actions`: the teacher acting on its own advice, the push its goals name in each state.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eep_utils.cartpole.embodiment import (
    ACTIONS,
    STUDY_2023,
    Projection,
    direction_named,
    opposite,
)
from eep_utils.chat.running import acomplete_all, run_with
from eep_utils.chat.types import ChatAnswer, ChatRequest, Teacher
from eep_utils.chat.usage import Usage
from eep_utils.personas import PERSONAS, TEMPLATES, WORDINGS, Voice, template_named

# ---------------------------------------------------------------------------------------------
# The goal prompt: a voice's introduction (eep_utils.personas) before the task

VALID_ACTIONS = ("push the cart left", "push the cart right")

GOAL_TASK = """Your task is to advise an agent that balances a pole on a cart.
The pole is hinged on top of the cart and can fall left or right; the cart runs on a short track.
Each turn you are told the actions the agent can take and what it senses, described as follows:
{schema}
Suggest goals the agent should try to achieve next, one per line, as short phrases."""

# The voice the chapter asks when only a persona is named: the 2023 study's frame, first wording.
DEFAULT_TEMPLATE, DEFAULT_WORDING = "you-are", 1
# An answer is a few short phrases: about eight tokens each, with room to spare; a longer answer is cut.
MAX_TOKENS_PER_GOAL = 12


@dataclass(frozen=True)
class WorkedExample:
    """A worked exchange that shows the answer format: a text state (its words) and the goals answered."""

    words: tuple[str, ...]  # cart-position, cart-velocity, pole-angular-velocity, pole-angle
    goals: tuple[str, ...]

    @property
    def answer(self) -> str:
        return "\n".join(f"- {goal}" for goal in self.goals)


# Common-sense goals written for this book, over different states and both pushes, each worded its own way
# so that a copied answer is recognisable. Consecutive pairs are the sets of two: each set holds one
# example that pushes left and one that pushes right or pushes not at all.
WORKED_EXAMPLES = (
    WorkedExample(("center", "stopped", "zero", "left"),
                  ("push the cart left", "bring the pole back to upright")),
    WorkedExample(("left", "rightwards", "rightwards", "right"),
                  ("push the cart right", "catch the pole before it falls to the right")),
    WorkedExample(("right", "stopped", "leftwards", "upright"),
                  ("push the cart left", "stop the pole swinging left", "move the cart back toward the center")),
    WorkedExample(("left", "stopped", "zero", "right"),
                  ("push the cart right", "lift the pole back to vertical", "move the cart toward the middle")),
    WorkedExample(("center", "leftwards", "zero", "upright"),
                  ("keep the pole upright", "slow the cart down")),
    WorkedExample(("center", "rightwards", "rightwards", "upright"),
                  ("push the cart right", "stop the pole tipping right")),
    WorkedExample(("left", "leftwards", "leftwards", "left"),
                  ("push the cart left", "save the pole from falling left", "keep the cart from leaving the track")),
    WorkedExample(("right", "rightwards", "leftwards", "right"),
                  ("let the pole swing back up", "slow the cart before the right end")),
)
# Which set of worked examples each state's question shows: the states in a fixed shuffled order, dealt
# round the sets. The seed is part of the recorded prompt (changing it changes every request).
EXAMPLE_DEAL_SEED = 2023


def example_sets(per_question: int) -> list[tuple[WorkedExample, ...]]:
    """The pool cut into consecutive sets of `per_question` worked examples (none: one empty set)."""
    if per_question == 0:
        return [()]
    if len(WORKED_EXAMPLES) % per_question:
        raise ValueError(f"worked_examples = {per_question} does not divide the pool of {len(WORKED_EXAMPLES)} "
                         "worked examples into equal sets; use 0, 1, 2, 4 or 8 (notebooks/parameters.yaml)")
    return [WORKED_EXAMPLES[i:i + per_question] for i in range(0, len(WORKED_EXAMPLES), per_question)]


def example_set_of_states(per_question: int, projection: Projection = STUDY_2023) -> np.ndarray:
    """Per text state, the index (into `example_sets(per_question)`) of the set its question shows.

    The order of dealing is a seeded shuffle, so that a set's states share no feature; a state that one
    of its set's examples is about goes to the next set, so that no question shows its own answer."""
    sets = example_sets(per_question)
    dealt = np.empty(projection.n_states, dtype=np.int64)
    order = np.random.default_rng(EXAMPLE_DEAL_SEED).permutation(projection.n_states)
    for position, state in enumerate(order):
        chosen = position % len(sets)
        while any(projection.state_of_words(example.words) == state for example in sets[chosen]):
            chosen = (chosen + 1) % len(sets)
        dealt[state] = chosen
    return dealt


def as_voice(voice: str | Voice) -> Voice:
    """A voice, or a persona's key standing for it in the default template and wording."""
    return voice if isinstance(voice, Voice) else Voice(voice, DEFAULT_TEMPLATE, DEFAULT_WORDING)


def system_message(voice: str | Voice, projection: Projection = STUDY_2023) -> str:
    """The voice's introduction, then the task (for newton · you-are · w1 the 2023 sentence opens it)."""
    voice = as_voice(voice)
    return template_named(voice.template).introduce(voice.of(), voice.wording) + " " + GOAL_TASK.format(
        schema=projection.schema())


def _goal_question(description: str, k: int, valid_actions) -> str:
    return f"Valid actions: {', '.join(valid_actions)}\nYou see:\n{description}\nSuggest {k} goals."


def goal_request(voice: str | Voice, description: str, k: int, examples: tuple[WorkedExample, ...] = (),
                 projection: Projection = STUDY_2023, valid_actions=VALID_ACTIONS) -> ChatRequest:
    """The chat request that asks a teacher, as `voice`, for `k` goals in the state `description`, after
    the worked `examples` (each a question and its answer, in the same format)."""
    messages = [("system", system_message(voice, projection))]
    for example in examples:
        description_of_example = projection.describe_state(projection.state_of_words(example.words))
        messages += [("user", _goal_question(description_of_example, len(example.goals), valid_actions)),
                     ("assistant", example.answer)]
    messages.append(("user", _goal_question(description, k, valid_actions)))
    return ChatRequest(tuple(messages), temperature=0.0, max_tokens=MAX_TOKENS_PER_GOAL * k)


def goal_requests(voice: str | Voice, k: int, worked_examples: int,
                  projection: Projection = STUDY_2023) -> list[ChatRequest]:
    """The question of every text state (index = state), each with its dealt set of worked examples."""
    sets, dealt = example_sets(worked_examples), example_set_of_states(worked_examples, projection)
    return [goal_request(voice, projection.describe_state(state), k, sets[dealt[state]], projection)
            for state in range(projection.n_states)]


# ---------------------------------------------------------------------------------------------
# Parsing goals out of free text

_LIST_MARKER = re.compile(r"^\s*(?:[-*•‣◦–]+|\(?\d{1,2}[.):]|\(?[a-eA-E][.)])\s+")
_INLINE_NUMBER = re.compile(r"\s+(?=\(?\d{1,2}[.)]\s)")
_LEAD_WORDS = re.compile(r"^(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|next|then|finally|also|and|lastly)\b[,:]?\s*",
                         re.IGNORECASE)
_EXPLANATION = re.compile(r"\s+(?:-|–|—)\s+|:\s|\s\(")
_REFUSAL = re.compile(r"\b(?:i'?m sorry|i am sorry|i cannot|i can'?t|as an ai)\b", re.IGNORECASE)
_MAX_GOAL_WORDS = 16  # longer fragments are explanations, not goals


def parse_goals(text: str, k: int | None = None) -> list[str]:
    """The goals in a chatbot's answer, lower-case, in order, without duplicates, at most `k`.

    Lists (bullets, numbering, inline "1) … 2) …") give their items and drop any prose around
    them; prose is split into sentences and clauses (";"), after a lead-in ending in ":". An
    item's explanation after " - ", ": " or " (" is dropped. A refusal gives no goals."""
    if not text or _REFUSAL.search(text):
        return []
    text = _INLINE_NUMBER.sub("\n", text.replace("**", "").replace("__", ""))
    lines = [line for line in text.splitlines() if line.strip()]
    listed = [_LIST_MARKER.sub("", line, count=1) for line in lines if _LIST_MARKER.match(line)]
    if listed:
        fragments = listed
    else:
        prose = " ".join(lines)
        if ":" in prose.split(".")[0]:
            prose = prose.split(":", 1)[1]
        fragments = re.split(r"(?<=[.!?])\s+|;|\n", prose)
    goals = []
    for fragment in fragments:
        goal = _EXPLANATION.split(fragment.strip(), maxsplit=1)[0]
        goal = _LEAD_WORDS.sub("", goal.strip(" \t\"'`")).strip(" \t.,;:!\"'`").lower()
        goal = re.sub(r"\s+", " ", goal)
        if goal and len(goal.split()) <= _MAX_GOAL_WORDS and not goal.endswith("goals") and goal not in goals:
            goals.append(goal)
    return goals[:k] if k is not None else goals


# ---------------------------------------------------------------------------------------------
# The offline stand-in: goal templates per persona and situation

# What each persona suggests, most important first. Pole templates name the side the pole leans
# or swings to ({side}) and the other side ({other}); cart templates the side the cart is on.
# A stand-in answers a situation's pole goals, then its cart goals, then the persona's standing goals.
GOAL_TEMPLATES = {
    "newton": {
        "balanced": ["keep the pole upright and at rest"],
        "tipping": ["push the cart {side} to get under the pole", "stop the pole's rotation to the {side}"],
        "falling": ["push the cart {side} to get under the pole", "bring the pole back to upright",
                    "stop the pole from falling to the {side}"],
        "recovering": ["push the cart {side} so the pole does not overshoot", "let the pole swing back to upright"],
        "centered": ["keep the cart at rest near the center"],
        "off_center": ["push the cart {other} to bring it back toward the center"],
        "drifting_away": ["slow the cart before it reaches the {side} end of the track",
                          "push the cart {other} to bring it back toward the center"],
        "always": ["keep the pole balanced as long as possible", "keep the cart on the track"],
    },
    "no_persona": {
        "balanced": ["keep the pole upright"],
        "tipping": ["move the cart {side}", "keep the pole from falling {side}"],
        "falling": ["move the cart {side}", "keep the pole from falling {side}", "get the pole upright again"],
        "recovering": ["let the pole come back up", "do not push too hard"],
        "centered": ["keep the cart in the middle"],
        "off_center": ["move the cart {other} toward the middle"],
        "drifting_away": ["stop the cart before it leaves the track", "move the cart {other} toward the middle"],
        "always": ["keep the pole from falling over", "stay on the track"],
    },
    "aristotle": {
        "balanced": ["let the pole rest, as heavy things seek rest"],
        "tipping": ["push the cart {other} to hold the pole up", "let the pole seek its natural place"],
        "falling": ["push the cart {other} to hold the pole up", "let the pole come to rest in its natural place"],
        "recovering": ["push the cart {other} to help the pole rise", "let the pole find its place"],
        "centered": ["keep pushing the cart so it keeps moving"],
        "off_center": ["keep pushing the cart {side}, for it stops when no longer pushed"],
        "drifting_away": ["keep the cart moving {side}"],
        "always": ["keep the cart in motion", "let nature take its course"],
    },
}
# How each persona writes its list, so the parser meets numbering, bullets and prose.
ANSWER_STYLES = {"newton": "numbered", "no_persona": "bullets", "aristotle": "prose"}
_PUSH = re.compile(r"\b(?:push(?:ed)?|move) the cart (?:to the )?(\w+)")


def pushed_direction(text: str) -> str | None:
    """The direction in which a goal ("push the cart left to …", "move the cart to the right") or a
    transition caption ("you pushed the cart left, …") pushes the cart; None if it names no such push."""
    for push in _PUSH.finditer(text):
        direction = direction_named(push.group(1))
        if direction:
            return direction
    return None


def situation(projection: Projection, words: tuple[str, ...]) -> tuple[str, str | None, str, str | None]:
    """(pole situation, its side, cart situation, its side) of a text state, as the templates name them."""
    by_label = dict(zip((f.label for f in projection.features), words))
    lean, swing = direction_named(by_label["pole-angle"]), direction_named(by_label["pole-angular-velocity"])
    if lean is None:
        pole = ("balanced", None) if swing is None else ("tipping", swing)
    else:
        pole = ("recovering", lean) if swing == opposite(lean) else ("falling", lean)
    place, moving = direction_named(by_label["cart-position"]), direction_named(by_label["cart-velocity"])
    if place is None:
        cart = ("centered", None)
    else:
        cart = ("drifting_away", place) if moving == place else ("off_center", place)
    return (*pole, *cart)


def stand_in_goals(persona: str, projection: Projection, words: tuple[str, ...],
                   valid_actions=VALID_ACTIONS) -> list[str]:
    """Every goal the stand-in would suggest as `persona` in the text state `words`, most important first.

    Goals that push the cart in a direction the valid actions do not offer are left out."""
    templates = GOAL_TEMPLATES[persona]
    pole, pole_side, cart, cart_side = situation(projection, words)
    goals = []
    for template, side in ([(t, pole_side) for t in templates[pole]] + [(t, cart_side) for t in templates[cart]]
                           + [(t, None) for t in templates["always"]]):
        goal = template.format(side=side, other=opposite(side) if side else None)
        push = pushed_direction(goal)
        if push and f"push the cart {push}" not in valid_actions:
            continue
        if goal not in goals:
            goals.append(goal)
    return goals


def _write_answer(goals: list[str], style: str) -> str:
    if style == "numbered":
        return "\n".join(f"{i}. {goal[0].upper()}{goal[1:]}." for i, goal in enumerate(goals, 1))
    if style == "bullets":
        return "\n".join(f"- {goal}" for goal in goals)
    return "I would suggest these goals: " + "; ".join(goals) + "."


class GoalTemplateStandIn:
    """An offline stand-in for a goal-suggesting chatbot: reads the persona, state, valid actions and k
    from the prompt, answers from `GOAL_TEMPLATES` in the persona's own style. Not a chatbot."""

    label = "ELLM goal templates (offline stand-in, not a chatbot)"
    is_chatbot = False
    model = "goal-templates"

    def __init__(self, projection: Projection = STUDY_2023):
        self.projection = projection
        self.usage = Usage()  # a Teacher counts its answers; chapter 05 says how many were replayed (none here)

    def persona_of(self, system_message: str) -> str:
        """The key of the persona whose introduction (in any template and wording) opens the prompt."""
        found = voice_in(system_message)
        if found is None or found.persona not in GOAL_TEMPLATES:
            raise ValueError(f"the goal stand-in knows the personas {', '.join(GOAL_TEMPLATES)}, and this prompt "
                             f"opens with none of them: {system_message[:80]!r}")
        return found.persona

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        system = next((content for role, content in request.messages if role == "system"), "")
        question = [content for role, content in request.messages if role == "user"][-1]
        valid = re.search(r"^Valid actions:(.*)$", question, re.MULTILINE)
        wanted = re.search(r"Suggest (\d+) goals", question)
        seen = re.search(r"You see:\n(.*?)\nSuggest", question, re.DOTALL)
        if not (valid and wanted and seen):
            raise ValueError(f"the goal stand-in cannot read this prompt (not made by goal_request): {question!r}")
        persona = self.persona_of(system)
        words = self.projection.words_of_state(self.projection.parse_description(seen.group(1)))
        valid_actions = tuple(a.strip() for a in valid.group(1).split(","))
        goals = stand_in_goals(persona, self.projection, words, valid_actions)[:int(wanted.group(1))]
        answer = ChatAnswer(_write_answer(goals, ANSWER_STYLES[persona]), self.model)
        self.usage.add_answer(answer)
        return answer


def voice_in(system_message: str) -> Voice | None:
    """The voice whose introduction opens `system_message` (the longest that does); None if none does.
    Templates that introduce a persona alike give the first of them."""
    introductions = {template.introduce(persona, wording): Voice(persona.key, template.key, wording)
                     for template in reversed(TEMPLATES.values()) for persona in PERSONAS.values()
                     for wording in WORDINGS}
    opening = [text for text in introductions if system_message.startswith(text)]
    return introductions[max(opening, key=len)] if opening else None


# ---------------------------------------------------------------------------------------------
# Asking for goals: once per text state

@dataclass
class GoalSuggestions:
    """The goals one teacher suggested in one voice, for every text state (index = state), and the worked
    examples each state's question showed (none: empty)."""

    voice: str  # the voice's label ("newton · you-are · w1")
    teacher: str
    is_chatbot: bool
    k: int
    goals: list[list[str]]
    answers: list[str]
    examples: list[tuple[WorkedExample, ...]] | None = None  # per state; None: no worked examples were shown

    def shown(self, state: int) -> tuple[WorkedExample, ...]:
        """The worked examples the question of `state` showed."""
        return self.examples[state] if self.examples else ()

    @property
    def vocabulary(self) -> list[str]:
        """Every distinct goal, in order of first suggestion."""
        return list(dict.fromkeys(goal for goals in self.goals for goal in goals))

    def goal_ids(self, k: int | None = None) -> np.ndarray:
        """(n_states, k) ids into `vocabulary` of each state's first k goals; -1 where fewer were given."""
        k = self.k if k is None else k
        index = {goal: i for i, goal in enumerate(self.vocabulary)}
        ids = np.full((len(self.goals), k), -1, dtype=np.int64)
        for state, goals in enumerate(self.goals):
            for slot, goal in enumerate(goals[:k]):
                ids[state, slot] = index[goal]
        return ids

    @property
    def unparsed_states(self) -> list[int]:
        """States whose answer gave no goal (kept in `answers` as received)."""
        return [state for state, goals in enumerate(self.goals) if not goals]

    def table(self, projection: Projection = STUDY_2023) -> pd.DataFrame:
        return pd.DataFrame({
            "state": np.arange(len(self.goals)),
            "description": [", ".join(projection.words_of_state(s)) for s in range(len(self.goals))],
            "goals": ["; ".join(goals) for goals in self.goals],
            "answer": self.answers,
        }).set_index("state")


def suggest_goals(teacher: Teacher, voice: str | Voice, k: int, worked_examples: int = 2,
                  projection: Projection = STUDY_2023, max_in_flight: int = 8) -> GoalSuggestions:
    """Ask `teacher`, as `voice`, for `k` goals in every text state of `projection` (concurrently), each
    question after its dealt set of `worked_examples` worked exchanges (`goal_requests`).

    An answer that yields no goals is kept and counted; its state simply gives no reward."""
    voice = as_voice(voice)
    answers = run_with(teacher, acomplete_all(teacher, goal_requests(voice, k, worked_examples, projection),
                                              max_in_flight))
    sets, dealt = example_sets(worked_examples), example_set_of_states(worked_examples, projection)
    return GoalSuggestions(voice.label, teacher.label, teacher.is_chatbot, k,
                           [parse_goals(answer.text, k) for answer in answers], [answer.text for answer in answers],
                           [sets[index] for index in dealt] if worked_examples else None)


def advised_actions(suggestions: GoalSuggestions, default: int = 1) -> np.ndarray:
    """The teacher acting on its own advice: per text state, the push (0 left, 1 right) its goals name.

    Goals come most important first, so where a state's goals name both pushes the first named wins;
    where they name none (or the teacher gave no goal there) the state gets `default`, right as the
    2023 scripts' fallback answer was. A push is named as the valid actions word it ("push the cart
    left", or "move the cart to the right"; see `pushed_direction`)."""
    table = np.full(len(suggestions.goals), default, dtype=np.int64)
    for state, goals in enumerate(suggestions.goals):
        named = next((push for push in map(pushed_direction, goals) if push), None)
        if named:
            table[state] = ACTIONS.index(named)
    return table
