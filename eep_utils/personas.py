"""Who judges the creatures: personas with their own tastes, the judging prompt, and the judgments.

Prompt contract (the offline stand-ins read prompts written this way): the persona's system message has
a line "You find cute: …" and a line "You do not find cute: …", each a comma-separated list of phrases;
the user message has a line "Caption: <text>"; the expected answer is a JSON object such as
`{"cute": true, "score": 7}`. The no-persona control gets no system message: only the task.
"""
from __future__ import annotations

import asyncio
import json
import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from .teachers import ChatRequest, Teacher, complete_all


@dataclass(frozen=True)
class Persona:
    key: str                       # short name for tables and file names
    identity: str                  # who the chatbot is asked to be
    likes: tuple[str, ...] = ()
    dislikes: tuple[str, ...] = ()

    @property
    def is_control(self) -> bool:
        return not self.identity

    def system_message(self) -> str | None:
        if self.is_control:
            return None
        return "\n".join([
            self.identity,
            f"You find cute: {', '.join(self.likes)}",
            f"You do not find cute: {', '.join(self.dislikes)}",
            "Judge every creature by your own taste, not by what most people would say.",
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

TASK = ("Is this creature cute? Read its caption and answer with a JSON object only, for example "
        '{"cute": true, "score": 7}, where "cute" is true or false and "score" is how cute it is from 0 (not at all) '
        "to 10 (extremely).")


def judgment_request(persona: Persona, caption: str) -> ChatRequest:
    """The prompt for one caption; temperature 0 and a short answer, as a judge needs."""
    messages = []
    if persona.system_message() is not None:
        messages.append({"role": "system", "content": persona.system_message()})
    caption = " ".join(caption.split())  # the caption stays on its one "Caption:" line
    messages.append({"role": "user", "content": f"{TASK}\nCaption: {caption}"})
    return ChatRequest.from_messages(messages, temperature=0.0, max_tokens=30)


@dataclass(frozen=True)
class Judgment:
    """One parsed answer. `cute` and `score` are None where the answer did not say; `text` is kept as sent."""

    cute: bool | None
    score: float | None
    text: str
    cute_from_score: bool = False   # the answer gave only a score; `cute` is score ≥ 5

    @property
    def parsed(self) -> bool:
        return self.cute is not None


_TRUE = {"true", "yes", "y", "cute", "1"}
_FALSE = {"false", "no", "n", "not cute", "0"}


def _as_cute(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        return True if word in _TRUE else False if word in _FALSE else None
    return None


def _as_score(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*10)?\s*", value)
        value = float(match.group(1)) if match else None
    if isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 10:
        return float(value)
    return None


def parse_cute_judgment(text: str) -> Judgment:
    """Read `{"cute": …, "score": …}` from an answer, however it is wrapped; never raises.

    Accepts the object inside prose or code fences, Python-style True/False, single quotes, yes/no strings
    and "7/10" scores; falls back to `cute: yes` / `score: 7` written without JSON. A score outside 0–10 is
    dropped. An answer with a score but no verdict is read as cute when the score is 5 or more (flagged).
    Provisional: the teacher layer's `parse_judgment` replaces this once it lands on main.
    """
    fields: dict = {}
    for candidate in re.findall(r"\{[^{}]*\}", text or ""):
        for attempt in (candidate, re.sub(r"'", '"', candidate).replace("True", "true").replace("False", "false")):
            try:
                document = json.loads(attempt)
            except json.JSONDecodeError:
                continue
            if isinstance(document, dict):
                fields = {str(k).strip().lower(): v for k, v in document.items()}
                break
        if fields:
            break
    if not fields:
        cute_match = re.search(r"\bcute\b\W{0,3}\s*(true|false|yes|no)\b", text or "", re.I)
        score_match = re.search(r"\bscore\b\W{0,3}\s*(\d+(?:\.\d+)?(?:\s*/\s*10)?)", text or "", re.I)
        fields = {"cute": cute_match.group(1) if cute_match else None,
                  "score": score_match.group(1) if score_match else None}
    cute, score = _as_cute(fields.get("cute")), _as_score(fields.get("score"))
    if cute is None and score is not None:
        return Judgment(score >= 5, score, text, cute_from_score=True)
    return Judgment(cute, score, text)


def _outside_event_loop(function, *args):
    """Run `function` where asyncio.run is allowed: in a worker thread when a loop already runs (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def judge_captions(teacher: Teacher, persona: Persona, captions: Sequence[str], max_in_flight: int = 8) -> pd.DataFrame:
    """Ask `teacher`, as `persona`, about every caption, concurrently; one row per caption, answers kept verbatim.

    Columns: cute (1.0, 0.0, or NaN when unparseable), score (0–10 or NaN), parsed, cute_from_score, answer.
    """
    requests = [judgment_request(persona, caption) for caption in captions]
    # Teachers that answer faster in bulk (the offline stand-in embeds all captions at once) get the batch first.
    if hasattr(teacher, "prepare"):
        teacher.prepare(requests)
    answers = _outside_event_loop(complete_all, teacher, requests, max_in_flight)
    judgments = [parse_cute_judgment(answer.text) for answer in answers]
    return pd.DataFrame({
        "cute": [float(j.cute) if j.parsed else math.nan for j in judgments],
        "score": [j.score if j.score is not None else math.nan for j in judgments],
        "parsed": [j.parsed for j in judgments],
        "cute_from_score": [j.cute_from_score for j in judgments],
        "answer": [j.text for j in judgments],
    })
