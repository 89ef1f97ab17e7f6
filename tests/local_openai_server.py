"""A scripted OpenAI-compatible chat completions server on 127.0.0.1, for tests and benchmarks.

The real `openai` SDK talks to it over real HTTP. Answers are scripted (a function of the request,
by default a deterministic left/right from the last user message), each response can be delayed,
and faults are queued: the next requests get them in order, one each.

Faults: "429", "500", "timeout" (answers only after `timeout_delay_s`), "drop" (closes the
connection without answering), "malformed" (a 200 whose body is not JSON), "no_choices" (valid JSON
without a message), "empty" (empty content), "refusal" (an apologetic refusal as content),
"refusal_field" (content null, the API's refusal field set), "context" (400
context_length_exceeded), or "text:<answer>" (that exact content).

Styles of answering (`style=`), so that the book can be built against an endpoint that answers like
a hosted model, or uselessly:

- "scripted" (default): the answer function's text, as it is ("left" or "right" by default).
- "hosted": as a hosted model answers when asked freely: capitalised and punctuated ("Left.", "Yes."),
  goals as a numbered list, a grammar ignored, max_tokens honoured (a cut answer has finish_reason
  "length"), and its own log-probability tokens: "Left" and "." with top alternatives in several
  spellings ("Left", " left", "Right", " right"), as many as `top_logprobs` asks (none when it does not).
- "hosted-json": as "hosted", but its verdicts are JSON objects (`{"cute": true, "score": 8}`): a model
  that ignores the instruction to answer yes or no.
- "unusable": nothing a chapter can use: a decision that names no direction, a verdict that is neither
  yes nor no, a refusal instead of goals.

Run alone for a benchmark or a build against it: `python tests/local_openai_server.py --latency 0.1
[--style hosted]` prints its base URL.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import re
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


STYLES = ("scripted", "hosted", "hosted-json", "unusable")
GOALS = ("push the cart left", "push the cart right", "keep the pole upright", "slow the cart down",
         "bring the cart back to the center", "stop the pole from swinging")


def last_user_message(body: dict) -> str:
    return next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")


def _seed(body: dict) -> int:
    return hashlib.sha256(last_user_message(body).encode()).digest()[1]


def _spellings(word: str, p: float, other: str) -> dict[str, float]:
    """A hosted model's alternatives at the token where it answers `word` (probability `p` in all)."""
    return {word: 0.8 * p, f" {word.lower()}": 0.15 * p, word.upper(): 0.05 * p,
            other: 0.8 * (1 - p), f" {other.lower()}": 0.2 * (1 - p)}


def styled_tokens(body: dict, style: str) -> list[tuple[str, dict[str, float]]]:
    """The answer in `style` as (token, {alternative: probability}) pairs, the token itself included."""
    question, seed = last_user_message(body), _seed(body)
    goals = re.search(r"Suggest (\d+) goals", question)
    if style == "unusable":
        text = ("As an AI, I can't advise on that." if goals else "Maybe." if "cute" in question.lower()
                else "It depends on the situation.")
        return [(token, {token: 0.9}) for token in re.findall(r"\s*\S+", text)]
    if goals:
        chosen = [GOALS[(seed + i) % len(GOALS)] for i in range(int(goals.group(1)))]
        text = "\n".join(f"{i}. {goal[0].upper()}{goal[1:]}." for i, goal in enumerate(chosen, 1))
        return [(token, {token: 0.9}) for token in re.findall(r"\s*\S+|\n", text)]
    if "cute" in question.lower():
        cute = seed % 2 == 0
        if style == "hosted-json":
            verdict, other, score = (" true", " false", " 8") if cute else (" false", " true", " 3")
            return [('{"', {'{"': 0.95}), ("cute", {"cute": 0.95}), ('":', {'":': 0.95}),
                    (verdict, {verdict: 0.7, other: 0.3}), (",", {",": 0.9}), (' "', {' "': 0.9}),
                    ("score", {"score": 0.9}), ('":', {'":': 0.9}), (score, {score: 0.6}), ("}", {"}": 0.99})]
        word, other = ("Yes", "No") if cute else ("No", "Yes")
        return [(word, _spellings(word, 0.75, other)), (".", {".": 0.9, "!": 0.05})]
    word = default_answer(body).capitalize()
    return [(word, _spellings(word, 0.7, "Right" if word == "Left" else "Left")), (".", {".": 0.95, ",": 0.03})]


def count_tokens(body: dict) -> int:
    """A stand-in tokenizer: words plus a few tokens of framing per message."""
    return sum(len(str(m.get("content") or "").split()) + 4 for m in body["messages"]) + 3


class LocalOpenAIServer:
    def __init__(self, answer=default_answer, latency_s: float = 0.0, timeout_delay_s: float = 3.0,
                 p_answer: float = 0.8, style: str = "scripted"):
        if style not in STYLES:
            raise ValueError(f"style {style!r} is not one of {STYLES}")
        self.answer = answer
        self.style = style
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

    def styled_completion(self, body: dict) -> dict:
        """The completion in this server's style (see the module docstring), max_tokens honoured."""
        tokens = styled_tokens(body, self.style)
        limit = body.get("max_tokens")
        cut = limit is not None and len(tokens) > limit
        tokens = tokens[:limit] if cut else tokens
        completion = self.completion(body, "".join(token for token, _ in tokens))
        choice = completion["choices"][0]
        choice["finish_reason"] = "length" if cut else "stop"
        choice.pop("logprobs", None)
        if body.get("logprobs"):
            wanted = body.get("top_logprobs") or 0
            choice["logprobs"] = {"content": [
                {"token": token, "logprob": math.log(alternatives[token]), "bytes": None,
                 "top_logprobs": [{"token": alt, "logprob": math.log(p), "bytes": None}
                                  for alt, p in sorted(alternatives.items(), key=lambda item: -item[1])[:wanted]]}
                for token, alternatives in tokens]}
        completion["usage"]["completion_tokens"] = len(tokens)
        completion["usage"]["total_tokens"] = completion["usage"]["prompt_tokens"] + len(tokens)
        return completion

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
                if fault and fault.startswith("text:"):
                    return self._send_json(200, server.completion(body, fault[len("text:"):]))
                if server.style != "scripted":
                    return self._send_json(200, server.styled_completion(body))
                return self._send_json(200, server.completion(body, server.answer(body)))

        return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument("--style", choices=STYLES, default="scripted", help="how it answers (see above)")
    args = parser.parse_args()
    server = LocalOpenAIServer(latency_s=args.latency, style=args.style).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
