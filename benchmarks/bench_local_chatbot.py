"""The local chatbot's speed on this machine: SmolLM2-135M-Instruct on llama.cpp's server, through the SDK.

Measured in one run, each against a baseline of the same run (the ratio is printed):

1. Log-probabilities: requests per second of a server started with logits for every prompt token
   (what llama-cpp-python needs to return log-probabilities) and asked for them, against a server
   without them, asked the same questions.
2. Prefix reuse: the same CartPole questions of three personas asked grouped by persona (consecutive
   requests share the persona sentence, the task text and the examples, which llama.cpp keeps from
   the previous request) against interleaved (the persona changes at every request, so the whole
   prompt is evaluated again).
3. The recording time of what the book asks, from the latencies stored in the committed recordings,
   against the 45-minute (full) and 3-minute (quick) targets; the record command prints the same.

    python benchmarks/bench_local_chatbot.py [--quick]
"""
from __future__ import annotations

import argparse
import math
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.teaching import BoundedHistoryProtocol, initial_messages
from eep_utils.chat.local import LocalChatbot, ServerSettings, local_alias
from eep_utils.chat.running import complete
from eep_utils.chat.teachers import model_folder
from eep_utils.chat.transcripts import TranscriptStore
from eep_utils.chat.types import ChatRequest


def questions(persona: str, n: int, seed: int, logprobs: bool) -> list[ChatRequest]:
    """Single-state CartPole questions (no history), constrained to left/right."""
    settings = BoundedHistoryProtocol(turns=0, logprobs=logprobs, constrained=True).request_settings()
    rng = np.random.default_rng(seed)
    return [ChatRequest.from_messages(initial_messages(persona)
                                      + [{"role": "user", "content": STUDY_2023.describe(rng.normal(0, 0.15, 4))}],
                                      **settings) for _ in range(n)]


def per_second(chatbot: LocalChatbot, requests: list[ChatRequest]) -> float:
    complete(chatbot, requests[0])  # the server is started and the first prompt evaluated outside the clock
    started = time.perf_counter()
    for request in requests[1:]:
        complete(chatbot, request)
    return (len(requests) - 1) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    n = 12 if parser.parse_args().quick else 40

    print("1. log-probabilities (one persona, grouped requests)")
    rates = {}
    for logits_all in (False, True):
        chatbot = LocalChatbot(settings=ServerSettings(logits_all=logits_all))
        try:
            rates[logits_all] = per_second(chatbot, questions("newton", n, seed=1, logprobs=logits_all))
        finally:
            chatbot.close()
    print(f"   without: {rates[False]:.2f} requests/s   with: {rates[True]:.2f} requests/s   "
          f"ratio with/without: {rates[True] / rates[False]:.2f}")

    print("2. prefix reuse (three personas, with log-probabilities)")
    per_persona = {name: questions(name, n // 3, seed=2, logprobs=True) for name in ("newton", "no_persona", "aristotle")}
    grouped = [request for requests in per_persona.values() for request in requests]
    interleaved = [request for triple in zip(*per_persona.values()) for request in triple]
    chatbot = LocalChatbot()
    try:
        ordered_rate, unordered_rate = per_second(chatbot, grouped), per_second(chatbot, interleaved)
    finally:
        chatbot.close()
    print(f"   interleaved: {unordered_rate:.2f} requests/s   grouped: {ordered_rate:.2f} requests/s   "
          f"ratio grouped/interleaved: {ordered_rate / unordered_rate:.2f}")

    print("3. recording time of the committed recordings (the server's busy time)")
    intervals = []
    for sealed in sorted(model_folder(local_alias()).glob("*.jsonl.gz")):
        records = TranscriptStore(sealed.with_suffix("").with_suffix(".jsonl")).records()
        intervals += [answered_interval(record) for record in records]
        print(f"   {sealed.name}: {len(records)} exchanges")
    if intervals:
        busy = busy_seconds(intervals)
        print(f"   all: {len(intervals)} exchanges; the server was answering for {busy / 60:.1f} min "
              f"(requests in flight overlap, so this is less than the sum of latencies, "
              f"{sum(end - start for start, end in intervals) / 60:.1f} min); ratio to the 45-min target: "
              f"{busy / 60 / 45:.2f}")
    else:
        print("   no recordings committed yet (python -m eep_utils.record)")


def answered_interval(record: dict) -> tuple[float, float]:
    """(start, end) in seconds of the epoch: the record's time is when the answer was written."""
    end = datetime.fromisoformat(record["time"]).timestamp()
    return end - (record["answer"].get("latency_s") or 0.0), end


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """The length of the union of the intervals."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


if __name__ == "__main__":
    main()
