"""Teachers: whoever answers the text prompts — a live chatbot, its recorded transcripts, or an offline stand-in.

Every teacher takes the same `ChatRequest` (OpenAI chat messages and sampling settings) and gives a
`ChatAnswer`, so an experiment cannot tell them apart; but each names itself in `label`, and
`is_chatbot` is False for stand-ins, so no artefact can pass a stand-in off as a chatbot.

A chapter gets its teacher by a setting (`make_teacher`), reads answers with the pure parsers here
(`parse_choice`, `parse_judgment`, `choice_probabilities`) and reports what the run cost
(`teacher.usage.report()`).

Judgment prompt contract (chapter 06 writes prompts this way; `PersonaJudgeStandIn` reads them):
the system message has a line starting "You find cute:" and one starting "You do not find cute:",
each followed by comma-separated phrases; the user message has a line "Caption: <text>"; the answer
is a JSON object `{"cute": true, "score": 7}` (score 0–10).
"""
from __future__ import annotations

import ast
import asyncio
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

from eep_utils.paths import DATA_DIR

TEACHER_SETTINGS = ("auto", "live", "replay", "stand-in")
MODEL_VARIABLE = "EEP_CHATBOT_MODEL"
TRANSCRIPTS_DIR = DATA_DIR / "transcripts"


@dataclass(frozen=True)
class ChatRequest:
    """What is sent: the conversation and the sampling settings (the model is the teacher's)."""

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs, hashable for the transcript key
    temperature: float = 0.0
    max_tokens: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None

    @classmethod
    def from_messages(cls, messages: Sequence[dict], **settings) -> "ChatRequest":
        return cls(tuple((m["role"], m["content"]) for m in messages), **settings)

    def openai_messages(self) -> list[dict]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def settings(self) -> dict:
        """The sampling settings as the chat completions API names them (unset ones left out)."""
        settings = {"temperature": self.temperature}
        if self.max_tokens is not None:
            settings["max_tokens"] = self.max_tokens
        if self.logprobs:
            settings["logprobs"] = True
            if self.top_logprobs is not None:
                settings["top_logprobs"] = self.top_logprobs
        return settings

    def last_user_message(self) -> str:
        return next((content for role, content in reversed(self.messages) if role == "user"), "")

    def preview(self, width: int = 60) -> str:
        """A short human-readable name for the request, for error messages."""
        text = self.last_user_message().replace("\n", " | ")
        return f"{len(self.messages)} messages, last user message {text[:width]!r}"


@dataclass
class ChatAnswer:
    """What came back, with what it cost."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    # For the first answer token: each alternative token's log-probability, where the endpoint gives them.
    top_logprobs: dict[str, float] | None = None
    system_fingerprint: str | None = None
    replayed: bool = False
    extra: dict = field(default_factory=dict)
    finish_reason: str | None = None
    refusal: str | None = None  # the API's separate refusal field, when the model declined


class Teacher(Protocol):
    label: str
    is_chatbot: bool
    model: str
    usage: "Usage"

    async def acomplete(self, request: ChatRequest) -> ChatAnswer: ...


class TeacherSettingError(ValueError):
    """A teacher setting cannot be used as given; the message lists what can."""


class BudgetExhausted(RuntimeError):
    """The next request would exceed the run's request or token budget; everything recorded is kept."""


async def aclose(teacher: Teacher) -> None:
    """Release what a teacher holds in the running event loop (a live client's connections)."""
    close = getattr(teacher, "aclose", None)
    if close is not None:
        await close()


def run_sync(coroutine):
    """Run `coroutine` to completion from synchronous code, also inside Jupyter, whose kernel already
    runs an event loop (there `asyncio.run` refuses): then it runs in a new loop on a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def run_with(teacher: Teacher, coroutine):
    """Run `coroutine` in a new event loop and close the teacher's connections before the loop ends."""

    async def main():
        try:
            return await coroutine
        finally:
            await aclose(teacher)

    return run_sync(main())


def complete(teacher: Teacher, request: ChatRequest) -> ChatAnswer:
    """One exchange, synchronously."""
    return run_with(teacher, teacher.acomplete(request))


async def acomplete_all(teacher: Teacher, requests: Sequence[ChatRequest], max_in_flight: int = 8) -> list[ChatAnswer]:
    """Independent exchanges concurrently, at most `max_in_flight` at once, answers in request order."""
    gate = asyncio.Semaphore(max_in_flight)

    async def one(request: ChatRequest) -> ChatAnswer:
        async with gate:
            return await teacher.acomplete(request)

    return await asyncio.gather(*(one(r) for r in requests))


def complete_all(teacher: Teacher, requests: Sequence[ChatRequest], max_in_flight: int = 8) -> list[ChatAnswer]:
    return run_with(teacher, acomplete_all(teacher, requests, max_in_flight))


# --- What a run cost -------------------------------------------------------------------------------

# USD per million (prompt, completion) tokens, OpenAI's list prices for standard (non-batch) requests
# as published in 2024-2025. Dated snapshots ("gpt-4o-mini-2024-07-18", "gpt-3.5-turbo-0125")
# match their family's entry; a model not listed is reported without a cost rather than with a guessed one.
PRICES_PER_MILLION_TOKENS = {
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}


def price_of(model: str) -> tuple[float, float] | None:
    """(prompt, completion) USD per million tokens for `model`, or None when not in the table."""
    for name, price in PRICES_PER_MILLION_TOKENS.items():
        if re.fullmatch(rf"{re.escape(name)}(-\d{{4}}(-\d{{2}}-\d{{2}})?)?", model):
            return price
    return None


@dataclass
class Usage:
    """Counts for one run of one teacher: exchanges and tokens, and how its answers parsed."""

    requests: int = 0  # exchanges answered (live, replayed or by a stand-in)
    replayed: int = 0  # of which read from a transcript
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    decisions: int = 0
    parse_failures: int = 0  # answers that did not parse (each retried once with a reminder)
    retried: int = 0  # decisions that parsed on the retry
    fallbacks: int = 0  # decisions the pipeline made because the teacher's answers did not parse

    def add_answer(self, answer: ChatAnswer) -> None:
        self.requests += 1
        self.replayed += answer.replayed
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens
        self.latency_s += answer.latency_s

    def add_decision(self, status: str, failed_parses: int) -> None:
        self.decisions += 1
        self.parse_failures += failed_parses
        self.retried += status == "retried"
        self.fallbacks += status == "fallback"

    def report(self, model: str | None = None) -> dict:
        """The run report: requests, tokens, tokens per request and decision, estimated cost, parse outcomes."""
        tokens = self.prompt_tokens + self.completion_tokens
        price = price_of(model) if model else None
        cost = (None if price is None else
                (self.prompt_tokens * price[0] + self.completion_tokens * price[1]) / 1e6)
        return {
            "model": model,
            "requests": self.requests,
            "replayed": self.replayed,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens_per_request": tokens / self.requests if self.requests else math.nan,
            "tokens_per_decision": tokens / self.decisions if self.decisions else math.nan,
            "mean_latency_s": self.latency_s / self.requests if self.requests else math.nan,
            "estimated_cost_usd": cost,
            "cost_note": ("list price of the tokens used (replayed ones included)" if price else
                          "cost not estimated: model not in eep_utils.chat.teachers.PRICES_PER_MILLION_TOKENS"),
            "decisions": self.decisions,
            "parse_failures": self.parse_failures,
            "retried": self.retried,
            "fallbacks": self.fallbacks,
        }


@dataclass
class Budget:
    """At most `max_requests` live requests and `max_tokens` tokens per run (None: no limit).

    Checked before each request against the worst case (prompt estimated at 4 characters a token,
    plus the answer's max_tokens), so a run stops before the budget is passed, never after."""

    max_requests: int | None = None
    max_tokens: int | None = None
    requests: int = 0
    tokens: int = 0

    def reserve(self, request: ChatRequest) -> int:
        estimate = sum(len(content) for _, content in request.messages) // 4 + (request.max_tokens or 256)
        if self.max_requests is not None and self.requests + 1 > self.max_requests:
            raise BudgetExhausted(f"request budget reached ({self.max_requests} requests); "
                                  "what was recorded is kept: raise the budget and re-run to continue")
        if self.max_tokens is not None and self.tokens + estimate > self.max_tokens:
            raise BudgetExhausted(f"token budget reached ({self.tokens} of {self.max_tokens} tokens used, the next "
                                  f"request may need {estimate}); what was recorded is kept: raise the budget "
                                  "and re-run to continue")
        self.requests += 1
        self.tokens += estimate
        return estimate

    def settle(self, estimate: int, answer: ChatAnswer | None) -> None:
        """Replace the reservation by what the request really used (nothing, if it failed)."""
        self.tokens -= estimate
        if answer is None:
            self.requests -= 1
        else:
            self.tokens += answer.prompt_tokens + answer.completion_tokens


# --- Reading answers -------------------------------------------------------------------------------

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


# --- Offline stand-in for judgments ----------------------------------------------------------------

LIKES_PREFIX = "You find cute:"
DISLIKES_PREFIX = "You do not find cute:"
CAPTION_PREFIX = "Caption:"


def _line_after(text: str, prefix: str) -> str | None:
    for line in text.splitlines():
        if line.strip().startswith(prefix):
            return line.strip()[len(prefix):].strip()
    return None


class PersonaJudgeStandIn:
    """A persona's cuteness judgment from a real small language model, offline (not a chatbot).

    Reads the judgment prompt contract (module docstring): the caption's cosine similarity to the
    closest liked phrase minus that to the closest disliked phrase, squashed to a 0–10 score by a
    logistic curve (`sharpness` per unit of similarity), cute when the score is at least 5. The
    answer is the same JSON a chatbot is asked for. all-MiniLM-L6-v2 gives no token probabilities,
    so answers carry no log-probabilities. Deterministic."""

    is_chatbot = False
    model = "all-MiniLM-L6-v2 persona judge"

    def __init__(self, encoder=None, sharpness: float = 10.0):
        self._encoder = encoder
        self.sharpness = sharpness
        self.label = "stand-in: all-MiniLM-L6-v2 persona judge (offline; not a chatbot)"
        self.usage = Usage()

    @property
    def encoder(self):
        if self._encoder is None:
            from eep_utils.chat.embeddings import shared_minilm

            self._encoder = shared_minilm()
        return self._encoder

    def judge(self, likes: Sequence[str], dislikes: Sequence[str], caption: str) -> Judgment:
        vectors = self.encoder.encode([caption, *likes, *dislikes])
        similarity = vectors[1:] @ vectors[0]
        margin = float(similarity[:len(likes)].max() - similarity[len(likes):].max())
        score = round(10.0 / (1.0 + math.exp(-self.sharpness * margin)), 1)
        return Judgment(score >= 5.0, score)

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        system = "\n".join(content for role, content in request.messages if role == "system")
        likes, dislikes = _line_after(system, LIKES_PREFIX), _line_after(system, DISLIKES_PREFIX)
        caption = _line_after(request.last_user_message(), CAPTION_PREFIX)
        if not likes or not dislikes or caption is None:
            raise ValueError(
                f"the persona judge reads a system message with lines {LIKES_PREFIX!r} and {DISLIKES_PREFIX!r} "
                f"(comma-separated phrases) and a user line {CAPTION_PREFIX!r}; this request has "
                f"likes={likes!r}, dislikes={dislikes!r}, caption={caption!r} ({request.preview()})")
        judgment = self.judge(_phrases(likes), _phrases(dislikes), caption)
        answer = ChatAnswer(json.dumps({"cute": judgment.cute, "score": judgment.score}), self.model)
        self.usage.add_answer(answer)
        return answer


def _phrases(line: str) -> list[str]:
    return [phrase.strip() for phrase in line.split(",") if phrase.strip()]


# --- Getting a teacher by a setting ----------------------------------------------------------------


def transcript_path(experiment: str, transcripts_dir: Path | None = None) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", experiment):
        raise TeacherSettingError(f"experiment name {experiment!r} must be letters, digits, '_', '.' or '-' "
                                  "(it names the transcript file)")
    return Path(transcripts_dir or TRANSCRIPTS_DIR) / f"{experiment}.jsonl"


def make_teacher(setting: str, *, stand_in: Teacher, experiment: str, model: str | None = None,
                 transcripts_dir: Path | None = None, record: bool = True, **client_options) -> Teacher:
    """The teacher a chapter asks: "live", "replay", "stand-in", or "auto" (the first that can run).

    live      the chatbot `model` (or $EEP_CHATBOT_MODEL) at $OPENAI_BASE_URL (default OpenAI) with
              $OPENAI_API_KEY; every exchange recorded to data/transcripts/<experiment>.jsonl unless
              `record=False`, and answered from there when already recorded. `client_options` go to
              `eep_utils.chat.client.OpenAIChatbot` (max_in_flight, requests_per_minute, budget, ...).
    replay    the recorded exchanges of that model only; a request not recorded is an error.
    stand-in  the task's offline `stand_in` (not a chatbot; labelled so).
    auto      live if a model is set and an endpoint is configured (OPENAI_API_KEY or
              OPENAI_BASE_URL); else replay if a transcript of this experiment holds that model (or,
              with no model set, exactly one model); else the stand-in.
    """
    from eep_utils.chat.transcripts import RecordingTeacher, ReplayTeacher, TranscriptStore

    if setting not in TEACHER_SETTINGS:
        raise TeacherSettingError(f"teacher setting {setting!r} is not one of {', '.join(TEACHER_SETTINGS)}; "
                                  "set `teacher:` in notebooks/parameters.yaml to one of them")
    if getattr(stand_in, "is_chatbot", True):
        raise TeacherSettingError("stand_in must be an offline stand-in (a teacher with is_chatbot False)")
    model = model or os.environ.get(MODEL_VARIABLE) or None
    path = transcript_path(experiment, transcripts_dir)
    endpoint_configured = bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))

    if setting == "auto":
        if model and endpoint_configured:
            setting = "live"
        elif path.exists() and (model or len(TranscriptStore(path).models()) == 1):
            store = TranscriptStore(path)
            model = model or store.models()[0]
            setting = "replay" if model in store.models() else "stand-in"
        else:
            setting = "stand-in"

    if setting == "stand-in":
        return stand_in
    if not model:
        raise TeacherSettingError(f"teacher setting {setting!r} needs a model: pass model=... or set "
                                  f"{MODEL_VARIABLE} (e.g. export {MODEL_VARIABLE}=gpt-4o-mini)")
    if setting == "replay":
        if not path.exists():
            raise TeacherSettingError(f"no transcript {path} to replay; record it first with the teacher setting "
                                      f"'live' ({MODEL_VARIABLE}={model} and OPENAI_API_KEY or OPENAI_BASE_URL set)")
        return ReplayTeacher(TranscriptStore(path), model)
    if not endpoint_configured:
        raise TeacherSettingError("teacher setting 'live' needs an endpoint: set OPENAI_API_KEY (OpenAI) or "
                                  "OPENAI_BASE_URL (an OpenAI-compatible server such as Ollama or vLLM)")
    from eep_utils.chat.client import OpenAIChatbot

    chatbot = OpenAIChatbot(model, **client_options)
    return RecordingTeacher(chatbot, TranscriptStore(path)) if record else chatbot

