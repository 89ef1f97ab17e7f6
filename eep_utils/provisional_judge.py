"""A provisional offline stand-in judge for the game of personality, until the teacher layer's lands.

It is NOT a chatbot and says so in its label. It reads the prompt contract of `personas` (the system
message's "You find cute:" / "You do not find cute:" phrases and the user message's "Caption:" line),
embeds the caption's clauses and the phrases with all-MiniLM-L6-v2, and calls a creature cute when its
clauses are, on average, closer to something the persona likes than to something it dislikes:

    margin = mean over clauses c of ( max_like cos(c, like) − max_dislike cos(c, dislike) )
    cute = margin > 0,  score = clip(round(5 + 25 · margin), 0, 10)

The no-persona control has no likes or dislikes of its own; for it the stand-in uses generic anchors
(`GENERIC_LIKES` / `GENERIC_DISLIKES`: "a cute, adorable animal" against "an ugly, scary animal"), which
is the stand-in's choice, not a chatbot's habit. The answer is the JSON the prompt asks for.
"""
from __future__ import annotations

import json
import re
from typing import Sequence

import numpy as np

from .embeddings import shared_minilm
from .report import STAND_IN_NOTE
from .teachers import ChatAnswer, ChatRequest

GENERIC_LIKES = ("a cute, adorable animal", "a sweet, cuddly little creature")
GENERIC_DISLIKES = ("an ugly, scary animal", "a creepy, unpleasant creature")
SCORE_SCALE = 25.0  # margins are a few hundredths of cosine similarity; this spreads them over 0–10


def clauses_of(caption: str) -> list[str]:
    """A caption's parts, split at punctuation and at "and" / "with", so each names about one trait."""
    parts = re.split(r"[,;:.]|\band\b|\bwith\b", caption)
    return [part.strip() for part in parts if len(part.strip()) > 1] or [caption.strip()]


def phrases_after(prefix: str, text: str) -> tuple[str, ...]:
    for line in text.splitlines():
        if line.strip().lower().startswith(prefix.lower()):
            return tuple(p.strip() for p in line.strip()[len(prefix):].split(",") if p.strip())
    return ()


def read_prompt(request: ChatRequest) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(likes, dislikes, caption) from a judging prompt; generic anchors when the prompt has no persona."""
    system = "\n".join(content for role, content in request.messages if role == "system")
    user = "\n".join(content for role, content in request.messages if role == "user")
    caption = phrases_after("Caption:", user)
    if not caption:
        raise ValueError("the judging prompt has no 'Caption:' line; build it with personas.judgment_request")
    caption_text = user.split("Caption:", 1)[1].splitlines()[0].strip()
    likes = phrases_after("You find cute:", system) or GENERIC_LIKES
    dislikes = phrases_after("You do not find cute:", system) or GENERIC_DISLIKES
    return likes, dislikes, caption_text


class ProvisionalMiniLMJudge:
    """Offline stand-in cute judge (MiniLM phrase similarity); same answers for the same prompt, always."""

    label = f"MiniLM cute judge ({STAND_IN_NOTE})"
    is_chatbot = False
    model = "all-MiniLM-L6-v2 phrase similarity"

    def __init__(self, encoder=None):
        self.encoder = encoder or shared_minilm()

    def prepare(self, requests: Sequence[ChatRequest]) -> None:
        """Embed every phrase and clause of a batch at once (the cache then answers each request)."""
        texts = []
        for request in requests:
            likes, dislikes, caption = read_prompt(request)
            texts += [*likes, *dislikes, *clauses_of(caption)]
        self.encoder.encode(texts)

    def margin(self, likes, dislikes, caption: str) -> float:
        clauses = self.encoder.encode(clauses_of(caption))
        like = clauses @ self.encoder.encode(likes).T
        dislike = clauses @ self.encoder.encode(dislikes).T
        return float(np.mean(like.max(axis=1) - dislike.max(axis=1)))

    async def acomplete(self, request: ChatRequest) -> ChatAnswer:
        margin = self.margin(*read_prompt(request))
        score = int(np.clip(round(5 + SCORE_SCALE * margin), 0, 10))
        text = json.dumps({"cute": margin > 0, "score": score})
        return ChatAnswer(text=text, model=self.model, extra={"margin": margin})


def resolve_personality_teacher(setting: str):
    """The judge for a `teacher` setting. Only the stand-in lives here; the teacher layer wires the rest."""
    if setting in ("auto", "stand-in"):
        return ProvisionalMiniLMJudge()
    raise ValueError(f"teacher setting {setting!r}: live, replayed and Batch-imported chatbot judges are wired by the "
                     "teacher layer (eep_utils.teachers.make_teacher), which this branch does not have yet; "
                     "use teacher: auto or stand-in")
