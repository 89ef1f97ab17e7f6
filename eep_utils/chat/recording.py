"""Teachers behind a transcript: a live chatbot whose exchanges are recorded (and replayed when already
recorded), and a pure replay that never calls anything and says, on a miss, why it has no answer."""
from __future__ import annotations

import asyncio
from pathlib import Path

from eep_utils.chat import runlog
from eep_utils.chat.transcripts import (TranscriptStore, answer_from_record, display_path, exchange_record,
                                        experiment_of, request_key, sealed_path)
from eep_utils.chat.types import (DAMAGED_RECORD, OTHER_MODEL, ChatAnswer, ChatRequest, TranscriptError,
                                  TranscriptMiss, accepts_grammar)
from eep_utils.chat.usage import Usage

RECORD_HINT = ("To record the missing exchanges with the local model, install the recording requirements and "
               "run `python -m pip install -r requirements-record.txt && python -m eep_utils.record`; to "
               "record with your own endpoint, set OPENAI_BASE_URL or OPENAI_API_KEY and EEP_CHATBOT_MODEL "
               "and build again.")


class RecordingTeacher:
    """A live chatbot behind its transcript: answers already recorded are replayed, new ones recorded.

    So an interrupted run resumes without asking again, and a finished one replays with no network.
    Identical requests in flight at the same time are sent once."""

    is_chatbot = True

    def __init__(self, chatbot, store: TranscriptStore, label: str | None = None):
        self.chatbot = chatbot
        self.store = store
        self.model = chatbot.model
        self.label = label or chatbot.label.replace("(live)", "(live, recorded)")
        self.usage = Usage()
        self._in_flight: dict[str, asyncio.Future] = {}
        runlog.register(experiment_of(store.path), self.model, self.usage, chatbot)

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        key = request_key(self.model, request)
        record = self.store.get(key)
        if record is not None:
            answer = answer_from_record(record)
        elif key in self._in_flight:
            answer = await asyncio.shield(self._in_flight[key])
        else:
            future = asyncio.get_running_loop().create_future()
            self._in_flight[key] = future
            try:
                answer = await self.chatbot.acomplete(request)
                self.store.append(exchange_record(self.model, request, answer, self.chatbot.endpoint))
                future.set_result(answer)
            except BaseException as error:
                future.set_exception(error)
                future.exception()  # marks it retrieved when no one else waits on it
                raise
            finally:
                del self._in_flight[key]
        self.usage.add_answer(answer)
        return answer

    @property
    def accepts_grammar(self) -> bool:
        return accepts_grammar(self.chatbot)

    async def aclose(self) -> None:
        await self.chatbot.aclose()
        runlog.write(experiment_of(self.store.path))


class ReplayTeacher:
    """Recorded answers of one model, never calling anything; a question not recorded is an error that
    says which of three it is: a new request, one recorded under another model, or a damaged record."""

    is_chatbot = True

    def __init__(self, store: TranscriptStore, model: str, label: str | None = None, accepts_grammar: bool = False,
                 transcripts_dir: Path | None = None):
        self.store = store
        self.model = model
        # The folder of every model's recordings (data/transcripts/), where a miss looks for the request
        # under other models; None: only this store's other models.
        self.transcripts_dir = transcripts_dir
        self.accepts_grammar = accepts_grammar  # as the recorded chatbot did, so the same questions are asked
        self.label = label or f"{model} (replayed from {display_path(store.path.parent)})"
        self.usage = Usage()
        self._others: dict[Path, TranscriptStore | None] = {}
        runlog.register(experiment_of(store.path), self.model, self.usage)

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        record = self.store.get(request_key(self.model, request))
        if record is None:
            self.usage.misses += 1
            raise self.miss(request)
        answer = answer_from_record(record)
        self.usage.add_answer(answer)
        return answer

    async def aclose(self) -> None:
        runlog.write(experiment_of(self.store.path))

    def miss(self, request: ChatRequest) -> TranscriptMiss:
        """Why this store has no answer of this model to `request`, and what to do about it."""
        key = request_key(self.model, request)
        where = f"{display_path(self.store.path.parent)} has no recorded answer of {self.model} to this request " \
                f"({request.preview()}; key {key[:12]})"
        damaged = self.store.damaged.get(key)
        if damaged:
            return TranscriptMiss(f"{where}: it was recorded, but its record ({damaged}) is damaged and was skipped. "
                                  f"Restore the file from git, or record it again. {RECORD_HINT}", DAMAGED_RECORD)
        others = self.recorded_under_other_models(request)
        if others:
            named = "; ".join(f"{model} (in {place})" for model, place in others)
            return TranscriptMiss(
                f"{where}: it was recorded under another model: {named}. The model's name is part of every "
                f"request's address, so a recording of one model never answers for another. Replay that "
                f"model's recordings (EEP_TEACHER=replay EEP_CHATBOT_MODEL={others[0][0]}), or record "
                f"{self.model}'s answers. {RECORD_HINT}", OTHER_MODEL)
        return TranscriptMiss(f"{where}: this request was never recorded: a parameter or prompt changed since the "
                              f"recording, or the chapter asks something new. {RECORD_HINT}")

    def recorded_under_other_models(self, request: ChatRequest) -> list[tuple[str, str]]:
        """(model, where) for every other model whose recordings of this experiment hold `request`."""
        found = [(model, display_path(self.store.path.parent)) for model in self.store.models()
                 if model != self.model and request_key(model, request) in self.store]
        experiment = experiment_of(self.store.path)
        root = self.transcripts_dir
        folders = sorted(p for p in Path(root).iterdir() if p.is_dir()) if root and Path(root).is_dir() else []
        for folder in (p for p in folders if p.resolve() != self.store.path.parent.resolve()):
            other = self._other_store(folder / f"{experiment}.jsonl")
            if other is not None:
                found += [(model, display_path(folder)) for model in other.models()
                          if model != self.model and request_key(model, request) in other]
        return found

    def _other_store(self, path: Path) -> TranscriptStore | None:
        if path not in self._others:
            try:
                exists = path.exists() or sealed_path(path).exists()
                self._others[path] = TranscriptStore(path) if exists else None
            except TranscriptError:  # that model's damaged recording is reported when it is replayed
                self._others[path] = None
        return self._others[path]
