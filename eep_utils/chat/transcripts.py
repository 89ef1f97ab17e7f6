"""Transcripts: every chatbot exchange recorded, so that re-running an experiment replays it with no network.

A transcript is a JSON Lines file (data/transcripts/<experiment>.jsonl), one exchange a line:
the request (messages and settings), the answer (text, model, system fingerprint, token usage,
latency, first-token log-probabilities), the endpoint's host and the time. Each line is addressed
by `request_key`, a SHA-256 of the model and the request, so the same question is found again
whatever the order in which a run asks it.

Crash safety: a line is written with one append-mode `write` and flushed to disk before the answer
is used, and the file is never rewritten. Killing a run loses at most the exchange in flight; a
line cut short by the kill is skipped with a warning when the file is next read (and the next
record starts on a fresh line), so the next run asks again only what is missing.

The OpenAI Batch API takes the same requests as a JSONL file (`export_batch`) and returns answers
joined back by `custom_id`, which is the request key (`import_batch`).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from eep_utils.chat.parsing import answer_from_completion
from eep_utils.chat.types import ChatAnswer, ChatRequest, TranscriptError, TranscriptMiss
from eep_utils.chat.usage import Usage

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
BATCH_URL = "/v1/chat/completions"



def request_key(model: str, request: ChatRequest) -> str:
    """The address of an exchange: SHA-256 of the model, the messages and the sampling settings."""
    canonical = json.dumps({"model": model, "messages": request.openai_messages(), **request.settings()},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def exchange_record(model: str, request: ChatRequest, answer: ChatAnswer, endpoint: str | None) -> dict:
    return {
        "format": FORMAT_VERSION,
        "key": request_key(model, request),
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "endpoint": endpoint,
        "request": {"model": model, "messages": request.openai_messages(), **request.settings()},
        "answer": {
            "text": answer.text,
            "model": answer.model,
            "system_fingerprint": answer.system_fingerprint,
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "latency_s": answer.latency_s,
            "top_logprobs": answer.top_logprobs,
            "finish_reason": answer.finish_reason,
            "refusal": answer.refusal,
        },
    }


def answer_from_record(record: dict) -> ChatAnswer:
    answer = record["answer"]
    return ChatAnswer(
        text=answer["text"], model=answer["model"], prompt_tokens=answer.get("prompt_tokens", 0),
        completion_tokens=answer.get("completion_tokens", 0), latency_s=answer.get("latency_s") or 0.0,
        top_logprobs=answer.get("top_logprobs"), system_fingerprint=answer.get("system_fingerprint"),
        replayed=True, finish_reason=answer.get("finish_reason"), refusal=answer.get("refusal"),
        extra={"recorded_at": record.get("time"), "endpoint": record.get("endpoint")},
    )


class TranscriptStore:
    """An append-only JSONL file of exchanges, indexed by request key in memory.

    Damaged lines (cut short by a killed run, or edited by hand) are skipped and counted in
    `skipped_lines`, each with a warning naming the line; `strict=True` makes them an error instead.
    """

    def __init__(self, path: Path, strict: bool = False):
        self.path = Path(path)
        self.strict = strict
        self.skipped_lines: list[int] = []
        self._records: dict[str, dict] = {}
        self._ends_with_newline = True
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        self._ends_with_newline = data.endswith(b"\n") or not data
        lines = data.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = record["key"]
                record["answer"]["text"], record["request"]["model"]
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
                last = number == len(lines) and not self._ends_with_newline
                why = ("cut short (a recording run was interrupted)" if last
                       else f"damaged ({type(error).__name__}: {error})")
                message = (f"{self.path}:{number} is {why}; that exchange is skipped and will be asked again "
                           "when recording. Delete the line to silence this warning.")
                if self.strict:
                    raise TranscriptError(message) from None
                log.warning(message)
                self.skipped_lines.append(number)
                continue
            self._records.setdefault(key, record)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def get(self, key: str) -> dict | None:
        return self._records.get(key)

    def records(self) -> list[dict]:
        return list(self._records.values())

    def models(self) -> list[str]:
        return sorted({record["request"]["model"] for record in self._records.values()})

    def append(self, record: dict) -> None:
        """Write one record durably: one append of a whole line, flushed to disk, before it is used."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        if not self._ends_with_newline:
            line = "\n" + line  # start after a line a killed run left unfinished
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line.encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        self._ends_with_newline = True
        self._records.setdefault(record["key"], record)


class RecordingTeacher:
    """A live chatbot behind its transcript: answers already recorded are replayed, new ones recorded.

    So an interrupted run resumes without asking again, and a finished one replays with no network.
    Identical requests in flight at the same time are sent once."""

    is_chatbot = True

    def __init__(self, chatbot, store: TranscriptStore):
        self.chatbot = chatbot
        self.store = store
        self.model = chatbot.model
        self.label = chatbot.label.replace("(live)", "(live, recorded)")
        self.usage = Usage()
        self._in_flight: dict[str, asyncio.Future] = {}

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        key = request_key(self.model, request)
        record = self.store.get(key)
        if record is not None:
            answer = answer_from_record(record)
        elif key in self._in_flight:
            answer = await asyncio.shield(self._in_flight[key])
        else:
            future = asyncio.get_running_loop().create_future()
            self._in_flight[key] = future
            try:
                answer = await self.chatbot.acomplete(request)
                self.store.append(exchange_record(self.model, request, answer, self.chatbot.endpoint))
                future.set_result(answer)
            except BaseException as error:
                future.set_exception(error)
                future.exception()  # marks it retrieved when no one else waits on it
                raise
            finally:
                del self._in_flight[key]
        self.usage.add_answer(answer)
        return answer


    async def aclose(self) -> None:
        await self.chatbot.aclose()


class ReplayTeacher:
    """Recorded answers of one model, never calling anything; a question not recorded is an error."""

    is_chatbot = True

    def __init__(self, store: TranscriptStore, model: str):
        self.store = store
        self.model = model
        self.label = f"{model} (replayed from {_display_path(store.path)})"
        self.usage = Usage()

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        record = self.store.get(request_key(self.model, request))
        if record is None:
            raise TranscriptMiss(
                f"{_display_path(self.store.path)} has no recorded answer of {self.model} to this request "
                f"({request.preview()}; key {request_key(self.model, request)[:12]}). To record it, run the "
                f"same experiment with the teacher setting 'live' (EEP_CHATBOT_MODEL={self.model} and "
                "OPENAI_API_KEY or OPENAI_BASE_URL set), or use the setting 'stand-in'.")
        answer = answer_from_record(record)
        self.usage.add_answer(answer)
        return answer


def _display_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --- OpenAI Batch API ------------------------------------------------------------------------------


def export_batch(requests: Iterable[ChatRequest], model: str, path: Path,
                 store: TranscriptStore | None = None) -> int:
    """Write the requests not yet in `store` as an OpenAI Batch API input file; returns how many.

    Each line is {"custom_id": <request key>, "method": "POST", "url": "/v1/chat/completions",
    "body": {model, messages, settings}}; duplicates are written once."""
    written = set()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for request in requests:
            key = request_key(model, request)
            if key in written or (store is not None and key in store):
                continue
            written.add(key)
            body = {"model": model, "messages": request.openai_messages(), **request.settings()}
            handle.write(json.dumps({"custom_id": key, "method": "POST", "url": BATCH_URL, "body": body},
                                    ensure_ascii=False) + "\n")
    return len(written)


def import_batch(input_path: Path, output_path: Path, store: TranscriptStore,
                 endpoint: str = "api.openai.com (batch)") -> dict:
    """Join a Batch API output file to its input file by custom_id and record each answer.

    Returns counts: imported, already recorded, failed (error lines or non-200 responses, left
    unrecorded so they can be sent again), unmatched (custom_ids not in the input file)."""
    requests = {}
    for number, line in enumerate(Path(input_path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                item = json.loads(line)
                requests[item["custom_id"]] = item["body"]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise TranscriptError(f"{input_path}:{number} is not a Batch API input line ({error}); "
                                      "export the batch again with export_batch") from None
    counts = {"imported": 0, "already_recorded": 0, "failed": 0, "unmatched": 0}
    for number, line in enumerate(Path(output_path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            custom_id = item["custom_id"]
        except (json.JSONDecodeError, KeyError, TypeError):
            log.warning("%s:%d is not a Batch API output line; skipped", output_path, number)
            counts["failed"] += 1
            continue
        body = requests.get(custom_id)
        if body is None:
            counts["unmatched"] += 1
            continue
        response = item.get("response") or {}
        if item.get("error") or response.get("status_code") != 200:
            counts["failed"] += 1
            continue
        settings = {k: body[k] for k in ("temperature", "max_tokens", "logprobs", "top_logprobs") if k in body}
        request = ChatRequest.from_messages(body["messages"], **settings)
        if request_key(body["model"], request) != custom_id:
            raise TranscriptError(f"{output_path}:{number}: custom_id {custom_id[:12]} does not match its request; "
                                  "the batch input file was edited after export")
        if custom_id in store:
            counts["already_recorded"] += 1
            continue
        answer = answer_from_completion(response["body"], latency_s=0.0)
        store.append(exchange_record(body["model"], request, answer, endpoint))
        counts["imported"] += 1
    return counts
