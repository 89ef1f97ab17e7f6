"""What re-running the book with a chatbot costs: recorded usage where transcripts exist, else an estimate.

The estimate builds the very requests the chapters send (the same prompt builders), counts their
characters and converts at about four characters per token — OpenAI's rule of thumb for English;
an exact count would need the model's tokenizer, which is downloaded at run time and so is not
available offline. Request counts come from the full build's parameters and, for CartPole, from the
number of decisions per episode this build's teachers took.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from eep_utils.chat.teachers import TRANSCRIPTS_DIR
from eep_utils.chat.transcripts import TranscriptStore
from eep_utils.chat.usage import PRICES_PER_MILLION_TOKENS, price_of


def recorded_usage(transcripts_dir: Path = TRANSCRIPTS_DIR) -> pd.DataFrame:
    """Per transcript file and model: exchanges and tokens as the endpoint reported them, and their list price."""
    rows = []
    for path in sorted(Path(transcripts_dir).glob("*.jsonl")):
        for record in TranscriptStore(path).records():
            rows.append({"experiment": path.stem, "model": record["request"]["model"],
                         "prompt_tokens": record["answer"].get("prompt_tokens") or 0,
                         "completion_tokens": record["answer"].get("completion_tokens") or 0})
    if not rows:
        return pd.DataFrame(columns=["experiment", "model", "requests", "prompt_tokens", "completion_tokens", "cost (USD)"])
    usage = (pd.DataFrame(rows).groupby(["experiment", "model"])
             .agg(requests=("prompt_tokens", "size"), prompt_tokens=("prompt_tokens", "sum"),
                  completion_tokens=("completion_tokens", "sum")).reset_index())
    usage["cost (USD)"] = [_cost(m, p, c) for m, p, c in zip(usage.model, usage.prompt_tokens, usage.completion_tokens)]
    return usage


def _cost(model: str, prompt_tokens: float, completion_tokens: float) -> float:
    price = price_of(model)
    return math.nan if price is None else (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6


def estimated_cost_table(plan: pd.DataFrame, models=tuple(PRICES_PER_MILLION_TOKENS)) -> pd.DataFrame:
    """Per planned kind of request and in total: requests, tokens, and the list price under each model."""
    table = plan.copy()
    table["prompt tokens"] = table["requests"] * table["prompt tokens per request"]
    table["completion tokens"] = table["requests"] * table["completion tokens per request"]
    for model in models:
        table[f"{model} (USD)"] = [_cost(model, p, c) for p, c in zip(table["prompt tokens"], table["completion tokens"])]
    total = table.select_dtypes("number").sum()
    total[["prompt tokens per request", "completion tokens per request"]] = math.nan
    table.loc["total"] = total
    return table
