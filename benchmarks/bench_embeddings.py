"""Captions per second: ELLM's cached, batched embedding against encoding one caption at a time.

The captions are those of real CartPole transitions (a random walk and the full-state controller),
so the stream repeats a small vocabulary, as it does in chapter 05. Three ways are timed in one run
on the same model:
  one at a time   every caption encoded on its own, no cache (the baseline)
  batched         every caption encoded, in batches, no cache
  cached+batched  MiniLMEncoder.encode: each distinct caption once, in batches (what the book uses)
The baseline runs on a prefix of the stream (it is slow); rates are captions per second.

    python benchmarks/bench_embeddings.py [--quick]
"""
import argparse
import time

import numpy as np

from eep_utils.cartpole.evaluation import RandomPolicy, play_episodes
from eep_utils.cartpole.policies import LQRController
from eep_utils.chat.embeddings import shared_minilm
from eep_utils.ellm.captions import TransitionCaptioner


def caption_stream(n_captions: int, seed: int) -> list[str]:
    """Captions of random-walk and controller transitions, shuffled together (seeded)."""
    captioner = TransitionCaptioner()
    captions = []
    for policy, n_episodes in ((RandomPolicy(seed), n_captions // 10 + 1), (LQRController(), n_captions // 250 + 1)):
        t = play_episodes(policy, n_episodes, seed, steps_per_decision=2, record=True)
        captions += captioner.captions(t.observations, t.actions, t.next_observations)
    order = np.random.default_rng(seed).permutation(len(captions))
    return [captions[i] for i in order[:n_captions]]


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small run (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n_captions, n_baseline = (300, 20) if args.quick else (5000, 200)

    captions = caption_stream(n_captions, args.seed)
    encoder = shared_minilm()
    encoder.encode(["warm-up"])  # the first call pays one-off costs that none of the three should carry
    print(f"model: {encoder.name}")
    print(f"stream: {len(captions)} transition captions, {len(set(captions))} distinct")

    start = time.perf_counter()
    baseline = encoder.encode_uncached(captions[:n_baseline])
    one_at_a_time = rate(n_baseline, time.perf_counter() - start)

    start = time.perf_counter()
    batched_vectors = np.concatenate([encoder._encode_batch(captions[i:i + encoder.batch_size])
                                      for i in range(0, len(captions), encoder.batch_size)])
    batched = rate(len(captions), time.perf_counter() - start)

    encoder.cache = {}
    start = time.perf_counter()
    cached_vectors = encoder.encode(captions)
    cached = rate(len(captions), time.perf_counter() - start)

    # All three must give the same vectors (up to float noise from padding within a batch).
    assert np.allclose(baseline, cached_vectors[:n_baseline], atol=1e-4)
    assert np.allclose(batched_vectors, cached_vectors, atol=1e-4)
    print(f"one at a time:  {one_at_a_time:12,.0f} captions/s  (first {n_baseline} captions)")
    print(f"batched:        {batched:12,.0f} captions/s  ({batched / one_at_a_time:,.1f}x one at a time)")
    print(f"cached+batched: {cached:12,.0f} captions/s  ({cached / one_at_a_time:,.1f}x one at a time)")


if __name__ == "__main__":
    main()
