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
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eep_utils.cartpole.embodiment import STUDY_2023  # noqa: E402
from eep_utils.cartpole.teaching import BoundedHistoryProtocol, initial_messages  # noqa: E402
from eep_utils.chat.local import LocalChatbot, ServerSettings  # noqa: E402
from eep_utils.chat.running import complete  # noqa: E402
from eep_utils.chat.teachers import TRANSCRIPTS_DIR  # noqa: E402
from eep_utils.chat.transcripts import TranscriptStore  # noqa: E402
from eep_utils.chat.types import ChatRequest  # noqa: E402


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

    print("3. recording time of the committed recordings (sum of recorded latencies)")
    total, count = 0.0, 0
    for sealed in sorted(TRANSCRIPTS_DIR.glob("*.jsonl.gz")):
        store = TranscriptStore(sealed.with_suffix("").with_suffix(".jsonl"))
        latencies = [record["answer"].get("latency_s") or 0.0 for record in store.records()]
        total, count = total + sum(latencies), count + len(latencies)
        print(f"   {sealed.name}: {len(latencies)} exchanges, {sum(latencies) / 60:.1f} min, "
              f"median {statistics.median(latencies) if latencies else float('nan'):.2f} s")
    if count:
        print(f"   all: {count} exchanges in {total / 60:.1f} min of answering; ratio to the 45-min target: "
              f"{total / 60 / 45:.2f}")
    else:
        print("   no recordings committed yet (python -m eep_utils.record)")


if __name__ == "__main__":
    main()
