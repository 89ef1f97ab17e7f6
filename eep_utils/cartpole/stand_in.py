"""The CartPole stand-in (not a chatbot): one readable rule per persona over the text state, answering the
same prompts a chatbot gets. A test double and a labelled comparison ("what a rule-follower would do"),
never in place of the chatbot."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eep_utils.cartpole.embodiment import ACTIONS, STUDY_2023, Projection, direction_named, opposite
from eep_utils.chat.types import ChatAnswer, ChatRequest
from eep_utils.chat.usage import Usage
from eep_utils.personas import Voice

TOWARD, AGAINST = "toward", "against"


@dataclass(frozen=True)
class StandInRule:
    """Checks in order: the first quantity whose word names a direction decides, pushing toward or
    against that direction; if none does, `default`."""

    says: str
    checks: tuple[tuple[str, str], ...]  # (feature label, TOWARD or AGAINST)
    default: str


STAND_IN_RULES = {
    "newton": StandInRule("push toward where the pole swings; if it is not swinging, toward where it leans",
                          (("pole-angular-velocity", TOWARD), ("pole-angle", TOWARD)), "right"),
    "no_persona": StandInRule("the prompt's rule, literally: push toward where the pole leans; if upright, "
                              "toward where it swings", (("pole-angle", TOWARD), ("pole-angular-velocity", TOWARD)),
                              "right"),
    "aristotle": StandInRule("shove the pole back: push against where it leans; if upright, against its swing",
                             (("pole-angle", AGAINST), ("pole-angular-velocity", AGAINST)), "left"),
}


def describe_stand_in_rules() -> pd.DataFrame:
    """The stand-in rules as a table for the book."""
    return pd.DataFrame([{"persona": name, "rule": rule.says,
                          "checks, in order": "; ".join(f"{how} {label}" for label, how in rule.checks),
                          "otherwise": rule.default} for name, rule in STAND_IN_RULES.items()]).set_index("persona")


def rule_choice(rule: StandInRule, words: dict[str, str]) -> str:
    for label, how in rule.checks:
        direction = direction_named(words[label])
        if direction is not None:
            return direction if how == TOWARD else opposite(direction)
    return rule.default


class RuleStandIn:
    """A persona's offline stand-in: its rule over the text state, answering as a chatbot would.

    Reads the state from the last user message that describes one (a reminder is not a state) and
    answers "left" or "right". It has no token probabilities, so answers carry no log-probabilities."""

    is_chatbot = False

    def __init__(self, persona: str | Voice, projection: Projection = STUDY_2023):
        persona = persona.persona if isinstance(persona, Voice) else persona
        if persona not in STAND_IN_RULES:
            raise ValueError(f"no stand-in rule for persona {persona!r}; rules exist for {', '.join(STAND_IN_RULES)}")
        self.persona = persona  # whose rule: chapters ask one stand-in per persona
        self.rule = STAND_IN_RULES[persona]
        self.projection = projection
        self.model = f"rule table '{persona}'"
        self.label = f"stand-in: rule table '{persona}' (offline; not a chatbot)"
        self.usage = Usage()

    def choose(self, state: int) -> str:
        labels = [feature.label for feature in self.projection.features]
        return rule_choice(self.rule, dict(zip(labels, self.projection.words_of_state(state))))

    def table(self) -> np.ndarray:
        """The rule as a lookup table over the projection's states (for `LookupTablePolicy`)."""
        return np.array([ACTIONS.index(self.choose(s)) for s in range(self.projection.n_states)], dtype=np.int64)

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        for role, content in reversed(request.messages):
            if role != "user":
                continue
            try:
                state = self.projection.parse_description(content)
            except ValueError:
                continue
            answer = ChatAnswer(self.choose(state), self.model)
            self.usage.add_answer(answer)
            return answer
        raise ValueError(f"{self.label} found no {self.projection.name} state description in the request "
                         f"({request.preview()})")
