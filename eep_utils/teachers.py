"""Teachers: whoever answers the text prompts — a live chatbot, its recorded transcripts, or an offline stand-in.

Every teacher takes the same `ChatRequest` (OpenAI chat messages and sampling settings) and gives a
`ChatAnswer`, so an experiment cannot tell them apart; but each names itself in `label`, and
`is_chatbot` is False for stand-ins, so no artefact can pass a stand-in off as a chatbot.
"""
from __future__ import annotations

import asyncio
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

    @classmethod
    def from_messages(cls, messages: Sequence[dict], **settings) -> "ChatRequest":
        return cls(tuple((m["role"], m["content"]) for m in messages), **settings)

    def openai_messages(self) -> list[dict]:
        return [{"role": role, "content": content} for role, content in self.messages]


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


class Teacher(Protocol):
    label: str
    is_chatbot: bool

    async def acomplete(self, request: ChatRequest) -> ChatAnswer: ...


def complete(teacher: Teacher, request: ChatRequest) -> ChatAnswer:
    """One exchange, synchronously."""
    return asyncio.run(teacher.acomplete(request))


async def acomplete_all(teacher: Teacher, requests: Sequence[ChatRequest], max_in_flight: int = 8) -> list[ChatAnswer]:
    """Independent exchanges concurrently, at most `max_in_flight` at once, answers in request order."""
    gate = asyncio.Semaphore(max_in_flight)

    async def one(request: ChatRequest) -> ChatAnswer:
        async with gate:
            return await teacher.acomplete(request)

    return await asyncio.gather(*(one(r) for r in requests))


def complete_all(teacher: Teacher, requests: Sequence[ChatRequest], max_in_flight: int = 8) -> list[ChatAnswer]:
    return asyncio.run(acomplete_all(teacher, requests, max_in_flight))
