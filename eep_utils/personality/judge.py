"""The offline stand-in judge (not a chatbot): a persona's cuteness judgment from a small sentence model.

Judgment prompt contract (chapter 06 writes prompts this way; `PersonaJudgeStandIn` reads them):
the system message has a line starting "You find cute:" and one starting "You do not find cute:",
each followed by comma-separated phrases; the user message has a line "Caption: <text>"; the answer
is a JSON object `{"cute": true, "score": 7}` (score 0–10).
"""
from __future__ import annotations

import json
import math
from typing import Sequence

from eep_utils.chat.embeddings import shared_minilm
from eep_utils.chat.parsing import Judgment
from eep_utils.chat.types import ChatAnswer, ChatRequest
from eep_utils.chat.usage import Usage


LIKES_PREFIX = "You find cute:"
DISLIKES_PREFIX = "You do not find cute:"
CAPTION_PREFIX = "Caption:"


def _line_after(text: str, prefix: str) -> str | None:
    for line in text.splitlines():
        if line.strip().startswith(prefix):
            return line.strip()[len(prefix):].strip()
    return None


class PersonaJudgeStandIn:
    """A persona's cuteness judgment from a real small language model, offline (not a chatbot).

    Reads the judgment prompt contract (module docstring): the caption's cosine similarity to the
    closest liked phrase minus that to the closest disliked phrase, squashed to a 0–10 score by a
    logistic curve (`sharpness` per unit of similarity), cute when the score is at least 5. The
    answer is the same JSON a chatbot is asked for. all-MiniLM-L6-v2 gives no token probabilities,
    so answers carry no log-probabilities. Deterministic."""

    is_chatbot = False
    model = "all-MiniLM-L6-v2 persona judge"

    def __init__(self, encoder=None, sharpness: float = 10.0):
        self._encoder = encoder
        self.sharpness = sharpness
        self.label = "stand-in: all-MiniLM-L6-v2 persona judge (offline; not a chatbot)"
        self.usage = Usage()

    @property
    def encoder(self):
        if self._encoder is None:
            self._encoder = shared_minilm()
        return self._encoder

    def judge(self, likes: Sequence[str], dislikes: Sequence[str], caption: str) -> Judgment:
        vectors = self.encoder.encode([caption, *likes, *dislikes])
        similarity = vectors[1:] @ vectors[0]
        margin = float(similarity[:len(likes)].max() - similarity[len(likes):].max())
        score = round(10.0 / (1.0 + math.exp(-self.sharpness * margin)), 1)
        return Judgment(score >= 5.0, score)

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        system = "\n".join(content for role, content in request.messages if role == "system")
        likes, dislikes = _line_after(system, LIKES_PREFIX), _line_after(system, DISLIKES_PREFIX)
        caption = _line_after(request.last_user_message(), CAPTION_PREFIX)
        if not likes or not dislikes or caption is None:
            raise ValueError(
                f"the persona judge reads a system message with lines {LIKES_PREFIX!r} and {DISLIKES_PREFIX!r} "
                f"(comma-separated phrases) and a user line {CAPTION_PREFIX!r}; this request has "
                f"likes={likes!r}, dislikes={dislikes!r}, caption={caption!r} ({request.preview()})")
        judgment = self.judge(_phrases(likes), _phrases(dislikes), caption)
        answer = ChatAnswer(json.dumps({"cute": judgment.cute, "score": judgment.score}), self.model)
        self.usage.add_answer(answer)
        return answer


def _phrases(line: str) -> list[str]:
    return [phrase.strip() for phrase in line.split(",") if phrase.strip()]
