"""Counting what a chapter asks by running it: teachers that answer from a chatbot's recordings and count
every distinct request, per experiment, with its tokens and time as recorded.

`CountingReplay` is a chapter's `teachers` argument (`(experiment, stand_in) -> teacher`). Its teachers
answer each request from the recordings of one model (`data/transcripts/<model>/`); a request the
recordings do not hold is counted as not recorded (its tokens estimated at ~4 characters a token) and
answered by the chapter's offline stand-in, so that the chapter goes on asking. A request asked again,
whether later or while the first asking is in flight, is counted once: a recording or a live chatbot
behind its transcript answers it once. Nothing is written and nothing is logged for the build's
summary: counting is not a run of the chapter.

`CountingReplay.table()` gives the count per chapter and experiment; `recorded_requests` what a chatbot's
recordings hold, to check a count against; `busy_seconds` the time a server answering several requests at
once was busy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from eep_utils.chat.local import local_alias
from eep_utils.chat.teachers import TRANSCRIPTS_DIR, local_label, model_folder, served_with_grammar
from eep_utils.chat.transcripts import TranscriptStore, answer_from_record, experiments_in, request_key
from eep_utils.chat.types import ChatAnswer, ChatRequest, Teacher
from eep_utils.chat.usage import CHARACTERS_PER_TOKEN, Usage, approximate_tokens


COUNT_COLUMNS = ["requests", "asked, repeats included", "not recorded", "prompt tokens", "completion tokens",
                 "latency, summed (s)", "server busy (s)"]


def busy_seconds(intervals) -> float:
    """The length of the union of (start, end) intervals: the time a server that answers several
    requests at once was answering any."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


@dataclass(frozen=True)
class CountedRequest:
    """One distinct request a counting run sent: its tokens as recorded (estimated when not recorded),
    and, when recorded, when the answer was written and how long the chatbot took."""

    chapter: str
    experiment: str
    prompt_tokens: int
    completion_tokens: int
    recorded: bool
    latency_s: float = math.nan
    answered_at: float = math.nan  # POSIX seconds

    @property
    def busy_interval(self) -> tuple[float, float]:
        return self.answered_at - self.latency_s, self.answered_at


class CountingReplay:
    """Teachers over `model`'s recordings (the local chatbot's by default) that count every distinct
    request (see the module docstring). `requests` holds them by (experiment, request key); `asked` counts
    every asking, repeats included, by experiment. `for_chapter(chapter)` is the `teachers` argument of one
    chapter, so that each request is counted under the chapter that sent it."""

    def __init__(self, transcripts_dir: Path | None = None, model: str | None = None):
        self.model = model or local_alias()
        self.folder = model_folder(self.model, transcripts_dir or TRANSCRIPTS_DIR)
        self.requests: dict[tuple[str, str], CountedRequest] = {}
        self.asked: dict[str, int] = {}
        self._stores: dict[str, TranscriptStore] = {}
        # As the replaying teachers do: the local chatbot honours grammars, another model if its server did.
        self._grammar = self.model == local_alias() or served_with_grammar(self.folder)

    def for_chapter(self, chapter: str):
        return lambda experiment, stand_in: CountingTeacher(self, chapter, experiment, stand_in)

    def __call__(self, experiment: str, stand_in: Teacher) -> "CountingTeacher":
        return CountingTeacher(self, "", experiment, stand_in)

    def store(self, experiment: str) -> TranscriptStore:
        if experiment not in self._stores:
            self._stores[experiment] = TranscriptStore(self.folder / f"{experiment}.jsonl")
        return self._stores[experiment]

    @property
    def accepts_grammar(self) -> bool:
        """Whether the recorded chatbot honoured grammars: its chapters then asked constrained questions."""
        return self._grammar

    def count(self, chapter: str, experiment: str, request: ChatRequest) -> tuple[dict | None, bool]:
        """The recorded exchange answering `request` (None if not recorded), and whether it is new to this count."""
        key = request_key(self.model, request)
        self.asked[experiment] = self.asked.get(experiment, 0) + 1
        record = self.store(experiment).get(key)
        if (experiment, key) in self.requests:
            return record, False
        if record is None:
            self.requests[experiment, key] = CountedRequest(chapter, experiment, approximate_tokens(request), 0, False)
        else:
            answer = record["answer"]
            self.requests[experiment, key] = CountedRequest(
                chapter, experiment, answer.get("prompt_tokens") or 0, answer.get("completion_tokens") or 0, True,
                answer.get("latency_s") or 0.0, datetime.fromisoformat(record["time"]).timestamp())
        return record, True

    def table(self) -> pd.DataFrame:
        """Per chapter and experiment (the index), what the count met: distinct requests, askings with
        repeats, how many of the distinct ones the recordings lack (their tokens estimated), prompt and
        completion tokens, the recorded latencies summed (one request at a time) and the time the server was
        busy answering them while recording (requests in flight together counted once)."""
        by_experiment: dict[tuple[str, str], list[CountedRequest]] = {}
        for counted in self.requests.values():
            by_experiment.setdefault((counted.chapter, counted.experiment), []).append(counted)
        rows = []
        for (chapter, experiment), requests in sorted(by_experiment.items()):
            recorded = [r for r in requests if r.recorded]
            rows.append({"chapter": chapter, "experiment": experiment, "requests": len(requests),
                         "asked, repeats included": self.asked[experiment],
                         "not recorded": len(requests) - len(recorded),
                         "prompt tokens": sum(r.prompt_tokens for r in requests),
                         "completion tokens": sum(r.completion_tokens for r in requests),
                         "latency, summed (s)": sum(r.latency_s for r in recorded),
                         "server busy (s)": busy_seconds([r.busy_interval for r in recorded])})
        columns = ["chapter", "experiment", *COUNT_COLUMNS]
        return pd.DataFrame(rows, columns=columns).set_index(["chapter", "experiment"])

    def estimate_completion(self, experiment: str, request: ChatRequest, answer: ChatAnswer) -> None:
        """A request not recorded: its completion tokens estimated from the stand-in's answer."""
        key = request_key(self.model, request)
        counted = self.requests[experiment, key]
        if not counted.recorded and not counted.completion_tokens:
            self.requests[experiment, key] = CountedRequest(
                counted.chapter, experiment, counted.prompt_tokens,
                max(1, math.ceil(len(answer.text) / CHARACTERS_PER_TOKEN)), False)


class CountingTeacher:
    """One experiment's teacher of a `CountingReplay`: a chatbot's recorded answers, counted."""

    is_chatbot = True  # the chapter asks it every question it would ask a chatbot

    def __init__(self, counter: CountingReplay, chapter: str, experiment: str, stand_in: Teacher):
        self.counter, self.chapter, self.experiment, self.stand_in = counter, chapter, experiment, stand_in
        self.model = counter.model
        self.label = local_label(self.model) if self.model == local_alias() else f"{self.model} (recorded)"
        self.accepts_grammar = counter.accepts_grammar
        self.usage = Usage()

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        record, new = self.counter.count(self.chapter, self.experiment, request)
        if record is not None:
            answer = answer_from_record(record)
        else:
            answer = await self.stand_in.acomplete(request)
            if new:
                self.counter.estimate_completion(self.experiment, request, answer)
        self.usage.add_answer(answer)
        return answer


def recorded_requests(folder: Path) -> pd.DataFrame:
    """Per experiment recorded in a chatbot's folder (sealed, and working files a run is still appending
    to): its exchanges, prompt and completion tokens as the chatbot reported them, the sum of the latencies
    and the time the server was busy while recording."""
    rows = []
    for experiment in experiments_in(folder) if Path(folder).is_dir() else []:
        records = TranscriptStore(Path(folder) / f"{experiment}.jsonl").records()
        answers = [record["answer"] for record in records]
        # A record's time is when its answer was written; the request went out `latency_s` earlier.
        ends = [datetime.fromisoformat(record["time"]).timestamp() for record in records]
        rows.append({
            "experiment": experiment, "requests": len(records),
            "prompt tokens": sum(answer["prompt_tokens"] or 0 for answer in answers),
            "completion tokens": sum(answer["completion_tokens"] or 0 for answer in answers),
            "latency, summed (s)": sum(answer["latency_s"] or 0 for answer in answers),
            "server busy (s)": busy_seconds([(end - (answer["latency_s"] or 0), end)
                                             for end, answer in zip(ends, answers)]),
        })
    columns = ["experiment", "requests", "prompt tokens", "completion tokens", "latency, summed (s)", "server busy (s)"]
    return pd.DataFrame(rows, columns=columns).set_index("experiment")
