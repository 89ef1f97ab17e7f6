"""Teacher throughput and prompt growth, against the local OpenAI-compatible server (no network).

1. Decisions per second through the real SDK with 100 ms injected latency at 1, 8 and 32 requests in
   flight, each against the ideal (in flight / latency) and against 1 in flight measured in the same
   run. Target: at 32 in flight at least 80% of the ideal. The server runs in its own process so
   that it does not share the client's interpreter lock; the client's CPU time per decision is
   printed too, since on a loaded machine it, not the latency, sets the ceiling (1000 / ms).
2. Prompt tokens per decision over the episode for the 2023 protocol and the bounded-history
   protocol (4 turns), from the server's token counts (words plus 4 per message: a proxy for a
   BPE tokenizer, which would need a download), with the server answering by the Newton stand-in
   rule so that episodes are long. Target: bounded history flat in episode length.

    python benchmarks/bench_teachers.py [--quick]
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _load_test_double(name: str):
    """A module of tests/ (the benchmark measures against the same fake server the tests use)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LocalOpenAIServer = _load_test_double("local_openai_server").LocalOpenAIServer
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.cartpole.teaching import (
    BoundedHistoryProtocol,
    Study2023Protocol,
    ask_once,
    run_cartpole_teacher,
)
from eep_utils.chat.client import OpenAIChatbot
from eep_utils.personas import Voice

NEWTON = Voice("newton", "you-are", 1)  # the 2023 study's prompt

LATENCY_S = 0.1


def throughput(quick: bool) -> None:
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "local_openai_server.py"), "--latency",
                               str(LATENCY_S)], stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        rng = np.random.default_rng(0)
        print(f"decisions per second, {LATENCY_S * 1000:.0f} ms latency per request (server in its own process)")
        print(f"{'in flight':>9} {'decisions':>9} {'seconds':>8} {'per second':>10} {'ideal':>6} {'of ideal':>8} "
              f"{'vs 1 in flight':>14} {'client CPU ms/decision':>22}")
        sequential_rate = None
        for in_flight in (1, 8, 32):
            n = (8 if quick else 20) * in_flight
            observations = rng.uniform([-0.5, -0.5, -0.1, -0.5], [0.5, 0.5, 0.1, 0.5], size=(n, 4))
            # Every observation asked, repeats included: the server's rate is measured, not the text states'.
            texts = [STUDY_2023.describe(observation) for observation in observations]
            chatbot = OpenAIChatbot("local-model", base_url=base_url, max_in_flight=in_flight, timeout=10)
            protocol = BoundedHistoryProtocol(turns=0)
            ask_once(chatbot, NEWTON, texts[:in_flight], protocol, max_in_flight=in_flight)  # warm up
            started, cpu_started = time.perf_counter(), time.process_time()
            decisions = ask_once(chatbot, NEWTON, texts, protocol, max_in_flight=in_flight)
            seconds, cpu_ms = time.perf_counter() - started, 1000 * (time.process_time() - cpu_started) / n
            assert len(decisions) == n and {d.status for d in decisions} == {"ok"}
            rate, ideal = n / seconds, in_flight / LATENCY_S
            sequential_rate = sequential_rate or rate
            print(f"{in_flight:>9} {n:>9} {seconds:>8.2f} {rate:>10.1f} {ideal:>6.0f} {rate / ideal:>8.0%} "
                  f"{rate / sequential_rate:>13.1f}x {cpu_ms:>22.1f}")
    finally:
        server.terminate()
        server.wait()


def newton_answer(body: dict) -> str:
    stand_in = RuleStandIn("newton")
    return stand_in.choose(STUDY_2023.parse_description(body["messages"][-1]["content"]))


def prompt_growth(quick: bool) -> None:
    n_episodes = 2 if quick else 4
    buckets = [(0, 10), (10, 50), (50, 100), (100, 250)]
    print(f"\nprompt tokens per decision by decision index within the episode ({n_episodes} episodes, "
          "server's word-count tokens)")
    print(f"{'protocol':<28}" + "".join(f"{f'{a}-{b - 1}':>10}" for a, b in buckets) + f"{'last/first':>11}")
    with LocalOpenAIServer(answer=newton_answer) as server:
        for name, protocol in (("2023 (whole history)", Study2023Protocol()),
                               ("bounded history (4 turns)", BoundedHistoryProtocol(turns=4, logprobs=False))):
            chatbot = OpenAIChatbot("local-model", base_url=server.base_url, timeout=30)
            episodes = run_cartpole_teacher(chatbot, NEWTON, protocol, n_episodes, seed=0)
            decisions = episodes.decisions.assign(index=episodes.decisions.groupby("episode").cumcount())
            means = [decisions[(decisions["index"] >= a) & (decisions["index"] < b)]["prompt_tokens"].mean()
                     for a, b in buckets]
            filled = [m for m in means if not np.isnan(m)]
            print(f"{name:<28}" + "".join(f"{m:>10.0f}" for m in means) + f"{filled[-1] / filled[0]:>11.2f}")
        print(f"(episode returns with the Newton rule answering: {episodes.returns().astype(int).tolist()})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="teacher throughput and prompt growth")
    parser.add_argument("--quick", action="store_true", help="a small run (seconds)")
    arguments = parser.parse_args()
    throughput(arguments.quick)
    prompt_growth(arguments.quick)
