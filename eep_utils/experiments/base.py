"""What every chapter's experiment is: checked parameters in, one `ChapterResult` out.

A chapter of the book is one experiment, `run(params, artifacts_dir, teachers=None)` in its module of
`eep_utils.experiments`. The result holds everything the page shows and everything the introduction
reads: the tables, the data behind each figure, the numbers and sentences the prose glues, the claims
with their computed status, the key result and the caveat that the numbers choose. The notebook draws
and explains; it decides nothing (`eep_utils.book.report.publish` glues and saves a result).

`teachers` is who answers the chapter's prompts: a function of (experiment name, offline stand-in)
that returns a teacher. By default it is the chapter's `teacher` setting (`chat.teachers.make_teacher`);
tests pass stand-ins, and the re-run page passes a counting replay to count requests by running.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eep_utils.chat.teachers import make_teacher
from eep_utils.chat.types import Teacher
from eep_utils.stats import Estimate

# (experiment name, the chapter's offline stand-in) -> the teacher that answers
TeacherFactory = Callable[[str, Teacher], Teacher]


def teachers_by_setting(setting: str) -> TeacherFactory:
    """The teachers a chapter's `teacher` setting names (auto, local, live, replay, stand-in)."""
    return lambda experiment, stand_in: make_teacher(setting, stand_in=stand_in, experiment=experiment)


# Each further chatbot of the model ladder runs a chapter in its own artefacts folder, under the book's.
CHATBOTS_FOLDER = "chatbots"


def chatbot_folder(artifacts_dir: str | Path, model: str) -> Path:
    return Path(artifacts_dir) / CHATBOTS_FOLDER / re.sub(r"[^A-Za-z0-9_.-]+", "-", model)


def further_chatbot(artifacts_dir: str | Path) -> bool:
    """Whether a run's artefacts folder is a further chatbot's (`chatbot_folder`), not the book's own: what
    belongs to no chatbot (the 2023 recordings' re-examination) is made once, by the book's own run."""
    return Path(artifacts_dir).parent.name == CHATBOTS_FOLDER


def book_folder(artifacts_dir: str | Path) -> Path:
    """The book's own artefacts folder, for a run in it or in a further chatbot's folder."""
    return Path(artifacts_dir).parent.parent if further_chatbot(artifacts_dir) else Path(artifacts_dir)


SHOWN, NOT_SHOWN, INCONCLUSIVE = "shown", "not shown", "inconclusive"
NOT_TESTED = "not tested"  # the evidence it needs (a chatbot, the 2023 recordings) was not in this build
NOT_TESTABLE = "not testable with this chatbot"  # a chatbot answered, but not in a way the test can use
CLAIM_STATUSES = (SHOWN, NOT_SHOWN, INCONCLUSIVE, NOT_TESTED, NOT_TESTABLE)
STATUS_MEANING = (
    "A claim is **shown** when this build's numbers pass the test its chapter states, **not shown** "
    "when they do not, **inconclusive** when the test's 95% confidence interval spans its threshold or "
    "its statistic is undefined in this build, **not tested** when the evidence it needs (a chatbot "
    "teacher, the 2023 recordings) was not available to this build, and **not testable with this "
    "chatbot** when a chatbot answered but too few of its answers could carry the test.")


@dataclass(frozen=True)
class Claim:
    """A statement a chapter tests, its status in this build, the evidence, and who produced it."""

    statement: str
    status: str
    evidence: str
    teacher: str

    def __post_init__(self):
        if self.status not in CLAIM_STATUSES:
            raise ValueError(f"claim status {self.status!r} is not one of {CLAIM_STATUSES}")

    def as_row(self) -> dict:
        """The claim as the results files and the introduction's tables name its fields."""
        return {"claim": self.statement, "status": self.status, "evidence": self.evidence, "teacher": self.teacher}

    @classmethod
    def decided(cls, statement: str, verdict: bool | None, evidence: str, teacher: str) -> "Claim":
        """Shown (True), not shown (False) or inconclusive (None: the interval spans the threshold,
        or the statistic is undefined in this build)."""
        status = INCONCLUSIVE if verdict is None else SHOWN if verdict else NOT_SHOWN
        return cls(statement, status, evidence, teacher)

    @classmethod
    def not_tested(cls, statement: str, why: str, teacher: str) -> "Claim":
        return cls(statement, NOT_TESTED, why, teacher)

    @classmethod
    def not_testable(cls, statement: str, why: str, teacher: str) -> "Claim":
        return cls(statement, NOT_TESTABLE, why, teacher)


USABILITY = "usability"  # the sentence of a result whose chatbot's answers could not be read (`untestable_result`)
# A chapter's tests need most of a chatbot's answers: below this share of usable answers its claims are not
# testable with that chatbot (the rest would be fallbacks, and a test would measure the fallback).
MIN_USABLE_SHARE = 0.5


@dataclass(frozen=True)
class Usability:
    """How many of a chatbot's answers a chapter could read, with examples of those it could not."""

    what: str  # the answers, in words: "CartPole decisions", "cuteness judgments"
    usable: int
    answers: int
    unusable_examples: tuple[str, ...] = ()

    @classmethod
    def of(cls, what: str, answers: list[str], usable: list[bool], n_examples: int = 3) -> "Usability":
        examples = tuple(dict.fromkeys(text for text, ok in zip(answers, usable, strict=True) if not ok))
        return cls(what, int(sum(usable)), len(answers), examples[:n_examples])

    @property
    def sufficient(self) -> bool:
        return self.answers > 0 and self.usable >= MIN_USABLE_SHARE * self.answers

    def statement(self) -> str:
        """Why the chapter's claims cannot be tested with this chatbot, with the count and examples."""
        share = self.usable / self.answers if self.answers else 0.0
        shown = ", ".join(f"“{_shortened(text)}”" for text in self.unusable_examples) or "none recorded"
        return (f"Only {self.usable:,} of this chatbot's {self.answers:,} {self.what} could be read ({share:.0%}); "
                f"the others gave no usable answer (for example {shown}). The chapter's tests need at least "
                f"{MIN_USABLE_SHARE:.0%}, so its claims are not testable with this chatbot.")


def _shortened(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def untestable_result(chapter: str, statements: list[str], usability: Usability, chatbot: str) -> "ChapterResult":
    """A chapter's result when too few of a chatbot's answers were usable: every claim not testable, saying
    how many answers were usable, why the others were not, and examples."""
    why = usability.statement()
    return ChapterResult(chapter, key_result=f"**Not testable with {chatbot}.** {why}", chatbot=chatbot,
                         claims=[Claim.not_testable(statement, why, chatbot) for statement in statements],
                         sentences={USABILITY: why})


STAND_IN_NOTE = "offline stand-in, not a chatbot"


def teacher_name(label: str, is_chatbot: bool) -> str:
    """How a table names a teacher: stand-ins say so in the name itself."""
    return label if is_chatbot or "not a chatbot" in label else f"{label} ({STAND_IN_NOTE})"


def made_if_missing(artefacts, chapter: str, make: Callable[[], object], quick: bool) -> list[str]:
    """An earlier chapter's artefacts (paths), made by `make()` (that chapter's experiment at this mode's
    sizes) if any is missing, as when a reader opens a chapter alone; the one-line note that says so, or none."""
    missing = [Path(path) for path in artefacts if not Path(path).exists()]
    if not missing:
        return []
    make()
    names = " and ".join(path.name for path in missing)
    return [f"{names} {'was' if len(missing) == 1 else 'were'} missing from {missing[0].parent}: made here by "
            f"chapter {chapter[:2]}'s experiment at the {'quick' if quick else 'full'} book's sizes"]


def headline_row(measure: str, estimate: Estimate, teacher: str, is_chatbot: bool) -> dict:
    """One row of the introduction's and the appendix's tables of measures."""
    return {"measure": measure, "teacher": teacher, "is_chatbot": bool(is_chatbot), **estimate.as_dict()}


@dataclass
class ChapterResult:
    """Everything one chapter's experiment found, ready to show (see the module docstring).

    numbers    values the prose glues as text (an `Estimate` glues `name`, `name_low`, `name_high`, `name_n`)
    sentences  computed sentences the prose glues as Markdown (a conclusion the numbers choose)
    tables     display tables, by name
    figures    the data behind each figure, by name (plotted by `eep_utils.book.figures`)
    claims     the chapter's claims, main claim first
    headline   rows of measures for the introduction and the appendix (`headline_row`)
    exports    tables other chapters read (saved as Parquet under results/)
    details    tables the appendix shows for this chapter, by title (the chapter's page keeps to its argument)
    notes      one-line messages about this run (an earlier chapter's artefact was missing and made here)
    """

    chapter: str
    key_result: str
    caveat: str = ""
    chatbot: str = ""  # who answered this run's prompts (set by the model ladder); "" for a chapter without one
    numbers: dict[str, Any] = field(default_factory=dict)
    sentences: dict[str, str] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    headline: list[dict] = field(default_factory=list)
    exports: dict[str, pd.DataFrame] = field(default_factory=dict)
    details: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def claim(self, start: str) -> Claim:
        """The claim whose statement starts with `start` (tests and chapters name claims this way)."""
        found = [c for c in self.claims if c.statement.startswith(start)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} claims of {self.chapter} start with {start!r}: "
                           f"{[c.statement for c in self.claims]}")
        return found[0]

    def summary(self) -> dict:
        """What the chapter concluded, as plain JSON values: numbers, sentences, claims, headline,
        key result and caveat (tables and figure data left out). Two runs with the same parameters
        must give equal summaries; the build compares them before and after a change."""
        return _plain({"chapter": self.chapter, "chatbot": self.chatbot, "key_result": self.key_result,
                       "caveat": self.caveat,
                       "numbers": self.numbers, "sentences": self.sentences,
                       "claims": [asdict(c) for c in self.claims], "headline": self.headline})

    def summary_json(self) -> str:
        return json.dumps(self.summary(), sort_keys=True, indent=1, allow_nan=True)


def _plain(value):
    """`value` with numpy scalars, Estimates and tuples as plain JSON values (NaN kept as NaN)."""
    if isinstance(value, Estimate):
        return {"value": _plain(value.value), "low": _plain(value.low), "high": _plain(value.high), "n": value.n,
                "undefined": value.undefined}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return math.nan
    return value
