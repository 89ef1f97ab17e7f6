"""Sentence encoders: the offline MiniLM (checked, cached, batched) and an embeddings API on a local server."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from eep_utils.chat.embeddings import (APIEmbeddingEncoder, EmbeddingModelError, MiniLMEncoder, make_encoder,
                                  minilm_directory, shared_minilm)


# --------------------------------------------------------------------------------------------
# Offline model

def test_minilm_rows_are_unit_vectors_and_similar_texts_are_closer():
    vectors = shared_minilm().encode(["push the cart left", "move the cart to the left", "bake a chocolate cake"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2


def test_minilm_encodes_each_distinct_text_once_in_batches(monkeypatch):
    encoder = shared_minilm()
    batches = []
    original = MiniLMEncoder._encode_batch

    def counting(self, texts):
        batches.append(list(texts))
        return original(self, texts)

    monkeypatch.setattr(MiniLMEncoder, "_encode_batch", counting)
    monkeypatch.setattr(encoder, "batch_size", 2)
    monkeypatch.setattr(encoder, "cache", {})
    texts = ["a cart", "a pole", "a cart", "a track", "a pole", "a push", "a fall"]
    vectors = encoder.encode(texts)
    assert batches == [["a cart", "a pole"], ["a track", "a push"], ["a fall"]]
    np.testing.assert_array_equal(vectors[0], vectors[2])
    encoder.encode(texts)
    assert len(batches) == 3, "a second request for cached texts must not run the model"


def test_minilm_batched_equals_one_at_a_time():
    encoder = shared_minilm()
    texts = ["the pole swung back toward upright", "the cart moved left", "keep the pole upright"]
    np.testing.assert_allclose(encoder.encode(texts), np.stack([encoder._encode_batch([text])[0] for text in texts]), atol=1e-4)


def test_a_different_model_file_is_refused_with_what_to_do():
    with pytest.raises(EmbeddingModelError, match="reinstall"):
        minilm_directory(expected_sha256="0" * 64)


def test_empty_input_gives_an_empty_matrix():
    assert shared_minilm().encode([]).shape == (0, 384)


# --------------------------------------------------------------------------------------------
# Embeddings API, against an OpenAI-compatible server on 127.0.0.1

class _EmbeddingServer(BaseHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if body["model"] == "broken":
            self._send(500, {"error": {"message": "model crashed", "type": "server_error"}})
            return
        texts = body["input"]
        # Not unit length and listed in reverse, as some servers do: the client must sort and normalise.
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), float(sum(map(ord, t)) % 7 + 1), 2.0]}
                for i, t in enumerate(texts)][::-1]
        self._send(200, {"object": "list", "data": data, "model": body["model"],
                         "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)}})

    def _send(self, status, document):
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def embedding_server():
    _EmbeddingServer.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmbeddingServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _client(base_url):
    from openai import OpenAI

    return OpenAI(api_key="sk-test-not-a-real-key", base_url=base_url, max_retries=0, timeout=5)


def test_api_encoder_batches_caches_sorts_and_normalises(embedding_server):
    encoder = APIEmbeddingEncoder("test-embedder", client=_client(embedding_server), batch_size=2)
    texts = ["ab", "abc", "ab", "abcd", "x"]
    vectors = encoder.encode(texts)
    assert [r["body"]["input"] for r in _EmbeddingServer.requests] == [["ab", "abc"], ["abcd", "x"]]
    assert all(r["path"] == "/v1/embeddings" and r["body"]["encoding_format"] == "float"
               for r in _EmbeddingServer.requests)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    raw = np.array([3.0, sum(map(ord, "abc")) % 7 + 1, 2.0])
    np.testing.assert_allclose(vectors[1], raw / np.linalg.norm(raw), atol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    encoder.encode(["x", "abcd"])
    assert len(_EmbeddingServer.requests) == 2, "cached texts must not be sent again"


def test_api_encoder_names_model_and_host_but_never_the_key(embedding_server):
    encoder = APIEmbeddingEncoder("test-embedder", client=_client(embedding_server))
    assert "test-embedder" in encoder.name and "127.0.0.1" in encoder.name
    assert "sk-test" not in encoder.name


def test_api_encoder_failure_says_what_to_do(embedding_server):
    encoder = APIEmbeddingEncoder("broken", client=_client(embedding_server))
    with pytest.raises(EmbeddingModelError, match="EEP_EMBEDDING_MODEL.*minilm"):
        encoder.encode(["a"])
    assert encoder.cache == {}


def test_make_encoder_chooses_by_setting_and_environment(monkeypatch, embedding_server):
    monkeypatch.delenv("EEP_EMBEDDING_MODEL", raising=False)
    assert make_encoder("auto") is shared_minilm()
    assert make_encoder("minilm") is shared_minilm()
    with pytest.raises(ValueError, match="EEP_EMBEDDING_MODEL"):
        make_encoder("api")
    with pytest.raises(ValueError, match="one of"):
        make_encoder("bert")

    monkeypatch.setenv("EEP_EMBEDDING_MODEL", "test-embedder")
    assert make_encoder("auto") is shared_minilm(), "a model without an endpoint stays offline"
    with pytest.raises(ValueError, match="OPENAI_BASE_URL"):
        make_encoder("api")

    monkeypatch.setenv("OPENAI_BASE_URL", embedding_server)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    encoder = make_encoder("auto")
    assert isinstance(encoder, APIEmbeddingEncoder)
    assert encoder.encode(["hello"]).shape == (1, 3)
    assert _EmbeddingServer.requests[-1]["auth"] == "Bearer sk-test-not-a-real-key"
