"""The model ladder: a chatbot chapter's experiment run once for every chatbot the book can show.

With the teacher setting `auto` (or `replay`), every chatbot whose recordings are present answers, the
book's own SmolLM2 first, then any other recorded model, then the reader's endpoint when one is
configured (`eep_utils.chat.teachers.available_chatbots`): each gets one `ChapterResult`, and the pages
show them side by side. A re-run with another model therefore adds a column; it never replaces the
shipped one. Any other setting (`local`, `live`, `stand-in`) names one teacher, and one run is made.

The first chatbot's run uses the chapter's artefacts folder; each further one gets its own subfolder
(`chatbots/<model>/`), so that chapter 04 trains the students of each chatbot on that chatbot's rollouts.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from eep_utils.chat.teachers import ENDPOINT, TEACHER_VARIABLE, available_chatbots
from eep_utils.experiments import experiment
from eep_utils.experiments.base import ChapterResult, chatbot_folder
from eep_utils.experiments.params import ChapterParams

LADDER_SETTINGS = ("auto", "replay")


def effective_setting(setting: str) -> str:
    """The teacher setting in force: $EEP_TEACHER replaces `auto` for a whole build."""
    return (os.environ.get(TEACHER_VARIABLE) or setting) if setting == "auto" else setting


def run_every_chatbot(run: Callable[..., ChapterResult], params: ChapterParams, artifacts_dir: str | Path,
                      transcripts_dir: Path | None = None) -> list[ChapterResult]:
    """`run(params, artifacts_dir, teachers)` once per chatbot to show, the book's own first."""
    setting = effective_setting(params.teacher)
    chatbots = [chatbot for chatbot in available_chatbots(transcripts_dir)
                if setting == "auto" or chatbot.source != ENDPOINT] if setting in LADDER_SETTINGS else []
    if not chatbots:
        return [run(params, artifacts_dir)]
    results = []
    for number, chatbot in enumerate(chatbots):
        folder = artifacts_dir if number == 0 else chatbot_folder(artifacts_dir, chatbot.model)
        result = run(params, folder, chatbot.teacher)
        result.chatbot = chatbot.label
        results.append(result)
    return results


def run_chapter(chapter: str, params: ChapterParams, artifacts_dir: str | Path) -> list[ChapterResult]:
    """A chapter's experiment, once per chatbot when it asks one (`run_every_chatbot`), else once."""
    run = experiment(chapter).run
    if not hasattr(params, "teacher"):
        return [run(params, artifacts_dir)]
    return run_every_chatbot(run, params, artifacts_dir)
