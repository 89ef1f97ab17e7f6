"""Teachers: whoever answers the text prompts — a live chatbot, its recorded transcripts, or an offline stand-in.

Every teacher takes the same `ChatRequest` (OpenAI chat messages and sampling settings) and gives a
`ChatAnswer`, so an experiment cannot tell them apart; but each names itself in `label`, and
`is_chatbot` is False for stand-ins, so no artefact can pass a stand-in off as a chatbot.

A chapter gets its teacher by a setting (`make_teacher`), reads answers with the pure parsers here
(`parse_choice`, `parse_judgment`, `choice_probabilities`) and reports what the run cost
(`teacher.usage.report()`).

Judgment prompt contract (chapter 06 writes prompts this way; `PersonaJudgeStandIn` reads them):
the system message has a line starting "You find cute:" and one starting "You do not find cute:",
each followed by comma-separated phrases; the user message has a line "Caption: <text>"; the answer
is a JSON object `{"cute": true, "score": 7}` (score 0–10).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from eep_utils.chat.client import OpenAIChatbot
from eep_utils.chat.transcripts import RecordingTeacher, ReplayTeacher, TranscriptStore
from eep_utils.chat.types import Teacher, TeacherSettingError
from eep_utils.paths import DATA_DIR

TEACHER_SETTINGS = ("auto", "live", "replay", "stand-in")
MODEL_VARIABLE = "EEP_CHATBOT_MODEL"
TRANSCRIPTS_DIR = DATA_DIR / "transcripts"


def transcript_path(experiment: str, transcripts_dir: Path | None = None) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", experiment):
        raise TeacherSettingError(f"experiment name {experiment!r} must be letters, digits, '_', '.' or '-' "
                                  "(it names the transcript file)")
    return Path(transcripts_dir or TRANSCRIPTS_DIR) / f"{experiment}.jsonl"


def make_teacher(setting: str, *, stand_in: Teacher, experiment: str, model: str | None = None,
                 transcripts_dir: Path | None = None, record: bool = True, **client_options) -> Teacher:
    """The teacher a chapter asks: "live", "replay", "stand-in", or "auto" (the first that can run).

    live      the chatbot `model` (or $EEP_CHATBOT_MODEL) at $OPENAI_BASE_URL (default OpenAI) with
              $OPENAI_API_KEY; every exchange recorded to data/transcripts/<experiment>.jsonl unless
              `record=False`, and answered from there when already recorded. `client_options` go to
              `eep_utils.chat.client.OpenAIChatbot` (max_in_flight, requests_per_minute, budget, ...).
    replay    the recorded exchanges of that model only; a request not recorded is an error.
    stand-in  the task's offline `stand_in` (not a chatbot; labelled so).
    auto      live if a model is set and an endpoint is configured (OPENAI_API_KEY or
              OPENAI_BASE_URL); else replay if a transcript of this experiment holds that model (or,
              with no model set, exactly one model); else the stand-in.
    """
    if setting not in TEACHER_SETTINGS:
        raise TeacherSettingError(f"teacher setting {setting!r} is not one of {', '.join(TEACHER_SETTINGS)}; "
                                  "set `teacher:` in notebooks/parameters.yaml to one of them")
    if getattr(stand_in, "is_chatbot", True):
        raise TeacherSettingError("stand_in must be an offline stand-in (a teacher with is_chatbot False)")
    model = model or os.environ.get(MODEL_VARIABLE) or None
    path = transcript_path(experiment, transcripts_dir)
    endpoint_configured = bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))

    if setting == "auto":
        if model and endpoint_configured:
            setting = "live"
        elif path.exists() and (model or len(TranscriptStore(path).models()) == 1):
            store = TranscriptStore(path)
            model = model or store.models()[0]
            setting = "replay" if model in store.models() else "stand-in"
        else:
            setting = "stand-in"

    if setting == "stand-in":
        return stand_in
    if not model:
        raise TeacherSettingError(f"teacher setting {setting!r} needs a model: pass model=... or set "
                                  f"{MODEL_VARIABLE} (e.g. export {MODEL_VARIABLE}=gpt-4o-mini)")
    if setting == "replay":
        if not path.exists():
            raise TeacherSettingError(f"no transcript {path} to replay; record it first with the teacher setting "
                                      f"'live' ({MODEL_VARIABLE}={model} and OPENAI_API_KEY or OPENAI_BASE_URL set)")
        return ReplayTeacher(TranscriptStore(path), model)
    if not endpoint_configured:
        raise TeacherSettingError("teacher setting 'live' needs an endpoint: set OPENAI_API_KEY (OpenAI) or "
                                  "OPENAI_BASE_URL (an OpenAI-compatible server such as Ollama or vLLM)")
    chatbot = OpenAIChatbot(model, **client_options)
    return RecordingTeacher(chatbot, TranscriptStore(path)) if record else chatbot

