"""Transcripts: every chatbot exchange recorded, so that re-running an experiment replays it with no network.

Recordings are kept per chatbot: `data/transcripts/<model>/`, one folder for each model that answered
(the shipped SmolLM2 recordings in theirs, a reader's endpoint in its own; see `teachers.model_folder`).
In a model's folder an experiment's transcript is up to two JSON Lines files, one exchange a line:
the request (messages and settings), the answer (text, model, system fingerprint, token usage,
latency, per-token log-probabilities), the endpoint's host and the time.

- `<experiment>.jsonl.gz` is **sealed**: the exchanges committed with the book, sorted by key and
  compressed reproducibly, described by `<experiment>.manifest.json` (the sealed file's SHA-256, counts,
  models, the local model file's hash and the server's settings where a local model answered).
- `<experiment>.jsonl` is the **working** file a recording run appends to (ignored by git). `seal` folds
  it into the sealed file. Replay reads both.

Each line is addressed by `request_key`, a SHA-256 of the model and the request, so the same
question is found again whatever the order in which a run asks it, and carries `digest`, a SHA-256
of its request and answer. Integrity is checked on load, before anything is replayed:

- a sealed file's SHA-256 must be the one its manifest records (a file or manifest changed by hand,
  or a manifest whose hash was zeroed, stops the load naming the file and the fix);
- every line's fields and types are checked, its key recomputed from its request and its digest from
  its request and answer, so a line changed in a way that is still valid JSON (one letter of an answer,
  a digit of the key, a renamed field) is reported with its file and line, never replayed. In a sealed
  file that stops the load (restore it from git); in a working file the line is skipped with a warning
  and asked again when recording.

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
import re
from datetime import datetime, timezone
from pathlib import Path

from eep_utils.chat.types import ChatAnswer, ChatRequest, TranscriptError
from eep_utils.paths import ROOT

log = logging.getLogger(__name__)
# 3: every record carries `digest`, the SHA-256 of its request and answer (2 had none).
FORMAT_VERSION = 3
SETTING_NAMES = ("temperature", "max_tokens", "logprobs", "top_logprobs", "grammar")
SEALED_SUFFIX = ".jsonl.gz"
WORKING_SUFFIX = ".jsonl"
MANIFEST_SUFFIX = ".manifest.json"
RECORD_AGAIN = ("or record it again (the local model: `python -m pip install -r requirements-record.txt && "
                "python -m eep_utils.record`; your endpoint: its settings and a build)")
_KEY_IN_LINE = re.compile(rb'"key"\s*:\s*"([0-9a-f]{64})"')


def _canonical(document) -> bytes:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def request_key(model: str, request: ChatRequest) -> str:
    """The address of an exchange: SHA-256 of the model, the messages and the sampling settings."""
    return hashlib.sha256(_canonical({"model": model, "messages": request.openai_messages(),
                                      **request.settings()})).hexdigest()


def record_digest(record: dict) -> str:
    """SHA-256 of a record's request and answer, so that a changed answer is caught (the key covers only
    the request). Time and endpoint are not covered: they say when and where, not what was answered."""
    return hashlib.sha256(_canonical({"request": record["request"], "answer": record["answer"]})).hexdigest()


def exchange_record(model: str, request: ChatRequest, answer: ChatAnswer, endpoint: str | None) -> dict:
    record = {
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
    return {**record, "digest": record_digest(record)}


def with_digest(record: dict) -> dict:
    """The record in the current format, with its digest (a working line of an older recording run has none)."""
    return {**record, "format": FORMAT_VERSION, "digest": record_digest(record)}


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


def check_record(record, require_digest: bool = True) -> str:
    """The record's key, after checking its fields, that the key is its request's and that the digest is
    its request's and answer's; else ValueError. `require_digest=False` accepts a record written before
    digests (a working file of an older recording run, or a sealed file being re-sealed)."""
    try:
        if not isinstance(record, dict):
            raise TypeError("a record must be a JSON object")
        model, request = request_of_record(record)
        answer = record["answer"]
        for name, kind in (("text", str), ("model", str)):
            if not isinstance(answer[name], kind):
                raise TypeError(f"answer.{name} must be a {kind.__name__}")
        key = record["key"]
        if require_digest and "digest" not in record:
            raise ValueError(f"it has no digest (written in format {record.get('format')}, before records carried "
                             "one); re-seal the recordings: `python -m eep_utils.record --reseal`")
        digest = record.get("digest")
    except KeyError as error:
        raise ValueError(f"missing field {error.args[0]!r}") from None
    except TypeError as error:
        raise ValueError(str(error)) from None
    if key != request_key(model, request):
        raise ValueError(f"its key {str(key)[:12]}… is not its request's ({request_key(model, request)[:12]}…): "
                         "the line was edited or damaged")
    if digest is not None and digest != record_digest(record):
        raise ValueError("its request or answer was changed after it was recorded (its digest "
                         f"{str(digest)[:12]}… is not its content's, {record_digest(record)[:12]}…)")
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


def experiment_of(path: Path) -> str:
    """The experiment a transcript file belongs to ("x" for x.jsonl, x.jsonl.gz and x.manifest.json)."""
    name = Path(path).name
    for suffix in (SEALED_SUFFIX, WORKING_SUFFIX, MANIFEST_SUFFIX):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    raise ValueError(f"{path} is not a transcript file (*{SEALED_SUFFIX}, *{WORKING_SUFFIX} or *{MANIFEST_SUFFIX})")


def experiments_in(folder: Path) -> list[str]:
    """The experiments a folder holds recordings of, sealed or working."""
    files = [*Path(folder).glob(f"*{SEALED_SUFFIX}"), *Path(folder).glob(f"*{WORKING_SUFFIX}")]
    return sorted({experiment_of(path) for path in files})


def model_folder_name(model: str) -> str:
    """The folder a model's recordings live in: its name, with any character a file name cannot safely
    hold ("/" of "meta-llama/Llama-3", ":" of "llama3.2:3b") replaced by "_" (manifests keep the real name)."""
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", model).strip(".")
    if not name:
        raise ValueError(f"model name {model!r} cannot name a folder of recordings")
    return name


def folder_model(folder: Path) -> str:
    """The model whose recordings a folder holds, as the manifests (or a working file's first record) name it."""
    for manifest in sorted(Path(folder).glob(f"*{MANIFEST_SUFFIX}")):
        try:
            models = list(json.loads(manifest.read_text()).get("exchanges_by_model") or {})
        except (json.JSONDecodeError, OSError, AttributeError):
            continue
        if len(models) == 1:
            return models[0]
    for working in sorted(Path(folder).glob(f"*{WORKING_SUFFIX}")):
        with open(working, "rb") as handle:
            try:
                return json.loads(handle.readline())["request"]["model"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return Path(folder).name


def recorded_models(root: Path) -> dict[str, Path]:
    """Every model with recordings under `root` (one folder each), and its folder."""
    folders = sorted(folder for folder in Path(root).iterdir() if folder.is_dir() and experiments_in(folder)) \
        if Path(root).is_dir() else []
    return {folder_model(folder): folder for folder in folders}


def display_path(path: Path) -> str:
    """A path as a command run from the checkout names it (relative to the repository when inside it)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT.resolve()))
    except ValueError:
        return str(path)


def restore_hint(*paths: Path) -> str:
    return f"restore it with `git checkout -- {' '.join(display_path(p) for p in paths)}` (a committed recording), " \
           + RECORD_AGAIN


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TranscriptStore:
    """An experiment's exchanges (sealed file, then working file), indexed by request key in memory.

    `path` names the working file (`<experiment>.jsonl`); the sealed file beside it is read first and
    checked against its manifest, and any damaged line in it stops the load (`TranscriptError`).
    Damaged lines of the working file are skipped and listed in `skipped_lines` as "file:line", each
    with a warning naming the file, the line and the fix (`strict=True` makes them an error instead);
    `damaged` maps the key of each skipped line whose key could still be read to where it was.
    `legacy=True` accepts a sealed file written before records carried digests (only to re-seal it)."""

    def __init__(self, path: Path, strict: bool = False, legacy: bool = False):
        self.path = Path(path)
        self.strict = strict
        self.legacy = legacy
        self.skipped_lines: list[str] = []
        self.damaged: dict[str, str] = {}
        self._records: dict[str, dict] = {}
        self._where: dict[str, str] = {}
        self._ends_with_newline = True
        sealed = sealed_path(self.path)
        if sealed.exists():
            self._load_sealed(sealed)
        if self.path.exists():
            data = self.path.read_bytes()
            self._ends_with_newline = data.endswith(b"\n") or not data
            self._load(self.path, data, sealed=False)

    def _load_sealed(self, sealed: Path) -> None:
        manifest_file = manifest_path(self.path)
        compressed = sealed.read_bytes()
        try:
            data = gzip.decompress(compressed)
        except (OSError, EOFError) as error:
            raise TranscriptError(f"{display_path(sealed)} is damaged ({error}); "
                                  f"{restore_hint(sealed, manifest_file)}") from None
        self._load(sealed, data, sealed=True)  # a damaged line is named before the hash says "changed"
        try:
            expected = json.loads(manifest_file.read_text())["sha256"]
        except FileNotFoundError:
            raise TranscriptError(f"{display_path(sealed)} has no manifest ({manifest_file.name} is missing), so "
                                  f"its integrity cannot be checked; {restore_hint(sealed, manifest_file)}") from None
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise TranscriptError(f"{display_path(manifest_file)} is damaged ({type(error).__name__}: {error}); "
                                  f"{restore_hint(sealed, manifest_file)}") from None
        actual = sha256_hex(compressed)
        if actual != expected:
            raise TranscriptError(
                f"{display_path(sealed)} does not match its manifest: its SHA-256 is {actual[:16]}…, "
                f"{manifest_file.name} records {str(expected)[:16]}…; the file or its manifest was changed "
                f"after sealing. Nothing of it is replayed: {restore_hint(sealed, manifest_file)}")

    def _load(self, source: Path, data: bytes, sealed: bool) -> None:
        lines = data.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = check_record(record, require_digest=sealed and not self.legacy)
            except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as error:
                self._skip(source, number, line, error, cut=number == len(lines) and not data.endswith(b"\n"),
                           sealed=sealed)
                continue
            if key not in self._records:
                self._records[key] = record if sealed else with_digest(record)
                self._where[key] = f"{source.name}:{number}"

    def _skip(self, source: Path, number: int, line: bytes, error: Exception, cut: bool, sealed: bool) -> None:
        why = ("cut short (a recording run was interrupted)" if cut
               else f"damaged ({type(error).__name__}: {error})" if isinstance(error, json.JSONDecodeError)
               else f"damaged: {error}")
        if sealed:
            raise TranscriptError(
                f"{display_path(source)}:{number} (line {number} of the decompressed recording) is {why}. Nothing "
                f"of it is replayed: {restore_hint(source, manifest_path(self.path))}")
        message = (f"{source}:{number} is {why}; that exchange is skipped and will be asked again "
                   "when recording. Delete the line (or restore the file from git) to silence this warning.")
        if self.strict:
            raise TranscriptError(message)
        log.warning(message)
        self.skipped_lines.append(f"{source.name}:{number}")
        found = _KEY_IN_LINE.search(line)
        if found:
            self.damaged.setdefault(found.group(1).decode(), f"{source}:{number}")

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
        key = check_record(record, require_digest=False)
        record = with_digest(record)
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
        """Fold every record into the sealed file (sorted by key, each with its digest, gzip with no
        timestamp, so the same exchanges give the same bytes), write the manifest with the sealed file's
        SHA-256, then remove the working file.

        `provenance` maps a model name to how it was served (model file and hash, server and its
        settings); it is merged into the manifest's, so earlier models' entries are kept."""
        sealed, manifest_file = sealed_path(self.path), manifest_path(self.path)
        lines = [json.dumps(with_digest(self._records[key]), ensure_ascii=False, separators=(",", ":"))
                 for key in sorted(self._records)]
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
            handle.write(("\n".join(lines) + "\n").encode("utf-8") if lines else b"")
        previous = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
        models = {**previous.get("models", {}), **(provenance or {})}
        counts: dict[str, int] = {}
        for record in self._records.values():
            counts[record["request"]["model"]] = counts.get(record["request"]["model"], 0) + 1
        times = sorted(record.get("time") or "" for record in self._records.values())
        manifest = {
            "experiment": experiment_of(self.path), "file": sealed.name, "format": FORMAT_VERSION,
            "sha256": sha256_hex(buffer.getvalue()), "exchanges": len(lines),
            "exchanges_by_model": dict(sorted(counts.items())),
            "recorded_from": times[0] if times else None, "recorded_to": times[-1] if times else None,
            "models": {name: models[name] for name in sorted(models) if name in counts},
        }
        # The sealed file first, then its manifest: an interruption between the two leaves a file its
        # manifest does not describe, which the next load reports, never a silently wrong pair.
        _write_atomically(sealed, buffer.getvalue())
        _write_atomically(manifest_file, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
        if self.path.exists():
            self.path.unlink()
        self._ends_with_newline = True
        return sealed


def reseal(path: Path) -> tuple[int, int]:
    """Seal again a sealed recording written before records carried digests (format 2), after checking
    it against its manifest; every key and answer is kept as it was. Returns (exchanges, digests added)."""
    if Path(path).exists():
        raise TranscriptError(f"{display_path(path)} (a recording run's working file) is beside the sealed file: "
                              "seal it first (python -m eep_utils.record), then re-seal")
    store = TranscriptStore(path, legacy=True)
    added = sum("digest" not in record for record in store.records())
    store.seal()
    return len(store), added


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
