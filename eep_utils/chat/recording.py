"""Teachers behind a transcript: a live chatbot whose exchanges are recorded (and replayed when already
recorded), and a pure replay that never calls anything."""
from __future__ import annotations

import asyncio
from pathlib import Path

from eep_utils.chat.transcripts import TranscriptStore, answer_from_record, exchange_record, request_key
from eep_utils.chat.types import ChatAnswer, ChatRequest, TranscriptMiss, accepts_grammar
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


class ReplayTeacher:
    """Recorded answers of one model, never calling anything; a question not recorded is an error."""

    is_chatbot = True

    def __init__(self, store: TranscriptStore, model: str, label: str | None = None, accepts_grammar: bool = False):
        self.store = store
        self.model = model
        self.accepts_grammar = accepts_grammar  # as the recorded chatbot did, so the same questions are asked
        self.label = label or f"{model} (replayed from {_display_path(store.path)})"
        self.usage = Usage()

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        record = self.store.get(request_key(self.model, request))
        if record is None:
            raise TranscriptMiss(
                f"{_display_path(self.store.path)} has no recorded answer of {self.model} to this request "
                f"({request.preview()}; key {request_key(self.model, request)[:12]}): a parameter or prompt "
                f"changed since the recording. {RECORD_HINT}")
        answer = answer_from_record(record)
        self.usage.add_answer(answer)
        return answer


def _display_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
