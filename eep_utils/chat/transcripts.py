"""Transcripts: every chatbot exchange recorded, so that re-running an experiment replays it with no network.

An experiment's transcript is up to two JSON Lines files in data/transcripts/, one exchange a line:
the request (messages and settings), the answer (text, model, system fingerprint, token usage,
latency, per-token log-probabilities), the endpoint's host and the time.

- `<experiment>.jsonl.gz` is **sealed**: the exchanges committed with the book, sorted by key and
  compressed reproducibly, described by `<experiment>.manifest.json` (counts, models, the local
  model file's hash and the server's settings where a local model answered).
- `<experiment>.jsonl` is the **working** file a recording run appends to. `seal` folds it into the
  sealed file. Replay reads both.

Each line is addressed by `request_key`, a SHA-256 of the model and the request, so the same
question is found again whatever the order in which a run asks it. On load every line is checked:
its fields and their types, and its key recomputed from its request, so a line damaged in a way
that is still valid JSON (a flipped digit of the key, a renamed field) is reported with its file and
line, never filed under the wrong key.

Crash safety: a line is written with one append-mode `write` and flushed to disk before the answer
is used, and the working file is never rewritten. Killing a run loses at most the exchange in
flight; a line cut short by the kill is skipped with a warning when the file is next read (and the
next record starts on a fresh line), so the next run asks again only what is missing.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from eep_utils.chat.types import ChatAnswer, ChatRequest, TranscriptError

log = logging.getLogger(__name__)
FORMAT_VERSION = 2
SETTING_NAMES = ("temperature", "max_tokens", "logprobs", "top_logprobs", "grammar")
SEALED_SUFFIX = ".jsonl.gz"
MANIFEST_SUFFIX = ".manifest.json"


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
            "logprobs": answer.logprobs,
            "finish_reason": answer.finish_reason,
            "refusal": answer.refusal,
        },
    }


def request_of_record(record: dict) -> tuple[str, ChatRequest]:
    """The model and the request a record answers (raises KeyError/TypeError/ValueError if malformed)."""
    request = record["request"]
    model, messages = request["model"], request["messages"]
    unknown = set(request) - {"model", "messages", *SETTING_NAMES}
    if unknown:
        raise ValueError(f"unknown request setting(s) {sorted(unknown)}")
    if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages):
        raise TypeError("request.messages must be a list of {role, content} strings")
    if not isinstance(model, str):
        raise TypeError("request.model must be a string")
    settings = {name: request[name] for name in SETTING_NAMES if name in request}
    return model, ChatRequest.from_messages(messages, **settings)


def check_record(record) -> str:
    """The record's key, after checking its fields and that the key is its request's; else ValueError."""
    try:
        if not isinstance(record, dict):
            raise TypeError("a record must be a JSON object")
        model, request = request_of_record(record)
        answer = record["answer"]
        for name, kind in (("text", str), ("model", str)):
            if not isinstance(answer[name], kind):
                raise TypeError(f"answer.{name} must be a {kind.__name__}")
        key = record["key"]
    except KeyError as error:
        raise ValueError(f"missing field {error.args[0]!r}") from None
    except TypeError as error:
        raise ValueError(str(error)) from None
    if key != request_key(model, request):
        raise ValueError(f"its key {str(key)[:12]}… is not its request's ({request_key(model, request)[:12]}…): "
                         "the line was edited or damaged")
    return key


def answer_from_record(record: dict) -> ChatAnswer:
    answer = record["answer"]
    return ChatAnswer(
        text=answer["text"], model=answer["model"], prompt_tokens=answer.get("prompt_tokens") or 0,
        completion_tokens=answer.get("completion_tokens") or 0, latency_s=answer.get("latency_s") or 0.0,
        logprobs=answer.get("logprobs"), system_fingerprint=answer.get("system_fingerprint"),
        replayed=True, finish_reason=answer.get("finish_reason"), refusal=answer.get("refusal"),
        extra={"recorded_at": record.get("time"), "endpoint": record.get("endpoint")},
    )


def sealed_path(path: Path) -> Path:
    return Path(path).with_suffix(SEALED_SUFFIX)


def manifest_path(path: Path) -> Path:
    return Path(path).with_suffix(MANIFEST_SUFFIX)


class TranscriptStore:
    """An experiment's exchanges (sealed file, then working file), indexed by request key in memory.

    `path` names the working file (`<experiment>.jsonl`); the sealed file beside it is read first.
    Damaged lines are skipped and listed in `skipped_lines` as "file:line", each with a warning naming
    the file, the line and the fix; `strict=True` makes them an error instead."""

    def __init__(self, path: Path, strict: bool = False):
        self.path = Path(path)
        self.strict = strict
        self.skipped_lines: list[str] = []
        self._records: dict[str, dict] = {}
        self._where: dict[str, str] = {}
        self._ends_with_newline = True
        sealed = sealed_path(self.path)
        if sealed.exists():
            try:
                data = gzip.decompress(sealed.read_bytes())
            except (OSError, EOFError) as error:
                raise TranscriptError(f"{sealed} is damaged ({error}); restore it with `git checkout -- {sealed}` "
                                      "or record it again (see README: recording the local chatbot)") from None
            self._load(sealed, data)
        if self.path.exists():
            data = self.path.read_bytes()
            self._ends_with_newline = data.endswith(b"\n") or not data
            self._load(self.path, data)

    def _load(self, source: Path, data: bytes) -> None:
        lines = data.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = check_record(record)
            except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as error:
                cut = number == len(lines) and not data.endswith(b"\n")
                why = ("cut short (a recording run was interrupted)" if cut
                       else f"damaged ({type(error).__name__}: {error})" if isinstance(error, json.JSONDecodeError)
                       else f"damaged: {error}")
                message = (f"{source}:{number} is {why}; that exchange is skipped and will be asked again "
                           "when recording. Delete the line (or restore the file from git) to silence this warning.")
                if self.strict:
                    raise TranscriptError(message) from None
                log.warning(message)
                self.skipped_lines.append(f"{source.name}:{number}")
                continue
            if key not in self._records:
                self._records[key] = record
                self._where[key] = f"{source.name}:{number}"

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def get(self, key: str) -> dict | None:
        return self._records.get(key)

    def where(self, key: str) -> str | None:
        """The file and line a record was read from ("name.jsonl.gz:12"), for messages."""
        return self._where.get(key)

    def records(self) -> list[dict]:
        return list(self._records.values())

    def models(self) -> list[str]:
        return sorted({record["request"]["model"] for record in self._records.values()})

    def append(self, record: dict) -> None:
        """Write one record durably: one append of a whole line, flushed to disk, before it is used."""
        key = check_record(record)
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
        self._records.setdefault(key, record)
        self._where.setdefault(key, f"{self.path.name}:new")

    def seal(self, provenance: dict | None = None) -> Path:
        """Fold every record into the sealed file (sorted by key, gzip with no timestamp, so the same
        exchanges give the same bytes), write the manifest, then remove the working file.

        `provenance` maps a model name to how it was served (model file and hash, server and its
        settings); it is merged into the manifest's, so earlier models' entries are kept."""
        sealed, manifest_file = sealed_path(self.path), manifest_path(self.path)
        lines = [json.dumps(self._records[key], ensure_ascii=False, separators=(",", ":")) for key in sorted(self._records)]
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
            handle.write(("\n".join(lines) + "\n").encode("utf-8") if lines else b"")
        _write_atomically(sealed, buffer.getvalue())
        previous = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
        models = {**previous.get("models", {}), **(provenance or {})}
        counts: dict[str, int] = {}
        for record in self._records.values():
            counts[record["request"]["model"]] = counts.get(record["request"]["model"], 0) + 1
        times = sorted(record.get("time") or "" for record in self._records.values())
        manifest = {
            "experiment": self.path.stem, "file": sealed.name, "format": FORMAT_VERSION,
            "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(), "exchanges": len(lines),
            "exchanges_by_model": dict(sorted(counts.items())),
            "recorded_from": times[0] if times else None, "recorded_to": times[-1] if times else None,
            "models": {name: models[name] for name in sorted(models) if name in counts},
        }
        _write_atomically(manifest_file, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
        if self.path.exists():
            self.path.unlink()
        self._ends_with_newline = True
        return sealed


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
