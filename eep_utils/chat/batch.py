"""The OpenAI Batch API: the same requests as a JSONL input file (`export_batch`), and its answers
joined back by `custom_id`, which is the request key, into a transcript (`import_batch`)."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterable

from eep_utils.chat.parsing import answer_from_completion
from eep_utils.chat.transcripts import TranscriptStore, exchange_record, request_key, request_of_record
from eep_utils.chat.types import ChatRequest, MalformedCompletion, TranscriptError

log = logging.getLogger(__name__)
BATCH_URL = "/v1/chat/completions"


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
        model, request = request_of_record({"request": body})
        if request_key(model, request) != custom_id:
            raise TranscriptError(f"{output_path}:{number}: custom_id {custom_id[:12]} does not match its request; "
                                  "the batch input file was edited after export")
        if custom_id in store:
            counts["already_recorded"] += 1
            continue
        try:
            answer = answer_from_completion(response.get("body"))
        except MalformedCompletion:
            log.warning("%s:%d has no chat completion in its response; left unrecorded", output_path, number)
            counts["failed"] += 1
            continue
        store.append(exchange_record(model, request, answer, endpoint))
        counts["imported"] += 1
    return counts
