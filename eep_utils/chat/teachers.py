"""Teachers by a setting: the local chatbot, an endpoint you configure, their recordings, or an offline stand-in.

Every teacher takes the same `ChatRequest` and gives a `ChatAnswer`, so an experiment cannot tell
them apart; but each names itself in `label`, and `is_chatbot` is False for stand-ins, so no artefact
can pass a stand-in off as a chatbot. A chapter gets its teacher with `make_teacher` and reports what
the run cost with `teacher.usage.report()`.

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

import os
import re
from pathlib import Path

from eep_utils.chat.client import OpenAIChatbot
from eep_utils.chat.local import LocalChatbot, local_alias, server_installed
from eep_utils.chat.recording import RecordingTeacher, ReplayTeacher
from eep_utils.chat.transcripts import TranscriptStore
from eep_utils.chat.types import Teacher, TeacherSettingError
from eep_utils.paths import DATA_DIR

TEACHER_SETTINGS = ("auto", "local", "live", "replay", "stand-in")
TEACHER_VARIABLE = "EEP_TEACHER"
MODEL_VARIABLE = "EEP_CHATBOT_MODEL"
TRANSCRIPTS_DIR = DATA_DIR / "transcripts"


def transcript_path(experiment: str, transcripts_dir: Path | None = None) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", experiment):
        raise TeacherSettingError(f"experiment name {experiment!r} must be letters, digits, '_', '.' or '-' "
                                  "(it names the transcript file)")
    return Path(transcripts_dir or TRANSCRIPTS_DIR) / f"{experiment}.jsonl"


def local_label(alias: str) -> str:
    return f"{alias} (llama.cpp, local)"


def endpoint_configured() -> bool:
    return bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))


def make_teacher(setting: str, *, stand_in: Teacher, experiment: str, model: str | None = None,
                 transcripts_dir: Path | None = None, record: bool = True, **client_options) -> Teacher:
    """The teacher a chapter asks for by `setting` (see the module docstring); `client_options` go to the
    live client (max_in_flight, requests_per_minute, budget, ...)."""
    if setting == "auto":
        setting = os.environ.get(TEACHER_VARIABLE) or setting
    if setting not in TEACHER_SETTINGS:
        raise TeacherSettingError(f"teacher setting {setting!r} is not one of {', '.join(TEACHER_SETTINGS)}; "
                                  f"set `teacher:` in notebooks/parameters.yaml (or {TEACHER_VARIABLE}) to one of them")
    if getattr(stand_in, "is_chatbot", True):
        raise TeacherSettingError("stand_in must be an offline stand-in (a teacher with is_chatbot False)")
    if setting == "stand-in":
        return stand_in
    model = model or os.environ.get(MODEL_VARIABLE) or None
    store = TranscriptStore(transcript_path(experiment, transcripts_dir))

    if setting == "auto":
        if model and endpoint_configured():
            setting = "live"
        else:
            alias = local_alias()
            if server_installed():  # answers what is recorded; starts the server only on a miss
                return RecordingTeacher(LocalChatbot(**client_options), store, label=local_label(alias))
            return ReplayTeacher(store, alias, label=local_label(alias), accepts_grammar=True)
    if setting == "local":
        return RecordingTeacher(LocalChatbot(**client_options), store, label=local_label(local_alias()))
    if setting == "replay":
        alias = model or local_alias()
        local = alias == local_alias()
        return ReplayTeacher(store, alias, label=local_label(alias) if local else None, accepts_grammar=local)
    if not model:
        raise TeacherSettingError(f"teacher setting 'live' needs a model: pass model=... or set {MODEL_VARIABLE} "
                                  f"(e.g. export {MODEL_VARIABLE}=gpt-4o-mini)")
    if not endpoint_configured():
        raise TeacherSettingError("teacher setting 'live' needs an endpoint: set OPENAI_API_KEY (OpenAI) or "
                                  "OPENAI_BASE_URL (an OpenAI-compatible server such as Ollama or vLLM)")
    chatbot = OpenAIChatbot(model, **client_options)
    return RecordingTeacher(chatbot, store) if record else chatbot
