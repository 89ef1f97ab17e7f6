"""The live chatbot: OpenAI's chat completions API, or any server that speaks it (Ollama, vLLM, llama.cpp, LM Studio).

Configuration is the `openai` SDK's own: OPENAI_API_KEY and OPENAI_BASE_URL from the environment,
never from a file or a parameter, so the key cannot reach a transcript, a notebook or a log; the
endpoint is named by its host only. The SDK retries 408/409/429/5xx responses, timeouts and
dropped connections with exponential backoff (honouring Retry-After); this client adds a bound on
requests in flight, an optional requests-per-minute pace, a run budget (billed attempts and every HTTP
request sent are both counted: see `Budget`), and one more kind of retry the SDK does not do: a 200
response whose body is not a usable chat completion. A response is converted to a `ChatAnswer` once,
by `parsing.answer_from_completion`, the same function that reads Batch API results.
"""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

import openai

from eep_utils.chat.parsing import answer_from_completion
from eep_utils.chat.running import run_with
from eep_utils.chat.types import (ChatAnswer, ChatbotError, ChatRequest, ContextLengthExceeded, MalformedCompletion,
                                  TeacherSettingError)
from eep_utils.chat.usage import CONNECTION, MALFORMED, OTHER, RATE_LIMITED, SERVER_ERROR, Budget, Faults, Usage

# The SDK's generic `post` (its documented way to send a body as is) keeps its retries, timeouts and
# authentication but skips `chat.completions.create`'s typed transform of the messages, which costs
# about 10 ms of CPU per request (profiled: benchmarks/bench_teachers.py) and capped throughput at
# 32 requests in flight. The body is plain JSON-ready dicts of strings, so the transform had nothing to do.
# The response is taken as plain JSON (`cast_to=object`) and converted once, by `answer_from_completion`.
COMPLETIONS_PATH = "/chat/completions"
LOCAL_SERVER_KEY = "no-key"  # local OpenAI-compatible servers accept any key; the SDK insists on one


class Pace:
    """Start requests at most `per_minute` a minute, evenly spaced (None: no limit)."""

    def __init__(self, per_minute: float | None):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.next_start = 0.0

    def delay(self) -> float:
        """Claim the next start slot; how long to wait for it."""
        now = time.monotonic()
        start = max(now, self.next_start)
        self.next_start = start + self.interval
        return start - now


class OpenAIChatbot:
    """One model at one OpenAI-compatible endpoint, asked through the official SDK (async or sync)."""

    is_chatbot = True
    accepts_grammar = False  # OpenAI's API rejects a `grammar` field; LocalChatbot (llama.cpp) reads it

    def __init__(self, model: str, *, base_url: str | None = None, max_in_flight: int = 32,
                 requests_per_minute: float | None = None, max_retries: int = 5, timeout: float = 60.0,
                 budget: Budget | None = None, malformed_retries: int = 2):
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        if not os.environ.get("OPENAI_API_KEY") and not base_url:
            raise TeacherSettingError("no chatbot endpoint: set OPENAI_API_KEY (for OpenAI) or OPENAI_BASE_URL "
                                      "(for an OpenAI-compatible server) in the environment")
        self.model = model
        self.base_url = base_url
        self.endpoint = endpoint_name(base_url)
        self.label = f"{model} at {self.endpoint} (live)"
        self.max_in_flight = max_in_flight
        self.max_retries = max_retries
        self.timeout = timeout
        self.malformed_retries = malformed_retries
        self.budget = budget or Budget()
        self.pace = Pace(requests_per_minute)
        self.usage = Usage()
        self.faults = Faults()
        self._loop = None  # the async client and its gate belong to one event loop
        self._async_client = None
        self._gate = None

    def _client_options(self) -> dict:
        # The key is read from the environment by this call only and handed straight to the SDK.
        key = os.environ.get("OPENAI_API_KEY") or LOCAL_SERVER_KEY
        return {"api_key": key, "base_url": self.base_url, "max_retries": self.max_retries, "timeout": self.timeout}

    async def _count_http_request(self, _request) -> None:
        self.budget.http_requests += 1
        self.faults.sent += 1

    async def _count_http_response(self, response) -> None:
        self.faults.record_response(response.status_code)

    def _async_parts(self):
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            # The SDK's default HTTP client with hooks that see every request it sends and every response it
            # gets, its retries included: the SDK retries, these hooks only count.
            http_client = openai.DefaultAsyncHttpxClient(event_hooks={"request": [self._count_http_request],
                                                                      "response": [self._count_http_response]})
            self._async_client = openai.AsyncOpenAI(**self._client_options(), http_client=http_client)
            self._gate = asyncio.Semaphore(self.max_in_flight)
        return self._async_client, self._gate

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        client, gate = self._async_parts()
        async with gate:
            await asyncio.sleep(self.pace.delay())
            for attempt in range(self.malformed_retries + 1):
                estimate = self.budget.reserve(request)  # each attempt the endpoint answers is billed
                answer, answered = None, False
                started = time.perf_counter()
                try:
                    response = await client.post(COMPLETIONS_PATH, cast_to=object, body=self._body(request))
                    answered = True
                    answer = answer_from_completion(response, time.perf_counter() - started)
                    answer.model = answer.model or self.model
                    break
                except (MalformedCompletion, openai.APIResponseValidationError, ValueError) as error:
                    answered = True
                    self.faults.malformed += 1
                    if attempt == self.malformed_retries:
                        raise self._error(error) from None
                    await asyncio.sleep(0.5 * 2 ** attempt)
                except openai.OpenAIError as error:
                    raise self._error(error) from None
                finally:
                    self.budget.settle(estimate, answer, answered)
        self.usage.add_answer(answer)
        return answer

    async def aclose(self) -> None:
        """Close the async client's connections while its event loop still runs."""
        if self._async_client is not None and self._loop is asyncio.get_running_loop():
            await self._async_client.close()
        self._loop = self._async_client = self._gate = None

    def complete(self, request: ChatRequest) -> ChatAnswer:
        """One exchange without an event loop of the caller's (scripts, notebook cells): the async path,
        run to completion, so that retries, pace and budget have a single implementation."""
        return run_with(self, self.acomplete(request))

    def _body(self, request: ChatRequest) -> dict:
        return {"model": self.model, "messages": request.openai_messages(), **request.settings()}

    def _error(self, error: Exception) -> ChatbotError:
        cause = failure_cause(error)
        self.faults.record_failure(cause)
        kind = (ContextLengthExceeded if getattr(error, "code", None) == "context_length_exceeded"
                else MalformedCompletion if cause == MALFORMED else ChatbotError)
        return kind(scrub(f"{self.label}: {type(error).__name__} after retries: {error}. Exchanges recorded "
                          "before this one are kept; re-running resumes after them."))


def failure_cause(error: Exception) -> str:
    """Why an exchange was given up, in the causes `Faults` counts retries by."""
    if isinstance(error, (MalformedCompletion, openai.APIResponseValidationError, ValueError)):
        return MALFORMED
    if isinstance(error, openai.RateLimitError):
        return RATE_LIMITED
    if isinstance(error, openai.APIStatusError) and error.status_code >= 500:
        return SERVER_ERROR
    if isinstance(error, openai.APIConnectionError):  # timeouts included (APITimeoutError is one)
        return CONNECTION
    return OTHER


def endpoint_name(base_url: str | None) -> str:
    """The endpoint's host and port only: a URL may carry credentials, a host does not."""
    if not base_url:
        return "api.openai.com"
    parts = urlsplit(base_url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def scrub(text: str) -> str:
    """The text with the API key (if any is set) masked, for anything that may be shown or saved."""
    key = os.environ.get("OPENAI_API_KEY")
    return text.replace(key, "[OPENAI_API_KEY]") if key else text


def find_secret(paths: Iterable[Path], secret: str) -> list[Path]:
    """Every file under `paths` (files or folders, searched recursively) whose bytes contain `secret`.

    Used on transcripts, logs, executed notebooks and built HTML pages with a dummy key set, to
    show the key reaches none of them. Binary files are searched too (as bytes)."""
    if len(secret) < 8:
        raise ValueError("a secret to search for must be at least 8 characters, or every file would match")
    needle = secret.encode("utf-8")
    found = []
    for root in map(Path, paths):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            with open(path, "rb") as handle:
                if needle in handle.read():
                    found.append(path)
    return found
