"""What a teacher is asked and what it answers, and every error the chat layer raises.

The bottom of the chat layer: types and exceptions here, then answer parsing (`parsing`), usage and
budgets (`usage`), the live client (`client`), transcripts (`transcripts`), and the factory that picks a
teacher by a setting (`teachers`). Each module imports only from those before it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence


@dataclass(frozen=True)
class ChatRequest:
    """What is sent: the conversation and the sampling settings (the model is the teacher's)."""

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs, hashable for the transcript key
    temperature: float = 0.0
    max_tokens: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    # A GBNF grammar the answer must follow (llama.cpp's server reads it from the request body); None for
    # a free answer. Part of the request, so a constrained answer is never replayed for a free question.
    grammar: str | None = None

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
        if self.grammar is not None:
            settings["grammar"] = self.grammar
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
    # Per answer token, as the chat completions API gives them (its `logprobs.content`, without the byte
    # lists): {"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}; None when not asked for.
    logprobs: list[dict] | None = None
    system_fingerprint: str | None = None
    replayed: bool = False
    extra: dict = field(default_factory=dict)
    finish_reason: str | None = None
    refusal: str | None = None  # the API's separate refusal field, when the model declined

    @property
    def top_logprobs(self) -> dict[str, float] | None:
        """{token: log-probability} over the first answer token's alternatives (the token itself included)."""
        if not self.logprobs:
            return None
        first = self.logprobs[0]
        alternatives = {alt["token"]: alt["logprob"] for alt in first.get("top_logprobs") or []}
        alternatives.setdefault(first["token"], first["logprob"])
        return alternatives


class UsageCounter(Protocol):
    """What a teacher counts of its exchanges (`eep_utils.chat.usage.Usage` is the one implementation;
    declared here so that this bottom module imports nothing of the chat layer)."""

    requests: int
    replayed: int

    def add_answer(self, answer: ChatAnswer) -> None: ...

    def report(self, model: str | None = None) -> dict: ...


class Teacher(Protocol):
    label: str
    is_chatbot: bool
    model: str
    accepts_grammar: bool  # whether a request's `grammar` is honoured (llama.cpp's server); see `accepts_grammar`
    usage: UsageCounter

    async def acomplete(self, request: ChatRequest) -> ChatAnswer: ...


def accepts_grammar(teacher) -> bool:
    """Whether `teacher` constrains answers by a request's grammar. Experiments ask for a grammar only
    then; an endpoint without grammars (OpenAI's) is asked freely and its answers parsed, so switching
    to it is one setting."""
    return bool(getattr(teacher, "accepts_grammar", False))


class TeacherSettingError(ValueError):
    """A teacher setting cannot be used as given; the message lists what can."""


class BudgetExhausted(RuntimeError):
    """The next request would exceed the run's request or token budget; everything recorded is kept."""


class ChatbotError(RuntimeError):
    """The endpoint could not answer after retries; what was recorded before is kept."""


class ContextLengthExceeded(ChatbotError):
    """The conversation no longer fits the model's context window."""


class MalformedCompletion(ChatbotError):
    """A 200 response that is not a chat completion with a message."""


class TranscriptError(RuntimeError):
    """A transcript cannot answer or cannot be read; the message names the request or line and the fix."""


# Why a replay has no answer: the request was never recorded (a parameter or prompt changed, or the
# chapter asks something new); it was recorded, but of another model; or its record is damaged.
NEW_REQUEST, OTHER_MODEL, DAMAGED_RECORD = "new request", "recorded under another model", "damaged record"
MISS_CAUSES = (NEW_REQUEST, OTHER_MODEL, DAMAGED_RECORD)


class TranscriptMiss(TranscriptError):
    """Replay was asked a question it has no answer to; `cause` says why (one of `MISS_CAUSES`)."""

    def __init__(self, message: str, cause: str = NEW_REQUEST):
        super().__init__(message)
        self.cause = cause

