"""The personas a chatbot is asked to be on CartPole (chapters 02 and 04) and when it suggests goals (chapter 05).

A persona is the sentence placed before the task text. Newton's is the 2023 study's sentence, word
for word; "no_persona" puts nothing there; Aristotle holds pre-Newtonian ideas of motion (a body
moves only while something pushes it), so his common sense about a falling pole should differ.

Each persona has two wordings of the same persona. Wording 1 is the one every chapter uses;
chapter 02 also asks wording 2, so that an effect of the persona can be told from an effect of its
wording (`eep_utils.cartpole.contrasts`). `persona.worded(2)` is the same persona speaking with
wording 2, and goes wherever a persona goes.

The cuteness judges of chapter 06 are another kind of persona (they carry a taste, not a view of
physics) and live in `eep_utils.personas_new` with every persona in every template.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Persona:
    """Who the chatbot is asked to be: `wordings[0]` is the chapters' sentence, the rest alternative wordings."""

    key: str  # as named in notebooks/parameters.yaml
    who: str  # for tables
    wordings: tuple[str, ...]  # each ends in a space, or is "": it goes right before the task text
    wording: int = 1  # which wording this value speaks with, counted from 1

    def __post_init__(self):
        if not 1 <= self.wording <= len(self.wordings):
            raise ValueError(f"persona {self.key!r} has wordings 1 to {len(self.wordings)}, not {self.wording}")
        for text in self.wordings:
            if text and not text.endswith(" "):
                raise ValueError(f"persona {self.key!r}: a wording must end in a space to precede the task: {text!r}")

    @property
    def sentence(self) -> str:
        """The text placed before the task, in this value's wording ("" for no persona)."""
        return self.wordings[self.wording - 1]

    def worded(self, wording: int) -> "Persona":
        """The same persona speaking with another of its wordings."""
        return replace(self, wording=wording)

    @property
    def label(self) -> str:
        """The key, with the wording where it is not the chapters' own (e.g. "newton (wording 2)")."""
        return self.key if self.wording == 1 else f"{self.key} (wording {self.wording})"


PERSONAS = {
    persona.key: persona for persona in (
        Persona("newton", "Sir Isaac Newton", (
            "You are Sir Isaac Newton. ",  # the 2023 study's sentence, word for word
            # The same persona reworded (chapter 02's wording control):
            "Imagine you are Sir Isaac Newton. ",
        )),
        Persona("no_persona", "no persona (the task text only)", (
            "",
            # The control reworded: a neutral sentence in the persona's place, so that a persona's effect
            # can be told from that of any extra sentence.
            "Please read the following task carefully. ",
        )),
        Persona("aristotle", "Aristotle", (
            # Pre-Newtonian motion: no inertia, no momentum.
            "You are Aristotle, who teaches that a body moves only while something pushes it "
            "and comes to rest as soon as the push stops. ",
            # The same persona reworded (chapter 02's wording control):
            "You are Aristotle. You hold that a body moves only while something pushes it, "
            "and that heavy things seek their natural place at rest on the ground. ",
        )),
    )
}


def persona_named(persona: str | Persona) -> Persona:
    """The registry's persona of that key (in its wording 1), or the persona itself."""
    if isinstance(persona, Persona):
        return persona
    try:
        return PERSONAS[persona]
    except KeyError:
        raise ValueError(f"unknown persona {persona!r}; known: {', '.join(PERSONAS)}") from None


def persona_in(text: str) -> Persona | None:
    """The persona, in the wording used, whose sentence `text` contains; None if none does.

    Longer sentences are tried first, so that a wording containing another is not mistaken for it;
    the empty wording of no persona matches nothing."""
    candidates = [persona.worded(n) for persona in PERSONAS.values() for n in range(1, len(persona.wordings) + 1)]
    for candidate in sorted(candidates, key=lambda p: -len(p.sentence)):
        if candidate.sentence and candidate.sentence.strip() in text:
            return candidate
    return None
