"""Reading answers: a chat completion (as JSON) turned into a `ChatAnswer` (the one conversion, used by the
live client and the Batch API import), a choice among words, the teacher's probability of each choice
read from the log-probabilities where the choice is made, and cuteness judgments. Pure functions, no I/O."""
from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from typing import Sequence

from eep_utils.chat.types import ChatAnswer, ChatRequest, MalformedCompletion


_NEGATION = re.compile(r"\b(not|no|never|cannot|can't|won't|don't|refuse|sorry|unable)\b|n't\b")
# After a word that stands alone as an answer: the end, a line break or punctuation ("Left.", "No —",
# "Yes, it is cute", "**right**"), not another word ("left or right", "no idea").
_STANDS_ALONE = r"(?=[ \t]*(?:$|\n|[.,!?;:)\]}*\"'`—–-]))"
_OPENING_WORD = re.compile(r"[\W_]*?(\w+)" + _STANDS_ALONE)


def parse_choice(text: str | None, choices: Sequence[str] = ("left", "right")) -> str | None:
    """The one choice an answer makes, read the way chatbots answer, in any case.

    An answer that opens with a choice standing alone makes it, whatever follows ("Left.", " RIGHT",
    "No —", "Yes, it is cute", "**left**, because ..."): hosted models explain after their answer.
    Otherwise the one choice named as a whole word ("I push the cart right" → "right"); a choice that is
    itself a negation ("no") counts only standing alone, so "I have no idea" names none. None for an
    empty answer, one naming no choice or several ("left or right"), or one that negates or declines
    ("I cannot push left"): such an answer is not the teacher's decision."""
    if not text:
        return None
    lowered = text.lower()
    wanted = {choice.lower(): choice for choice in choices}
    opening = _OPENING_WORD.match(lowered)
    if opening and opening.group(1) in wanted:
        return wanted[opening.group(1)]

    def named(word: str) -> bool:
        alone = _STANDS_ALONE if _NEGATION.fullmatch(word) else ""
        return re.search(rf"\b{re.escape(word)}\b{alone}", lowered) is not None

    choices_named = {wanted[word] for word in wanted if named(word)}
    negations = [match.group(0) for match in _NEGATION.finditer(lowered) if match.group(0) not in wanted]
    if len(choices_named) != 1 or negations:
        return None
    return choices_named.pop()


# No tokenizer spells a word in more than this many characters a token: an answer longer than
# max_tokens times this did not come from a server that honoured max_tokens.
MAX_CHARACTERS_PER_TOKEN = 16


def within_length(answer: ChatAnswer, request: ChatRequest) -> bool:
    """Whether the answer is no longer than the request allowed (a server that ignores max_tokens can
    return kilobytes of text that happens to end in a valid word: that is not a decision)."""
    if request.max_tokens is None:
        return True
    return (answer.completion_tokens <= request.max_tokens
            and len(answer.text or "") <= MAX_CHARACTERS_PER_TOKEN * request.max_tokens)


def _spells(token: str) -> str:
    return token.strip().strip(".,!:;\"'`*()[]{}").lower()


def choice_probabilities(answer: ChatAnswer, chosen: str, choices: Sequence[str] = ("left", "right"),
                         synonyms: dict[str, Sequence[str]] | None = None) -> dict[str, float] | None:
    """The teacher's probability of each choice, read where it made the choice it made.

    The position is the first answer token that spells `chosen` (any case, surrounding spaces or
    punctuation: "Left", " left", "LEFT."); there, the alternatives that spell a choice pool their
    probability, renormalised over the choices (a choice absent from the top alternatives counts as 0).
    None when the answer has no log-probabilities, when the endpoint gave the chosen token without its
    alternatives (nothing to compare it with), or when no token spells `chosen` (e.g. a word split over
    several tokens): never a probability read at a position where no choice was made. At temperature 0
    the chosen token is the most probable one there, so the result favours `chosen`; `agrees_with`
    checks that.

    `synonyms` adds words that spell a choice ({"yes": ["true"], "no": ["false"]} for a JSON verdict)."""
    reading = choice_reading(answer, chosen, choices, synonyms)
    return None if reading is None else reading[0]


def choice_reading(answer: ChatAnswer, chosen: str, choices: Sequence[str] = ("left", "right"),
                   synonyms: dict[str, Sequence[str]] | None = None) -> tuple[dict[str, float], float] | None:
    """`choice_probabilities`, and the *answer mass*: the total probability the choices' spellings hold at
    that position before renormalising (small: the model was mostly about to say something else)."""
    if not answer.logprobs:
        return None
    wanted = {choice.lower(): choice for choice in choices}
    for choice, words in (synonyms or {}).items():
        wanted.update({word.lower(): choice for word in words})
    for position in answer.logprobs:
        if wanted.get(_spells(position["token"])) != chosen:
            continue
        if not position.get("top_logprobs"):
            return None
        mass = dict.fromkeys(choices, 0.0)
        alternatives = {alt["token"]: alt["logprob"] for alt in position["top_logprobs"]}
        alternatives.setdefault(position["token"], position["logprob"])
        for token, logprob in alternatives.items():
            choice = wanted.get(_spells(token))
            if choice is not None:
                mass[choice] += math.exp(logprob)
        total = sum(mass.values())
        return {choice: value / total for choice, value in mass.items()}, total
    return None


def agrees_with(probabilities: dict[str, float], chosen: str) -> bool:
    """Whether the soft label favours (or ties with) the choice actually made."""
    return probabilities[chosen] >= max(probabilities.values())


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
    """A judgment: a yes or no, or a `{"cute": true, "score": 7}` answer, read tolerantly.

    Accepts an answer opening with its verdict ("yes", "No.", " YES", "Yes, it is cute", "No —"), code
    fences, single quotes, Python literals, "Cute: yes, score 7/10", prose with a score out of 10, and
    a verdict named once in prose ("I would say yes"). A missing part is None; a score outside 0–10 is
    not a score. With only a score, cute is left None rather than guessed."""
    if not text:
        return Judgment(None, None)
    opening = _OPENING_WORD.match(text.lower())
    if opening and opening.group(1) in ("yes", "no"):
        return Judgment(opening.group(1) == "yes", None)
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
    if cute is None and score is None:
        verdict = parse_choice(text, ("yes", "no"))
        cute = None if verdict is None else verdict == "yes"
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


def answer_from_completion(completion: dict, latency_s: float = 0.0) -> ChatAnswer:
    """A ChatAnswer from a chat completion as JSON (a live response's `model_dump()` or a Batch API
    response body). Raises MalformedCompletion for a body that is not a completion with a message."""
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if not choices or not isinstance(choices[0], dict) or not isinstance(choices[0].get("message"), dict):
        raise MalformedCompletion(f"the endpoint returned no chat completion message: {str(completion)[:200]!r}")
    choice = choices[0]
    message = choice["message"]
    usage = completion.get("usage") or {}
    return ChatAnswer(
        text=message.get("content") or "", model=completion.get("model") or "",
        prompt_tokens=usage.get("prompt_tokens") or 0, completion_tokens=usage.get("completion_tokens") or 0,
        latency_s=latency_s, logprobs=token_logprobs(choice.get("logprobs")),
        system_fingerprint=completion.get("system_fingerprint"), finish_reason=choice.get("finish_reason"),
        refusal=message.get("refusal"),
    )


def token_logprobs(logprobs: dict | None) -> list[dict] | None:
    """The API's per-token log-probabilities without their byte lists (which only repeat the token)."""
    content = (logprobs or {}).get("content") or []
    if not content:
        return None
    return [{"token": item["token"], "logprob": item["logprob"],
             "top_logprobs": [{"token": alt["token"], "logprob": alt["logprob"]}
                              for alt in item.get("top_logprobs") or []]}
            for item in content]
