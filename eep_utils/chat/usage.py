"""What a run used and may use: token counts, list prices, the run report, faults on the way, and the
request/token budget."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from eep_utils.chat.types import BudgetExhausted, ChatAnswer, ChatRequest

CHARACTERS_PER_TOKEN = 4


def approximate_tokens(request: ChatRequest) -> int:
    """Prompt tokens of a request at ~4 characters a token (OpenAI's rule of thumb for English), plus 4 a
    message for the chat format: the one estimate used for budgets and cost plans."""
    return sum(math.ceil(len(content) / CHARACTERS_PER_TOKEN) + 4 for _, content in request.messages)


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
    misses: int = 0  # questions a replay had no recorded answer to
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


# Why an attempt was retried: the SDK retries 429 and 5xx responses, timeouts and dropped connections
# (with backoff, honouring Retry-After); the client retries a 200 whose body is not a usable completion.
RATE_LIMITED, SERVER_ERROR, CONNECTION, MALFORMED, OTHER = "429", "5xx", "timeout/connection", "malformed", "other"
RETRY_CAUSES = (RATE_LIMITED, SERVER_ERROR, CONNECTION, MALFORMED)


@dataclass
class Faults:
    """What went wrong on the way to the answers, counted as it happens: every HTTP request sent and
    every response (seen by the HTTP client's event hooks, so the SDK's own retries are counted), the
    malformed bodies, and the exchanges given up after retries, each by cause."""

    sent: int = 0  # HTTP requests sent, retries included
    responses: int = 0  # of which an HTTP response came back (the rest timed out or lost their connection)
    rate_limited: int = 0  # 429 responses
    server_errors: int = 0  # 5xx responses
    malformed: int = 0  # 200 responses whose body was not a usable chat completion
    failed: dict[str, int] = field(default_factory=dict)  # cause -> exchanges given up for it

    def record_response(self, status: int) -> None:
        self.responses += 1
        self.rate_limited += status == 429
        self.server_errors += status >= 500

    def record_failure(self, cause: str) -> None:
        self.failed[cause] = self.failed.get(cause, 0) + 1

    def failed_attempts(self) -> dict[str, int]:
        return {RATE_LIMITED: self.rate_limited, SERVER_ERROR: self.server_errors,
                CONNECTION: self.sent - self.responses, MALFORMED: self.malformed}

    def retries(self) -> dict[str, int]:
        """Attempts that failed and were tried again, by cause: each failed attempt but the last of an
        exchange given up for that cause."""
        return {cause: max(0, count - self.failed.get(cause, 0)) for cause, count in self.failed_attempts().items()}

    def report(self) -> dict:
        return {"http_requests": self.sent, "retries": self.retries(), "failures": sum(self.failed.values()),
                "failures_by_cause": dict(sorted(self.failed.items()))}


@dataclass
class Budget:
    """At most `max_requests` billed requests and `max_tokens` tokens per run (None: no limit).

    A billed request is every attempt that got an answer from the endpoint (a 2xx response, usable or
    not: a malformed body that is retried was still answered). Checked before each attempt against the
    worst case (the request's estimated tokens plus its max_tokens), so a run stops before the budget is
    passed, never after. `http_requests` counts everything sent, the SDK's own retries of 429/5xx
    responses, timeouts and dropped connections included (not billed by OpenAI, but they reach the
    server): the run report shows both."""

    max_requests: int | None = None
    max_tokens: int | None = None
    requests: int = 0
    tokens: int = 0
    http_requests: int = 0

    def reserve(self, request: ChatRequest) -> int:
        estimate = approximate_tokens(request) + (request.max_tokens or 256)
        if self.max_requests is not None and self.requests + 1 > self.max_requests:
            raise BudgetExhausted(f"request budget reached ({self.max_requests} billed requests); "
                                  "what was recorded is kept: raise the budget and re-run to continue")
        if self.max_tokens is not None and self.tokens + estimate > self.max_tokens:
            raise BudgetExhausted(f"token budget reached ({self.tokens} of {self.max_tokens} tokens used, the next "
                                  f"request may need {estimate}); what was recorded is kept: raise the budget "
                                  "and re-run to continue")
        self.requests += 1
        self.tokens += estimate
        return estimate

    def settle(self, estimate: int, answer: ChatAnswer | None, answered: bool) -> None:
        """Replace the reservation by what the attempt really used: its tokens if it gave an answer, the
        estimate if the endpoint answered with something unusable, nothing if it never answered."""
        if answer is not None:
            self.tokens += answer.prompt_tokens + answer.completion_tokens - estimate
        elif not answered:
            self.tokens -= estimate
            self.requests -= 1

    def report(self) -> dict:
        return {"billed_requests": self.requests, "http_requests": self.http_requests, "budget_tokens": self.tokens}
