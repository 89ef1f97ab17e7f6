"""Reading answers: a choice among words, choice probabilities from log-probabilities, cuteness judgments,
and a chat completion (as JSON) turned into a `ChatAnswer`. Pure functions, no I/O."""
from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from typing import Sequence

from eep_utils.chat.types import ChatAnswer


_NEGATION = re.compile(r"\b(not|no|never|cannot|can't|won't|don't|refuse|sorry|unable)\b|n't\b")


def parse_choice(text: str | None, choices: Sequence[str] = ("left", "right")) -> str | None:
    """The one choice an answer names, as a whole word in any case ("I push the cart right" → "right").

    None for an empty answer, one naming no choice or several ("left or right"), or one that negates
    or declines ("I cannot push left"): such an answer is not the teacher's decision."""
    if not text:
        return None
    lowered = text.lower()
    named = {choice for choice in choices if re.search(rf"\b{re.escape(choice.lower())}\b", lowered)}
    if len(named) != 1 or _NEGATION.search(lowered):
        return None
    return named.pop()


def choice_probabilities(top_logprobs: dict[str, float] | None,
                         choices: Sequence[str] = ("left", "right")) -> dict[str, float] | None:
    """The teacher's probability of each choice from its first token's alternatives.

    Tokens that spell a choice (any case, surrounding spaces or punctuation) pool their probability;
    the pooled values are renormalised over the choices. None when no alternative spells a choice."""
    if not top_logprobs:
        return None
    mass = dict.fromkeys(choices, 0.0)
    for token, logprob in top_logprobs.items():
        word = token.strip().strip(".,!\"'").lower()
        for choice in choices:
            if word == choice.lower():
                mass[choice] += math.exp(logprob)
    total = sum(mass.values())
    if total == 0:
        return None
    return {choice: value / total for choice, value in mass.items()}


@dataclass(frozen=True)
class Judgment:
    cute: bool | None
    score: float | None

    @property
    def parsed(self) -> bool:
        return self.cute is not None or self.score is not None


_JSON_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)
_CUTE_WORD = re.compile(r"\bcute\b\W{0,3}\s*(yes|no|true|false)\b", re.IGNORECASE)
_SCORE = re.compile(r"\bscore\b\W{0,3}\s*(-?\d+(?:\.\d+)?)(?:\s*/\s*10)?", re.IGNORECASE)
_OUT_OF_TEN = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:/|out of)\s*10\b", re.IGNORECASE)


def parse_judgment(text: str | None) -> Judgment:
    """A `{"cute": true, "score": 7}` answer, read tolerantly.

    Accepts code fences, single quotes, Python literals, "Cute: yes, score 7/10" and prose with a
    score out of 10. A missing part is None; a score outside 0–10 is not a score. With only a score,
    cute is left None rather than guessed."""
    if not text:
        return Judgment(None, None)
    for candidate in _JSON_OBJECT.findall(text):
        fields = _loads_lenient(candidate)
        if isinstance(fields, dict):
            lowered = {str(k).lower(): v for k, v in fields.items()}
            if "cute" in lowered or "score" in lowered:
                return Judgment(_as_bool(lowered.get("cute")), _as_score(lowered.get("score")))
    cute_match = _CUTE_WORD.search(text)
    score_match = _SCORE.search(text) or _OUT_OF_TEN.search(text)
    cute = _as_bool(cute_match.group(1)) if cute_match else None
    score = _as_score(score_match.group(1)) if score_match else None
    return Judgment(cute, score)


def _loads_lenient(candidate: str):
    try:
        return json.loads(candidate)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", candidate)))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _as_bool(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("no", "false"):
        return False
    return None


def _as_score(value) -> float | None:
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    return score if 0 <= score <= 10 else None


def answer_from_completion(completion: dict, latency_s: float) -> ChatAnswer:
    """A ChatAnswer from a chat completion as JSON (a Batch API response body)."""
    choice = completion["choices"][0]
    message = choice.get("message") or {}
    usage = completion.get("usage") or {}
    return ChatAnswer(
        text=message.get("content") or "", model=completion.get("model", ""),
        prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0),
        latency_s=latency_s, top_logprobs=first_token_logprobs(choice.get("logprobs")),
        system_fingerprint=completion.get("system_fingerprint"), finish_reason=choice.get("finish_reason"),
        refusal=message.get("refusal"),
    )


def first_token_logprobs(logprobs: dict | None) -> dict[str, float] | None:
    """{token: log-probability} over the first answer token's alternatives (the token itself included)."""
    content = (logprobs or {}).get("content") or []
    if not content:
        return None
    first = content[0]
    alternatives = {alt["token"]: alt["logprob"] for alt in first.get("top_logprobs") or []}
    alternatives.setdefault(first["token"], first["logprob"])
    return alternatives
