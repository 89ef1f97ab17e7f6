"""Running teachers' coroutines from synchronous code (scripts, notebook cells) and many at once."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from eep_utils.chat.types import ChatAnswer, ChatRequest, Teacher


async def aclose(teacher: Teacher) -> None:
    """Release what a teacher holds in the running event loop (a live client's connections)."""
    close = getattr(teacher, "aclose", None)
    if close is not None:
        await close()


def run_sync(coroutine):
    """Run `coroutine` to completion from synchronous code, also inside Jupyter, whose kernel already
    runs an event loop (there `asyncio.run` refuses): then it runs in a new loop on a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def run_with(teacher: Teacher, coroutine):
    """Run `coroutine` in a new event loop and close the teacher's connections before the loop ends."""

    async def main():
        try:
            return await coroutine
        finally:
            await aclose(teacher)

    return run_sync(main())


def complete(teacher: Teacher, request: ChatRequest) -> ChatAnswer:
    """One exchange, synchronously."""
    return run_with(teacher, teacher.acomplete(request))


async def acomplete_all(teacher: Teacher, requests: Sequence[ChatRequest], max_in_flight: int = 8) -> list[ChatAnswer]:
    """Independent exchanges concurrently, at most `max_in_flight` at once, answers in request order."""
    gate = asyncio.Semaphore(max_in_flight)

    async def one(request: ChatRequest) -> ChatAnswer:
        async with gate:
            return await teacher.acomplete(request)

    return await asyncio.gather(*(one(r) for r in requests))


def complete_all(teacher: Teacher, requests: Sequence[ChatRequest], max_in_flight: int = 8) -> list[ChatAnswer]:
    return run_with(teacher, acomplete_all(teacher, requests, max_in_flight))
