"""What each chatbot did in a build, per chapter and experiment: exchanges answered (replayed or asked),
HTTP requests, retries by cause, failures, tokens and budget use.

Every recording or replaying teacher registers its counters here with its experiment. When the build runs a
chapter it sets $EEP_USAGE_DIR to `<artifacts>/usage/<chapter>`; then each teacher's counts are written,
whenever it closes (and when the kernel exits), to `<experiment>.json` there, one entry per model (the
counts of every teacher of that experiment and model in the chapter, summed). Outside a build nothing
is written. `load_usage` reads them back for the build's summary and the re-run page.

    {"experiment": "cartpole-newton-bounded", "chapter": "02_teacher_rollouts",
     "chatbots": {"SmolLM2-135M-Instruct-Q4_1": {"answers": 740, "replayed": 740, "asked": 0, "http_requests": 0,
                  "retries": {"429": 0, "5xx": 0, "timeout/connection": 0, "malformed": 0}, "failures": 0, ...}}}
"""
from __future__ import annotations

import atexit
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from eep_utils.chat.usage import RETRY_CAUSES, Budget, Faults, Usage

USAGE_DIR_VARIABLE = "EEP_USAGE_DIR"  # set by the build for each chapter's kernel; not a reader's setting
USAGE_FOLDER = "usage"  # in a build's artifacts folder


@dataclass(frozen=True)
class Counters:
    """What one teacher counts, without the teacher (whose recordings may be large)."""

    model: str
    usage: Usage
    faults: Faults | None = None  # a live chatbot's: HTTP requests, retries, failures
    budget: Budget | None = None


_COUNTERS: dict[str, list[Counters]] = {}  # experiment -> the counters of this process's teachers of it


def register(experiment: str, model: str, usage: Usage, chatbot=None) -> None:
    """Count a teacher's exchanges under `experiment` (a transcript's name): its usage, and what asking
    its live chatbot (if any) took."""
    counters = Counters(model, usage, getattr(chatbot, "faults", None), getattr(chatbot, "budget", None))
    _COUNTERS.setdefault(experiment, []).append(counters)


def counts(counters: Counters) -> dict:
    """One teacher's counts: its answers, and for one that asks a live chatbot, what that took."""
    usage, faults, budget = counters.usage, counters.faults, counters.budget
    fault_report = faults.report() if faults is not None else {
        "http_requests": 0, "retries": dict.fromkeys(RETRY_CAUSES, 0), "failures": 0, "failures_by_cause": {}}
    return {"answers": usage.requests, "replayed": usage.replayed, "asked": usage.requests - usage.replayed,
            "misses": usage.misses, "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "parse_failures": usage.parse_failures, "fallbacks": usage.fallbacks, **fault_report,
            "billed_requests": budget.requests if budget is not None else 0,
            "budget_tokens": budget.tokens if budget is not None else 0}


def _add(total: dict, more: dict) -> dict:
    return {name: _add(total.get(name, {}), value) if isinstance(value, dict) else total.get(name, 0) + value
            for name, value in more.items()}


def experiment_report(experiment: str) -> dict:
    """Every model's counts for `experiment` in this process, each summed over its teachers."""
    chatbots: dict[str, dict] = {}
    for counters in _COUNTERS.get(experiment, []):
        chatbots[counters.model] = _add(chatbots.get(counters.model, {}), counts(counters))
    return {"experiment": experiment, "chapter": Path(os.environ.get(USAGE_DIR_VARIABLE, "")).name or None,
            "chatbots": chatbots}


def write(experiment: str) -> Path | None:
    """Write `experiment`'s counts where the build asked ($EEP_USAGE_DIR); nothing outside a build."""
    folder = os.environ.get(USAGE_DIR_VARIABLE)
    if not folder or experiment not in _COUNTERS:
        return None
    path = Path(folder) / f"{experiment}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(experiment_report(experiment), indent=1) + "\n")
    os.replace(temporary, path)
    return path


@atexit.register
def write_all() -> None:
    """The last counts of every experiment, for a teacher that was never closed."""
    for experiment in list(_COUNTERS):
        write(experiment)


def load_usage(artifacts_dir: Path) -> pd.DataFrame:
    """Every chapter's logged counts, one row per chapter, experiment and model (empty without any)."""
    rows = []
    for path in sorted((Path(artifacts_dir) / USAGE_FOLDER).glob("*/*.json")):
        report = json.loads(path.read_text())
        for model, numbers in report["chatbots"].items():
            retries = numbers.get("retries", {})
            rows.append({"chapter": path.parent.name, "experiment": report["experiment"], "model": model,
                         **{name: value for name, value in numbers.items() if not isinstance(value, dict)},
                         **{f"retries {cause}": retries.get(cause, 0) for cause in RETRY_CAUSES},
                         "failures by cause": numbers.get("failures_by_cause", {})})
    return pd.DataFrame(rows)


def summary_lines(artifacts_dir: Path, chapters=None) -> list[str]:
    """The build's summary: per chapter (of `chapters`, default all) and model, exchanges replayed and
    asked, retries by cause, failures and budget use."""
    table = load_usage(artifacts_dir)
    if chapters is not None and not table.empty:
        table = table[table.chapter.isin(list(chapters))]
    if table.empty:
        return []
    retry_columns = [f"retries {cause}" for cause in RETRY_CAUSES]
    numbers = ["answers", "replayed", "asked", "misses", "http_requests", "failures", "billed_requests",
               "budget_tokens", *retry_columns]
    grouped = table.groupby(["chapter", "model"], sort=True)[numbers].sum()
    lines = []
    for (chapter, model), row in grouped.iterrows():
        retries = ", ".join(f"{cause} ×{int(row[f'retries {cause}'])}" for cause in RETRY_CAUSES
                            if row[f"retries {cause}"])
        line = (f"[{chapter}] {model}: {int(row.answers):,} answers ({int(row.replayed):,} replayed, "
                f"{int(row.asked):,} asked")
        if row.asked or row.http_requests:
            line += (f" in {int(row.http_requests):,} HTTP requests; retries: {retries or 'none'}; "
                     f"failures: {int(row.failures):,}; budget: {int(row.billed_requests):,} billed requests, "
                     f"{int(row.budget_tokens):,} tokens")
        if row.misses:
            line += f"; {int(row.misses):,} not recorded"
        lines.append(line + ")")
    return lines
