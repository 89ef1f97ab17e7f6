"""A scripted OpenAI-compatible chat completions server on 127.0.0.1, for tests and benchmarks.

The real `openai` SDK talks to it over real HTTP. Answers are scripted (a function of the request,
by default a deterministic left/right from the last user message), each response can be delayed,
and faults are queued: the next requests get them in order, one each.

Faults: "429", "500", "timeout" (answers only after `timeout_delay_s`), "drop" (closes the
connection without answering), "malformed" (a 200 whose body is not JSON), "no_choices" (valid JSON
without a message), "empty" (empty content), "refusal" (an apologetic refusal as content),
"refusal_field" (content null, the API's refusal field set), "context" (400
context_length_exceeded), or "text:<answer>" (that exact content).

Run alone for a benchmark: `python tests/local_openai_server.py --latency 0.1` prints its base URL.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REFUSAL_TEXT = "I'm sorry, but I can't help with that."


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections when 32 clients connect at once


def default_answer(body: dict) -> str:
    """left or right, fixed by a hash of the last user message: deterministic, and varied."""
    last_user = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
    return "left" if hashlib.sha256(last_user.encode()).digest()[0] % 2 else "right"


def count_tokens(body: dict) -> int:
    """A stand-in tokenizer: words plus a few tokens of framing per message."""
    return sum(len(str(m.get("content") or "").split()) + 4 for m in body["messages"]) + 3


class LocalOpenAIServer:
    def __init__(self, answer=default_answer, latency_s: float = 0.0, timeout_delay_s: float = 3.0,
                 p_answer: float = 0.8):
        self.answer = answer
        self.latency_s = latency_s
        self.timeout_delay_s = timeout_delay_s
        self.p_answer = p_answer  # the probability the scripted logprobs give the answer token
        self.faults: collections.deque[str] = collections.deque()
        self.received: list[dict] = []  # every request body, in arrival order
        self.headers: list[dict] = []  # their HTTP headers, names in lower case
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests the server was answering at once
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def queue(self, *faults: str) -> None:
        self.faults.extend(faults)

    def start(self) -> "LocalOpenAIServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _next_fault(self, body: dict, headers: dict) -> str | None:
        with self._lock:
            self.received.append(body)
            self.headers.append(headers)
            return self.faults.popleft() if self.faults else None

    def completion(self, body: dict, content: str | None, refusal: str | None = None) -> dict:
        choice = {"index": 0, "finish_reason": "stop",
                  "message": {"role": "assistant", "content": content, "refusal": refusal}}
        if body.get("logprobs") and content:
            other = {"left": "right", "right": "left"}.get(content.strip().lower())
            alternatives = [{"token": content, "logprob": math.log(self.p_answer), "bytes": None}]
            if other:
                alternatives.append({"token": other, "logprob": math.log(1 - self.p_answer), "bytes": None})
            alternatives = alternatives[:body.get("top_logprobs") or 1]
            choice["logprobs"] = {"content": [{"token": content, "logprob": math.log(self.p_answer), "bytes": None,
                                               "top_logprobs": alternatives}]}
        return {"id": "chatcmpl-local", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "local"), "system_fingerprint": "fp_local", "choices": [choice],
                "usage": {"prompt_tokens": count_tokens(body), "completion_tokens": 1,
                          "total_tokens": count_tokens(body) + 1}}

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
            disable_nagle_algorithm = True  # headers and body go out as separate writes; don't hold the body

            def log_message(self, *args):
                pass

            def handle(self):
                try:
                    super().handle()
                except ConnectionResetError:
                    pass  # the client closed a kept-alive connection (a cancelled or timed-out request)

            def _send(self, status: int, payload: bytes, headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def _send_json(self, status: int, document: dict, headers: dict | None = None):
                self._send(status, json.dumps(document).encode(), headers)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fault = server._next_fault(body, {name.lower(): value for name, value in self.headers.items()})
                with server._lock:
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                try:
                    self._respond(body, fault)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _respond(self, body: dict, fault: str | None):
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                time.sleep(server.timeout_delay_s if fault == "timeout" else server.latency_s)
                retry_fast = {"retry-after-ms": "10"}
                if fault == "429":
                    return self._send_json(429, {"error": {"message": "Rate limit reached", "type": "requests",
                                                           "code": "rate_limit_exceeded"}}, retry_fast)
                if fault == "500":
                    return self._send_json(500, {"error": {"message": "The server had an error",
                                                           "type": "server_error"}}, retry_fast)
                if fault == "context":
                    return self._send_json(400, {"error": {
                        "message": "This model's maximum context length is 4097 tokens.",
                        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
                if fault == "malformed":
                    return self._send(200, b'{"id": "chatcmpl-local", "choices": [')
                if fault == "no_choices":
                    return self._send_json(200, {"id": "chatcmpl-local", "object": "chat.completion",
                                                 "created": 0, "model": body.get("model"), "choices": []})
                if fault == "empty":
                    return self._send_json(200, server.completion(body, ""))
                if fault == "refusal":
                    return self._send_json(200, server.completion(body, REFUSAL_TEXT))
                if fault == "refusal_field":
                    return self._send_json(200, server.completion(body, None, refusal="I can't assist with that."))
                content = fault[len("text:"):] if fault and fault.startswith("text:") else server.answer(body)
                return self._send_json(200, server.completion(body, content))

        return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds before each answer")
    args = parser.parse_args()
    server = LocalOpenAIServer(latency_s=args.latency).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
