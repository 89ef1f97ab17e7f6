"""Chapter 07, re-run with your own chatbot: what re-running the book asks of a chatbot, counted by running it.

No formula rebuilds a chapter's requests. Every chapter that asks a chatbot (02, 04, 05, 06) has an `ask`
function that sends every request the chapter sends; here each runs at the book's sizes (this mode's, from
notebooks/parameters.yaml) against a counting teacher that answers from the local chatbot's recordings and
counts every distinct request with its tokens as recorded (`eep_utils.chat.counting`). A request the
recordings lack is counted as not recorded, its tokens estimated, and answered by the chapter's stand-in.
Chapter 04's questions are about the states its students visit, so its `ask` trains and plays them, on
chapter 02's rollouts from the same count.

The counts are priced at the reader's price and at dated example prices, and timed by the local server's
busy time while it recorded them; beside them, what the last build met asking its chatbots (requests,
retries by cause, failures, budget) from the build's usage logs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.chat.counting import CountingReplay, recorded_requests
from eep_utils.chat.runlog import load_usage
from eep_utils.chat.usage import CHARACTERS_PER_TOKEN, RETRY_CAUSES
from eep_utils.experiments import ellm, personality, students
from eep_utils.experiments import teachers as teacher_rollouts
from eep_utils.experiments.base import ChapterResult
from eep_utils.experiments.params import RerunParams, params_for

CHAPTER = "07_rerun"
CHATBOT_CHAPTERS = (teacher_rollouts.CHAPTER, students.CHAPTER, ellm.CHAPTER, personality.EXPERIMENT)
YOUR_PRICE = "your price"
# Chapter 04's `ask` assesses the students it asks about against the random walk; the assessment asks
# nothing, so the count gives it a stand-in walk of returns (its p-values are never shown).
UNASSESSED = np.array([0.0, 1.0])

# Example prices, USD per million (prompt, completion) tokens: OpenAI's standard-tier list prices, with
# the month each was set. Assumptions for illustration, not quotes: check the provider's page.
EXAMPLE_PRICES = {
    "gpt-3.5-turbo-0125": ((0.50, 1.50), "2024-01"),
    "gpt-4o-mini": ((0.15, 0.60), "2024-07"),
    "gpt-4o": ((2.50, 10.00), "2024-08"),
    "gpt-4.1-mini": ((0.40, 1.60), "2025-04"),
}


def run(params: RerunParams, artifacts_dir: str | Path, teachers: CountingReplay | None = None) -> ChapterResult:
    """Count every request of the chatbot chapters by running them (`teachers`: the counting teacher, by
    default over the local chatbot's recordings), price and time them, and read the last build's faults."""
    counter = teachers or CountingReplay()
    count_requests(params.quick, counter)
    your_price = (params.price_per_million_prompt_tokens, params.price_per_million_completion_tokens)
    prices = {YOUR_PRICE: your_price,
              **{f"{model}, {since}": price for model, (price, since) in EXAMPLE_PRICES.items()}}
    counted = with_costs(counter.table(), prices)
    total = counted.loc[("all", "total")]
    examples = [f"{name} (USD)" for name in prices if name != YOUR_PRICE]
    result = ChapterResult(CHAPTER, key_result="")
    result.tables["requests"] = requests_table(counted)
    result.tables["prices"] = prices_table(total, prices)
    result.figures["requests"] = counted.drop(index=("all", "total"))[["requests", "server busy (s)"]]
    result.numbers.update(
        your_prompt_price=your_price[0], your_completion_price=your_price[1], model=counter.model,
        sizes="quick" if params.quick else "full", n_experiments=len(counted) - 1,
        n_chapters=len(CHATBOT_CHAPTERS), total_requests=int(total["requests"]),
        total_asked=int(total["asked, repeats included"]), total_prompt_tokens=int(total["prompt tokens"]),
        total_completion_tokens=int(total["completion tokens"]), serial_minutes=total["latency, summed (s)"] / 60,
        busy_minutes=total["server busy (s)"] / 60, your_cost=total[f"{YOUR_PRICE} (USD)"],
        cheapest_example=total[examples].min(), dearest_example=total[examples].max(),
        characters_per_token=CHARACTERS_PER_TOKEN)
    result.sentences["recorded_statement"] = recorded_statement(counted, recorded_requests(counter.folder),
                                                                counter.model, params.quick)

    faults = fault_table(Path(artifacts_dir))
    result.tables["faults"] = faults_display(faults)
    result.sentences["faults_statement"] = faults_statement(faults, Path(artifacts_dir))

    result.key_result = (
        f"Re-running the {result.numbers['sizes']} book with another chatbot asks it {total['requests']:,.0f} "
        f"distinct requests, counted by running every chapter's questions against {counter.model}'s recordings: "
        f"{total['prompt tokens']:,.0f} prompt and {total['completion tokens']:,.0f} completion tokens as that "
        f"model counted them, {total['server busy (s)'] / 60:.0f} minutes of its server's time, and "
        f"{total[f'{YOUR_PRICE} (USD)']:,.2f} USD at the price set on this page ({your_price[0]:.2f} / "
        f"{your_price[1]:.2f} USD per million prompt / completion tokens).")
    result.caveat = caveat(int(total["not recorded"]))
    return result


def count_requests(quick: bool, counter: CountingReplay) -> CountingReplay:
    """Every chatbot chapter's requests at the quick or full book's sizes, counted by `counter`: each
    chapter's `ask` run against it, as the book's build runs the chapters."""
    rollouts = teacher_rollouts.ask(params_for(teacher_rollouts.CHAPTER, quick),
                                    counter.for_chapter(teacher_rollouts.CHAPTER)).rollouts
    # Chapter 04's students learn from chapter 02's main voices, saved under each persona's key.
    demonstrations = {voice.persona: episodes for voice, episodes in rollouts.items()
                      if teacher_rollouts.rollout_folder(voice) == voice.persona}
    students.ask(params_for(students.CHAPTER, quick), counter.for_chapter(students.CHAPTER), demonstrations,
                 UNASSESSED)
    ellm.ask(params_for(ellm.CHAPTER, quick), counter.for_chapter(ellm.CHAPTER))
    judging = params_for(personality.EXPERIMENT, quick)
    personality.ask(judging, counter.for_chapter(personality.EXPERIMENT), personality.creatures_of(judging).captions)
    return counter


def with_costs(table: pd.DataFrame, prices: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """`table` (numeric columns, "prompt tokens" and "completion tokens" among them) with a total row and
    one cost column per named price, USD per million (prompt, completion) tokens."""
    table = table.select_dtypes("number").copy()
    levels = table.index.nlevels
    table.loc[("all",) * (levels - 1) + ("total",) if levels > 1 else "total", :] = table.sum()
    for name, price in prices.items():
        table[f"{name} (USD)"] = cost_usd(table["prompt tokens"], table["completion tokens"], price)
    return table


def cost_usd(prompt_tokens: float, completion_tokens: float, price: tuple[float, float]) -> float:
    """The cost of the tokens at `price`, USD per million (prompt, completion) tokens."""
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6


FAULT_COLUMNS = ["answers", "replayed", "asked", "HTTP requests", "retries", "retries by cause", "failures",
                 "budget: billed requests", "budget: tokens"]


def fault_table(artifacts_dir: Path) -> pd.DataFrame:
    """What the last build met asking its chatbots, per chapter, experiment and model (the index): answers,
    of which replayed and asked, the HTTP requests sent for them, retries by cause, exchanges given up,
    and the budget used. Empty when no build logged any (`eep_utils.chat.runlog`)."""
    usage = load_usage(artifacts_dir)
    if usage.empty:
        return pd.DataFrame(columns=["chapter", "experiment", "model", *FAULT_COLUMNS]).set_index(
            ["chapter", "experiment", "model"])
    retries = usage[[f"retries {cause}" for cause in RETRY_CAUSES]].to_numpy()
    table = pd.DataFrame({
        "chapter": usage["chapter"], "experiment": usage["experiment"], "model": usage["model"],
        "answers": usage["answers"], "replayed": usage["replayed"], "asked": usage["asked"],
        "HTTP requests": usage["http_requests"], "retries": retries.sum(axis=1),
        "retries by cause": [", ".join(f"{cause} ×{n}" for cause, n in zip(RETRY_CAUSES, row) if n) or "none"
                             for row in retries],
        "failures": usage["failures"], "budget: billed requests": usage["billed_requests"],
        "budget: tokens": usage["budget_tokens"]})
    return table.set_index(["chapter", "experiment", "model"]).sort_index()


def requests_table(counted: pd.DataFrame) -> pd.DataFrame:
    """The counted requests per chapter and experiment, as the page shows them."""
    shown = pd.DataFrame(index=pd.Index([shown_name(chapter, experiment) for chapter, experiment in counted.index],
                                        name="chapter · experiment"))
    for column in ("requests", "not recorded", "prompt tokens", "completion tokens"):
        shown[column] = [f"{value:,.0f}" for value in counted[column]]
    shown["server busy (min)"] = [f"{value / 60:,.1f}" for value in counted["server busy (s)"]]
    shown[f"at {YOUR_PRICE} (USD)"] = [f"{value:,.2f}" for value in counted[f"{YOUR_PRICE} (USD)"]]
    return shown


def shown_name(chapter: str, experiment: str) -> str:
    """A chapter's experiment as a table row names it ("02 · 02_teacher_rollouts"; the total row "total")."""
    return experiment if chapter == "all" else f"{chapter[:2]} · {experiment}"


def prices_table(total: pd.Series, prices: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Every price: USD per million prompt and completion tokens, and what the counted requests cost at it."""
    return pd.DataFrame([{"price": name, "prompt (USD per million tokens)": f"{prompt:.2f}",
                          "completion (USD per million tokens)": f"{completion:.2f}",
                          "the whole count (USD)": f"{total[f'{name} (USD)']:,.2f}"}
                         for name, (prompt, completion) in prices.items()]).set_index("price")


def recorded_statement(counted: pd.DataFrame, recorded: pd.DataFrame, model: str, quick: bool) -> str:
    """Whether `model`'s recordings hold exactly what the chapters ask: requests they lack, and exchanges no
    chapter asks (at the full book's sizes; the quick book asks a part of what the full book records)."""
    per_experiment = counted.drop(index=("all", "total")).droplevel("chapter")
    missing = per_experiment["not recorded"][per_experiment["not recorded"] > 0]
    found = (per_experiment["requests"] - per_experiment["not recorded"]).reindex(recorded.index, fill_value=0)
    unasked = recorded["requests"] - found
    unasked = unasked[unasked > 0]
    if missing.empty:
        parts = [f"Every request counted is in {model}'s recordings, so its tokens and time are as recorded"]
    else:
        listed = ", ".join(f"{int(n):,} of {experiment}'s {int(per_experiment.loc[experiment, 'requests']):,}"
                           for experiment, n in missing.items())
        parts = [f"{model}'s recordings lack {int(missing.sum()):,} of the requests counted ({listed}): their "
                 f"prompt tokens are estimated at about {CHARACTERS_PER_TOKEN} characters a token, their answers "
                 "and what followed from them are the offline stand-in's, and they add no server time. Recording "
                 "them (`python -m eep_utils.record`) makes the count exact"]
    if not unasked.empty:
        listed = ", ".join(f"{int(n):,} in {experiment}" for experiment, n in unasked.items())
        parts.append(f"The recordings also hold {int(unasked.sum()):,} exchanges " +
                     ("that the quick book's smaller sizes do not ask" if quick else "no chapter asks any more") +
                     f" ({listed})")
    return ". ".join(parts) + "."


def faults_display(faults: pd.DataFrame) -> pd.DataFrame:
    """The fault table as the page shows it (the model named only where several answered)."""
    several = faults.index.get_level_values("model").nunique() > 1
    rows = [{"chapter · experiment": shown_name(chapter, experiment), **({"model": model} if several else {}),
             "answers": f"{row['answers']:,.0f}", "asked": f"{row['asked']:,.0f}",
             "HTTP requests": f"{row['HTTP requests']:,.0f}", "retries by cause": row["retries by cause"],
             "failures": f"{row['failures']:,.0f}",
             "budget used": (f"{row['budget: billed requests']:,.0f} billed requests, "
                             f"{row['budget: tokens']:,.0f} tokens")}
            for (chapter, experiment, model), row in faults.iterrows()]
    columns = ["chapter · experiment", *(["model"] if several else []), "answers", "asked", "HTTP requests",
               "retries by cause", "failures", "budget used"]
    return pd.DataFrame(rows, columns=columns).set_index(columns[:2 if several else 1])


def faults_statement(faults: pd.DataFrame, artifacts_dir: Path) -> str:
    """What the last build met asking its chatbots, in words."""
    if faults.empty:
        return (f"No build has logged its chatbots' requests in `{artifacts_dir}`: the book's build logs them "
                "(`python -m eep_utils.build`), chapter by chapter.")
    answers, asked = int(faults["answers"].sum()), int(faults["asked"].sum())
    models = ", ".join(faults.index.get_level_values("model").unique())
    if not asked:
        return (f"The last build replayed all {answers:,} answers its chapters needed from the recordings of "
                f"{models}: it sent no request, so it met no fault and spent no budget.")
    retries, failures = int(faults["retries"].sum()), int(faults["failures"].sum())
    billed, tokens = int(faults["budget: billed requests"].sum()), int(faults["budget: tokens"].sum())
    return (f"The last build asked its chatbots {asked:,} requests ({answers - asked:,} more answers were replayed) "
            f"in {int(faults['HTTP requests'].sum()):,} HTTP requests: {retries:,} attempts were retried "
            f"({retries / max(1, asked):.1%} of the requests asked; by cause in the table) and {failures:,} "
            f"{'exchange' if failures == 1 else 'exchanges'} given up; the budget counted {billed:,} billed "
            f"requests and {tokens:,} tokens.")


def caveat(not_recorded: int) -> str:
    text = ("These are the requests this chatbot's answers lead to. Where a chapter's next question depends on "
            "the answer (chapter 02's rollouts carry the last answers in their history and last as long as the "
            "pole stays up; chapter 04 asks about the states its students reach), another chatbot asks other "
            "questions: one that balances longer is asked more. Another tokenizer counts the same prompts "
            "differently, and a chatbot that ignores a grammar may answer at greater length. The time is the "
            "local model's on 2 cores; an endpoint's is its own latency and rate limits")
    if not_recorded:
        text += f"; and {not_recorded:,} requests counted here were not recorded, so their tokens are estimates"
    return text + "."
