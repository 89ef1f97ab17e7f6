"""Teachers by a setting: the local chatbot, an endpoint you configure, their recordings, or an offline stand-in.

Every teacher takes the same `ChatRequest` and gives a `ChatAnswer`, so an experiment cannot tell
them apart; but each names itself in `label`, and `is_chatbot` is False for stand-ins, so no artefact
can pass a stand-in off as a chatbot. A chapter gets its teacher with `make_teacher` and reports what
the run cost with `teacher.usage.report()`.

Recordings are kept per chatbot, `data/transcripts/<model>/<experiment>.jsonl.gz` (see `transcripts`):
the shipped SmolLM2 recordings in `SmolLM2-135M-Instruct-Q4_1/`, a reader's endpoint in a folder of
its own model's name, so a re-run never touches the shipped files. `available_chatbots()` lists every
chatbot whose recordings are present, and the configured endpoint: the rungs of the model ladder, each
able to make the teacher of any experiment, so that a chapter can run once per chatbot.

Settings (the notebooks' `teacher` parameter; $EEP_TEACHER replaces `auto` for a whole build, as the
record command does with `local`; an explicit setting such as a labelled stand-in comparison stays):

auto      your endpoint if one is configured (a model in $EEP_CHATBOT_MODEL and OPENAI_API_KEY or
          OPENAI_BASE_URL), recording every exchange; otherwise the local chatbot's committed
          recordings, and on a recording miss (a parameter changed) the local chatbot itself when
          llama-cpp-python is installed, else a stop naming the command that records what is missing.
          Never a stand-in.
local     the local chatbot (SmolLM2-135M-Instruct on llama.cpp, or $EEP_LOCAL_MODEL), recording.
live      your endpoint, recording (an error if none is configured).
replay    recordings only; a question not recorded is an error.
stand-in  the task's offline stand-in (not a chatbot; labelled so).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from eep_utils.chat.client import OpenAIChatbot
from eep_utils.chat.local import LOCAL_MODEL_VARIABLE, LocalChatbot, local_alias, server_installed
from eep_utils.chat.recording import RecordingTeacher, ReplayTeacher
from eep_utils.chat.transcripts import MANIFEST_SUFFIX, TranscriptStore, model_folder_name, recorded_models
from eep_utils.chat.types import Teacher, TeacherSettingError
from eep_utils.paths import DATA_DIR

TEACHER_SETTINGS = ("auto", "local", "live", "replay", "stand-in")
TEACHER_VARIABLE = "EEP_TEACHER"
MODEL_VARIABLE = "EEP_CHATBOT_MODEL"
ENDPOINT_VARIABLES = ("OPENAI_BASE_URL", "OPENAI_API_KEY")
TRANSCRIPTS_DIR = DATA_DIR / "transcripts"


def model_folder(model: str, transcripts_dir: Path | None = None) -> Path:
    """The folder of a model's recordings: data/transcripts/<model>/."""
    return Path(transcripts_dir or TRANSCRIPTS_DIR) / model_folder_name(model)


def transcript_path(experiment: str, model: str, transcripts_dir: Path | None = None) -> Path:
    """The working file of `model`'s recordings of `experiment` (the sealed one is beside it)."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", experiment):
        raise TeacherSettingError(f"experiment name {experiment!r} must be letters, digits, '_', '.' or '-' "
                                  "(it names the transcript file)")
    return model_folder(model, transcripts_dir) / f"{experiment}.jsonl"


def local_label(alias: str) -> str:
    return f"{alias} (llama.cpp, local)"


def endpoint_configured() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def settings_problem() -> str | None:
    """What is wrong with the chatbot settings in the environment (None when nothing is), naming the
    missing setting and how to set it; the build checks this before any notebook runs."""
    teacher = os.environ.get(TEACHER_VARIABLE) or "auto"
    if teacher not in TEACHER_SETTINGS:
        return (f"{TEACHER_VARIABLE}={teacher} is not one of {', '.join(TEACHER_SETTINGS)}; set it to one of "
                f"them, or unset it to use each chapter's own setting")
    chosen = os.environ.get(LOCAL_MODEL_VARIABLE)
    if chosen and not Path(chosen).expanduser().is_file():
        return (f"{LOCAL_MODEL_VARIABLE}={chosen} is not a file; name a .gguf model file, or unset "
                f"{LOCAL_MODEL_VARIABLE} to use the packaged SmolLM2-135M-Instruct")
    if teacher not in ("auto", "live"):
        return None  # replay, local and stand-in ask no endpoint
    endpoint = [name for name in ENDPOINT_VARIABLES if os.environ.get(name)]
    model = os.environ.get(MODEL_VARIABLE)
    if endpoint and not model:
        named = " and ".join(endpoint)
        return (f"{named} {'is' if len(endpoint) == 1 else 'are'} set but {MODEL_VARIABLE} is not, so your endpoint "
                f"would be ignored and the shipped recordings replayed. To ask your endpoint, name its model: "
                f"`export {MODEL_VARIABLE}=gpt-4o-mini` (or the name your server lists at /v1/models). To replay "
                f"the recordings instead, unset {named}, or set {TEACHER_VARIABLE}=replay")
    if model and not endpoint:
        return (f"{MODEL_VARIABLE}={model} is set but no endpoint is: set OPENAI_BASE_URL for an OpenAI-compatible "
                f"server (e.g. `export OPENAI_BASE_URL=http://127.0.0.1:11434/v1` for Ollama) and/or "
                f"OPENAI_API_KEY for OpenAI, or unset {MODEL_VARIABLE} to replay the shipped recordings "
                f"(a local GGUF file is named by {LOCAL_MODEL_VARIABLE}=/path/model.gguf instead)")
    if teacher == "live" and not model:
        return (f"{TEACHER_VARIABLE}=live asks your endpoint, and none is set: set {MODEL_VARIABLE} and "
                "OPENAI_BASE_URL and/or OPENAI_API_KEY, or unset " + TEACHER_VARIABLE)
    return None


def served_with_grammar(folder: Path) -> bool:
    """Whether a folder's recordings were made by a server that honours grammars (llama.cpp, named in the
    manifests), so that replaying them asks the same constrained questions."""
    for manifest in Path(folder).glob(f"*{MANIFEST_SUFFIX}"):
        models = (_read_json(manifest) or {}).get("models") or {}
        if any("llama.cpp" in str(served.get("server", "")) for served in models.values() if isinstance(served, dict)):
            return True
    return False


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def make_teacher(setting: str, *, stand_in: Teacher, experiment: str, model: str | None = None,
                 transcripts_dir: Path | None = None, record: bool = True, **client_options) -> Teacher:
    """The teacher a chapter asks for by `setting` (see the module docstring); `client_options` go to the
    live client (max_in_flight, requests_per_minute, budget, ...)."""
    if setting == "auto":
        setting = os.environ.get(TEACHER_VARIABLE) or setting
    if setting not in TEACHER_SETTINGS:
        raise TeacherSettingError(f"teacher setting {setting!r} is not one of {', '.join(TEACHER_SETTINGS)}; "
                                  f"set `teacher:` in notebooks/parameters.yaml (or {TEACHER_VARIABLE}) to one of them")
    _check_stand_in(stand_in)
    if setting == "stand-in":
        return stand_in
    model = model or os.environ.get(MODEL_VARIABLE) or None
    if setting == "auto":
        setting = "live" if model and endpoint_configured() else LOCAL_OR_REPLAY
    return _teacher(setting, experiment, model, transcripts_dir, record, client_options)


# The local chatbot's recordings, and the local chatbot itself on a miss when llama.cpp is installed:
# what `auto` means without an endpoint.
LOCAL_OR_REPLAY = "local-or-replay"


def _check_stand_in(stand_in) -> None:
    if getattr(stand_in, "is_chatbot", True):
        raise TeacherSettingError("stand_in must be an offline stand-in (a teacher with is_chatbot False)")


def _teacher(setting: str, experiment: str, model: str | None, transcripts_dir: Path | None, record: bool,
             client_options: dict) -> Teacher:
    """The chatbot teacher of a resolved setting (local-or-replay, local, replay or live)."""
    if setting in (LOCAL_OR_REPLAY, "local"):
        alias = local_alias()
        store = TranscriptStore(transcript_path(experiment, alias, transcripts_dir))
        if setting == "local" or server_installed():  # the server starts only on a miss
            return RecordingTeacher(LocalChatbot(**client_options), store, label=local_label(alias))
        return ReplayTeacher(store, alias, label=local_label(alias), accepts_grammar=True,
                             transcripts_dir=transcripts_dir or TRANSCRIPTS_DIR)
    if setting == "replay":
        alias = model or local_alias()
        store = TranscriptStore(transcript_path(experiment, alias, transcripts_dir))
        local = alias == local_alias()
        return ReplayTeacher(store, alias, label=local_label(alias) if local else None,
                             accepts_grammar=local or served_with_grammar(store.path.parent),
                             transcripts_dir=transcripts_dir or TRANSCRIPTS_DIR)
    if not model:
        raise TeacherSettingError(f"teacher setting 'live' needs a model: pass model=... or set {MODEL_VARIABLE} "
                                  f"(e.g. export {MODEL_VARIABLE}=gpt-4o-mini)")
    if not endpoint_configured():
        raise TeacherSettingError("teacher setting 'live' needs an endpoint: set OPENAI_API_KEY (OpenAI) or "
                                  "OPENAI_BASE_URL (an OpenAI-compatible server such as Ollama or vLLM)")
    chatbot = OpenAIChatbot(model, **client_options)
    if not record:
        return chatbot
    return RecordingTeacher(chatbot, TranscriptStore(transcript_path(experiment, model, transcripts_dir)))


RECORDED, ENDPOINT = "recorded", "endpoint"


@dataclass(frozen=True)
class Chatbot:
    """One rung of the model ladder: a chatbot whose recordings are present (replayed; the local model's
    misses asked of it when llama.cpp is installed), or the reader's configured endpoint (asked, and
    recorded into its own folder). `teacher` has the signature of a chapter's `teachers` argument."""

    model: str
    source: str  # RECORDED or ENDPOINT
    transcripts_dir: Path | None = None
    client_options: dict = field(default_factory=dict, compare=False)

    @property
    def folder(self) -> Path:
        return model_folder(self.model, self.transcripts_dir)

    @property
    def label(self) -> str:
        if self.source == ENDPOINT:
            return f"{self.model} (your endpoint)"
        return local_label(self.model) if self.model == local_alias() else f"{self.model} (recorded)"

    def teacher(self, experiment: str, stand_in: Teacher) -> Teacher:
        """This chatbot as the teacher of `experiment` (`stand_in` is checked, never used in its place)."""
        _check_stand_in(stand_in)
        setting = "live" if self.source == ENDPOINT else LOCAL_OR_REPLAY if self.model == local_alias() else "replay"
        return _teacher(setting, experiment, self.model, self.transcripts_dir, True, self.client_options)


def available_chatbots(transcripts_dir: Path | None = None, **client_options) -> list[Chatbot]:
    """Every chatbot the book can show: each whose recordings are present under `transcripts_dir` (the
    local model first), then the endpoint configured in the environment, if any (replacing the recorded
    entry of the same model: it replays what is recorded and asks the rest)."""
    recorded = sorted(recorded_models(Path(transcripts_dir or TRANSCRIPTS_DIR)), key=lambda m: (m != local_alias(), m))
    endpoint = os.environ.get(MODEL_VARIABLE) if endpoint_configured() else None
    chatbots = [Chatbot(model, RECORDED, transcripts_dir, client_options) for model in recorded if model != endpoint]
    if endpoint:
        chatbots.append(Chatbot(endpoint, ENDPOINT, transcripts_dir, client_options))
    return chatbots
