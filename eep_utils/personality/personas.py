"""Who judges the creatures: personas with their own tastes, the judging prompt, and the judgments.

Prompt contract (the offline stand-ins read prompts written this way): the persona's system message has
a line "You find cute: …" and a line "You do not find cute: …", each a comma-separated list of phrases;
the user message has a line "Caption: <text>"; the answer is "yes" or "no" (a grammar makes it exactly
one of the two for a server that reads grammars, such as the local llama.cpp chatbot), asked with
log-probabilities, so P(cute) is read at the answer token (`chat.parsing.choice_probabilities`), over
every spelling of the two words: llama.cpp reports the model's own distribution there, before the grammar
keeps only the lower-case words, and a small model prefers "No" or "Yes". The offline stand-in answers a JSON object `{"cute": true, "score": 7}` instead; `parse_judgment` reads both,
and the stand-in's score / 10 stands in for P(cute). The no-persona control gets no system message,
only the task, when a chatbot judges; an offline stand-in gets generic anchors instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from eep_utils.chat.parsing import Judgment, choice_probabilities, parse_judgment
from eep_utils.chat.running import complete_all
from eep_utils.chat.types import ChatRequest, Teacher


INSTRUCTION = "Judge every creature by your own taste, not by what most people would say."


@dataclass(frozen=True)
class Persona:
    key: str                       # short name for tables and file names
    identity: str                  # who the chatbot is asked to be
    likes: tuple[str, ...] = ()
    dislikes: tuple[str, ...] = ()
    instruction: str = INSTRUCTION  # the system message's last line
    wording: int = 1               # 1: the chapter's persona; 2: the same persona reworded (the wording control)

    @property
    def is_control(self) -> bool:
        return not self.likes and not self.dislikes

    def system_message(self) -> str | None:
        if self.is_control:
            return self.identity or None  # the control's second wording is one neutral sentence
        return "\n".join([
            self.identity,
            f"You find cute: {', '.join(self.likes)}",
            f"You do not find cute: {', '.join(self.dislikes)}",
            self.instruction,
        ])


PERSONAS = (
    Persona("Newton", "You are Sir Isaac Newton, natural philosopher of Cambridge, who prizes order, symmetry and keen "
            "observation.",
            likes=("owls", "soft feathers", "great shining eyes", "neat oval shapes", "white and grey colours",
                   "small tidy creatures"),
            dislikes=("slimy skin", "bared fangs", "bristly hairs", "snakes", "garish orange and pink colours")),
    Persona("five-year-old", "You are a five-year-old child who loves fluffy, round, soft things.",
            likes=("kittens", "puppies", "bunnies", "fluffy fur", "very round roly-poly bodies", "huge eyes",
                   "pink colour"),
            dislikes=("sharp teeth", "fangs", "spiders", "snakes", "scales", "slimy skin", "prickly spines")),
    Persona("herpetologist", "You are a herpetologist who has spent thirty years studying reptiles and amphibians.",
            likes=("snakes", "frogs and toads", "scales", "smooth moist skin", "warty skin", "green and brown colours",
                   "slender bodies with no legs"),
            dislikes=("fur", "feathers", "fluffy mammals", "kittens", "puppies")),
    Persona("spider-and-bat fan", "You are a naturalist who finds spiders and bats adorable.",
            likes=("spiders", "bats", "eight legs", "bristly hairs", "fangs", "black and purple colours",
                   "glossy hard shells"),
            dislikes=("kittens", "puppies", "bunnies", "pink colour", "fluffy round toys")),
    Persona("aquarist", "You are an aquarist who keeps tropical fish.",
            likes=("fish", "shiny scales", "bright blue colour", "bright orange and yellow colours", "fins",
                   "sleek oval bodies"),
            dislikes=("fur", "legs", "spiders", "hairy creatures", "dull grey and brown colours")),
)
NO_PERSONA = Persona("no persona", "")

# The same judges in other words: each identity, taste and instruction is rephrased (synonyms, another
# order), nothing is added or taken away. Students of a persona should agree with its rewording at least
# as well as with their own judge, and better than with any other persona. The control's rewording puts
# one neutral sentence where a persona would stand, so that "some system message" is not a persona effect.
REWORDED_INSTRUCTION = "Give your own opinion of each creature, not the popular one."
_REWORDINGS = {
    "Newton": ("Imagine you are Isaac Newton, the Cambridge scientist who values order, symmetry and careful "
               "observation.",
               ("small neat animals", "owls", "large bright eyes", "downy feathers", "tidy oval forms",
                "grey and white colouring"),
               ("snakes", "fangs on show", "slimy skin", "bristly hair", "loud orange and pink colouring")),
    "five-year-old": ("Imagine you are a small child of five who adores anything soft, round and fluffy.",
                      ("puppies", "kittens", "bunny rabbits", "big eyes", "fluffy fur", "chubby round bodies",
                       "pink"),
                      ("spiders", "fangs", "sharp teeth", "snakes", "slime", "scaly skin", "spikes")),
    "herpetologist": ("Imagine you are a scientist of reptiles and amphibians with thirty years in the field.",
                      ("frogs and toads", "snakes", "scaly skin", "bumpy warty skin", "moist smooth skin",
                       "long legless bodies", "green and brown"),
                      ("feathers", "fur", "kittens", "fluffy mammals", "puppies")),
    "spider-and-bat fan": ("Imagine you are a nature lover who thinks bats and spiders are adorable.",
                           ("bats", "spiders", "fangs", "eight legs", "bristly hair", "shiny hard shells",
                            "black and purple"),
                           ("puppies", "kittens", "pink", "bunnies", "round fluffy toys")),
    "aquarist": ("Imagine you keep tropical fish in aquariums as your passion.",
                 ("fins", "fish", "smooth oval bodies", "glittering scales", "vivid blue", "vivid orange and yellow"),
                 ("legs", "fur", "hairy animals", "spiders", "drab grey and brown")),
}


def reworded(persona: Persona) -> Persona:
    """The same judge in its second wording (key "<key> (wording 2)")."""
    key = f"{persona.key} (wording 2)"
    if persona.is_control:
        return Persona(key, "Please read the caption carefully.", wording=2)
    identity, likes, dislikes = _REWORDINGS[persona.key]
    return Persona(key, identity, likes, dislikes, REWORDED_INSTRUCTION, wording=2)

TASK = "Is this creature cute? Read its caption and answer yes or no."
VERDICT_WORDS = ("yes", "no")
VERDICT_GRAMMAR = 'root ::= "yes" | "no"'  # GBNF: the answer is exactly one of the two words
TOP_LOGPROBS = 10


def one_line(caption: str) -> str:
    """The caption as the prompt carries it: on its one "Caption:" line."""
    return " ".join(caption.split())


def judgment_request(persona: Persona, caption: str, constrained: bool = True) -> ChatRequest:
    """The prompt for one caption: temperature 0, a two-token answer with its log-probabilities, and (when
    `constrained`) a grammar that admits only "yes" or "no"."""
    messages = []
    if persona.system_message() is not None:
        messages.append({"role": "system", "content": persona.system_message()})
    messages.append({"role": "user", "content": f"{TASK}\nCaption: {one_line(caption)}"})
    return ChatRequest.from_messages(messages, temperature=0.0, max_tokens=2, logprobs=True, top_logprobs=TOP_LOGPROBS,
                                     grammar=VERDICT_GRAMMAR if constrained else None)


# An offline stand-in has no taste of its own: to judge the no-persona control it is given these generic
# anchors as likes and dislikes. That is our choice for the stand-in, not a habit of any chatbot;
# a chatbot judging the control gets the task alone.
GENERIC_LIKES = ("a cute, adorable animal", "a sweet, cuddly little creature")
GENERIC_DISLIKES = ("an ugly, scary animal", "a creepy, unpleasant creature")
STAND_IN_CONTROL_IDENTITY = "You judge with no persona of your own."


def persona_as_asked(persona: Persona, teacher: Teacher) -> Persona:
    """The persona whose prompt `teacher` gets: the control becomes generic anchors for an offline stand-in."""
    if persona.is_control and not teacher.is_chatbot:
        return Persona(persona.key, STAND_IN_CONTROL_IDENTITY, GENERIC_LIKES, GENERIC_DISLIKES,
                       wording=persona.wording)
    return persona


def verdict_of(judgment: Judgment) -> tuple[float, bool]:
    """A judgment's verdict, 1.0 cute, 0.0 not, NaN unknown, and whether it was read from the score alone.

    A judge that gave a 0–10 score but no yes/no is read as calling the creature cute at 5 or more."""
    if judgment.cute is not None:
        return float(judgment.cute), False
    if judgment.score is not None:
        return float(judgment.score >= 5), True
    return math.nan, False


def probability_of_cute(answer, judgment: Judgment) -> float:
    """P(cute): the judge's probability of "yes" over "no", every spelling pooled, at the answer token when it
    gave log-probabilities; else its 0–10 score / 10 (the stand-in); else NaN.

    Under the grammar the verdict is the likelier of the two lower-case words, which for a small model are
    both far down its list (it would say "No" or "Yes"); P(cute) is its preference over what it would
    have said, so the two can disagree, and the chapter reports how often."""
    if answer.logprobs and judgment.cute is not None:
        word = VERDICT_WORDS[0] if judgment.cute else VERDICT_WORDS[1]
        probabilities = choice_probabilities(answer, word, VERDICT_WORDS)
        return probabilities["yes"] if probabilities is not None else math.nan
    return judgment.score / 10 if judgment.score is not None else math.nan


def judge_captions(teacher: Teacher, persona: Persona, captions: Sequence[str], max_in_flight: int = 8,
                   constrained: bool = True) -> pd.DataFrame:
    """Ask `teacher`, as `persona`, about every caption, concurrently; one row per caption, answers kept verbatim.

    Columns: cute (1.0, 0.0, or NaN when the answer gave no verdict), p_cute (see `probability_of_cute`),
    score (10 × p_cute, the 0–10 scale the chapter reports), cute_from_score (the verdict was read from
    a score alone), answer (the text as received).
    """
    asked = persona_as_asked(persona, teacher)
    requests = [judgment_request(asked, caption, constrained) for caption in captions]
    # An offline stand-in with a sentence encoder embeds each caption on its own request, one at a time;
    # embedding them all in one batch first fills its cache (same vectors) and makes judging ~100× faster.
    encoder = None if teacher.is_chatbot else getattr(teacher, "encoder", None)
    if encoder is not None:
        encoder.encode([one_line(caption) for caption in captions])
    answers = complete_all(teacher, requests, max_in_flight)
    judgments = [parse_judgment(answer.text) for answer in answers]
    verdicts = [verdict_of(j) for j in judgments]
    p_cute = [probability_of_cute(answer, j) for answer, j in zip(answers, judgments)]
    return pd.DataFrame({
        "cute": [verdict for verdict, _ in verdicts],
        "p_cute": p_cute,
        "score": [10 * p for p in p_cute],
        "cute_from_score": [from_score for _, from_score in verdicts],
        "answer": [answer.text for answer in answers],
    })


def cuter_half(p_cute) -> np.ndarray:
    """1.0 where the judge's P(cute) is above its own median over the pictures, else 0.0 (NaN stays NaN).

    A small judge says "no" to nearly everything, so its verdicts are almost constant and no agreement
    can be measured against them; which pictures it finds *relatively* cute is its taste, and is what a
    student is taught here."""
    p_cute = np.asarray(p_cute, dtype=float)
    return np.where(np.isnan(p_cute), np.nan, (p_cute > np.nanmedian(p_cute)).astype(float))
