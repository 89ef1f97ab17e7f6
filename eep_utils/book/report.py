"""What notebooks show: numbers glued into the prose, tables with confidence intervals, headline results.

Chapters never type a result: they glue it (`glue_numbers`) and write `{glue:text}` in the prose.
Each chapter also saves its headline results, with the teacher that produced them, so the
introduction can tabulate them (`save_headline` / `load_headlines`).
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd

from eep_utils.experiments.base import CLAIM_STATUSES, USABILITY, ChapterResult, Claim
from eep_utils.stats import Estimate



def glue_numbers(**values) -> None:
    """Glue each value under its keyword for `{glue:text}` in the chapter's prose, without displaying it."""
    from myst_nb import glue

    for name, value in values.items():
        # Plain Python numbers: numpy's repr ("np.float64(…)") defeats `{glue:text}` formatting.
        glue(name, value.item() if hasattr(value, "item") else value, display=False)


def glue_markdown(**values: str) -> None:
    """Glue each sentence as Markdown, for `{glue:md}` in the prose (a computed sentence with emphasis)."""
    from IPython.display import Markdown
    from myst_nb import glue

    for name, text in values.items():
        glue(name, Markdown(text), display=False)


# What is not prose in a markdown cell: roles ({glue:text}`…`, {cite}`…`), inline code, math, link targets.
_NOT_PROSE = re.compile(r"\{[\w:-]+\}`[^`]*`|`[^`]*`|\$[^$]*\$|\]\([^)]*\)")
# A decimal number standing on its own (not inside a name such as gpt-3.5-turbo or v1.2).
_DECIMAL = re.compile(r"(?<![\w.-])\d+\.\d+(?![\w-])%?")


def typed_numbers(markdown: str, allowed=()) -> list[str]:
    """Decimal numbers typed into a chapter's prose instead of glued, each with the words around it.

    A number inside one of the `allowed` phrases is not a result (a threshold the method states, a
    number quoted from another work) and is not reported."""
    prose = re.sub(r"\s+", " ", _NOT_PROSE.sub(" ", markdown))
    for phrase in allowed:
        prose = prose.replace(phrase, " ")
    return [f"{m.group()} in “…{prose[max(0, m.start() - 30):m.end() + 30].strip()}…”" for m in _DECIMAL.finditer(prose)]


def glue_estimate(name: str, estimate: Estimate) -> None:
    """Glue `name`, `name_low`, `name_high` and `name_n` from one estimate."""
    glue_numbers(**{name: estimate.value, f"{name}_low": estimate.low, f"{name}_high": estimate.high,
                    f"{name}_n": estimate.n})


def estimate_row(label: str, estimate: Estimate, **columns) -> dict:
    return {"": label, **columns, "mean": estimate.value, "95% CI": f"[{estimate.low:.2f}, {estimate.high:.2f}]",
            "n": estimate.n}


def estimate_table(rows: list[dict], index: str = "") -> pd.DataFrame:
    """A display table: one row per estimate, means to two decimals, its CI and sample size beside it."""
    table = pd.DataFrame(rows).set_index(index)
    return table.style.format({"mean": "{:.2f}"}) if "mean" in table else table


def results_dir(artifacts_dir: str | Path) -> Path:
    path = Path(artifacts_dir) / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def claim(statement: str, shown: bool | None, evidence: str, teacher: str, decidable: bool = True) -> dict:
    """A claim as the chapters not yet moved into `eep_utils.experiments` state it (see `Claim`)."""
    status = ("not tested" if shown is None else "inconclusive" if not decidable
              else "shown" if shown else "not shown")
    return Claim(statement, status, evidence, teacher).as_row()


def save_headline(artifacts_dir: str | Path, chapter: str, rows: list[dict], claims: list[dict] = ()) -> Path:
    """Headline rows and claims for the introduction; each row names its measure, teacher, whether a
    chatbot, value and CI; each claim its status and the evidence behind it."""
    required = {"measure", "teacher", "is_chatbot", "mean", "ci_low", "ci_high", "n"}
    for row in rows:
        missing = required - set(row)
        if missing:
            raise ValueError(f"headline row {row} lacks {sorted(missing)}")
    for item in claims:
        if item.get("status") not in CLAIM_STATUSES:
            raise ValueError(f"claim {item} needs a status among {CLAIM_STATUSES} (use report.claim)")
    path = results_dir(artifacts_dir) / f"{chapter}.json"
    path.write_text(json.dumps({"chapter": chapter, "rows": rows, "claims": list(claims)}, indent=2))
    return path


def _load(artifacts_dir: str | Path, part: str) -> pd.DataFrame:
    rows = []
    for path in sorted(results_dir(artifacts_dir).glob("*.json")):
        document = json.loads(path.read_text())
        rows += [{"chapter": document["chapter"], **row} for row in document.get(part, [])]
    return pd.DataFrame(rows)


def load_key_results(artifacts_dir: str | Path) -> dict[str, str]:
    """Each chapter's saved key result, by chapter name, in the book's order."""
    return {path.name.removesuffix(".key_result.md"): path.read_text()
            for path in sorted(results_dir(artifacts_dir).glob("*.key_result.md"))}


def _table_path(artifacts_dir: str | Path, name: str) -> Path:
    return results_dir(artifacts_dir) / f"{name}.parquet"


def save_table(artifacts_dir: str | Path, name: str, frame: pd.DataFrame) -> Path:
    """A chapter's result table for the introduction, as Parquet under `results/`.

    Parquet keeps the index, the index's and the columns' names and the dtypes, which a
    figure's axis labels read back."""
    path = _table_path(artifacts_dir, name)
    frame.to_parquet(path)
    return path


def load_table(artifacts_dir: str | Path, name: str) -> pd.DataFrame:
    path = _table_path(artifacts_dir, name)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the chapter that saves table {name!r} "
                                "(report.save_table) did not run in this build")
    return pd.read_parquet(path)


def load_summaries(artifacts_dir: str | Path) -> dict[str, dict[str, dict]]:
    """chapter -> chatbot -> {"numbers": …, "sentences": …} as the chapters published them (the book's own
    chatbot first; an Estimate as {"value", "low", "high", "n", "undefined"})."""
    return {path.name.removesuffix(".summary.json"): json.loads(path.read_text())
            for path in sorted(results_dir(artifacts_dir).glob("*.summary.json"))}


def load_headlines(artifacts_dir: str | Path) -> pd.DataFrame:
    return _load(artifacts_dir, "rows")


def load_claims(artifacts_dir: str | Path) -> pd.DataFrame:
    return _load(artifacts_dir, "claims")


def publish(results: ChapterResult | list[ChapterResult], artifacts_dir: str | Path) -> None:
    """Show a chapter's result (or one result per chatbot, the book's own first) to its page and to the
    introduction.

    The first result speaks in the prose: every number is glued (`{glue:text}`; an Estimate as `name`,
    `name_low`, `name_high`, `name_n`), every computed sentence and the caveat (`{glue:md}`), and the key
    result for the box that opens the chapter. `by_chatbot` glues the claims of every chatbot side by side
    (or says that one answered). Saved for the introduction and the appendix: every result's headline rows
    and claims, the first's key result and exported tables, and every result's numbers by chatbot. Notes
    about the run (an earlier chapter's result made here) are printed, one line each."""
    results = [results] if isinstance(results, ChapterResult) else list(results)
    first = results[0]
    for name, value in first.numbers.items():
        if isinstance(value, Estimate):
            glue_estimate(name, value)
        else:
            glue_numbers(**{name: value})
    glue_markdown(**first.sentences, caveat=first.caveat or "", by_chatbot=claims_by_chatbot(results))
    from IPython.display import Markdown
    from myst_nb import glue

    glue("key_result", Markdown(first.key_result), display=False)
    save_results(results, artifacts_dir)
    for result in results:
        for note in result.notes:
            print(note)


def save_results(results: list[ChapterResult], artifacts_dir: str | Path) -> None:
    """Save a chapter's results for the introduction and the appendix (see `publish`), gluing nothing."""
    first = results[0]
    rows, seen = [], set()
    for result in results:
        for row in result.headline:
            if (row["measure"], row["teacher"]) not in seen:  # the 2023 recordings' rows come with every run
                seen.add((row["measure"], row["teacher"]))
                rows.append(row)
    claims = {(c.statement, c.teacher): c.as_row() for result in results for c in result.claims}
    save_headline(artifacts_dir, first.chapter, rows, list(claims.values()))
    (results_dir(artifacts_dir) / f"{first.chapter}.summary.json").write_text(json.dumps(
        {answered_by(result): {part: result.summary()[part] for part in ("numbers", "sentences")}
         for result in results},
        indent=1, default=str))
    (results_dir(artifacts_dir) / f"{first.chapter}.key_result.md").write_text(first.key_result)
    for name, table in first.exports.items():
        save_table(artifacts_dir, name, table)
    details = results_dir(artifacts_dir) / "details" / first.chapter
    shutil.rmtree(details, ignore_errors=True)  # a rebuild replaces the chapter's details
    details.mkdir(parents=True)
    for number, (title, table) in enumerate(first.details.items()):
        table.to_parquet(details / f"{number:02d}.parquet")
    (details / "titles.json").write_text(json.dumps(list(first.details)))


def load_details(artifacts_dir: str | Path) -> dict[str, dict[str, pd.DataFrame]]:
    """chapter -> title -> table: what each chapter left for the appendix, in the book's order (a chapter that
    left nothing is not listed)."""
    found = {}
    for folder in sorted((results_dir(artifacts_dir) / "details").glob("*")):
        titles = json.loads((folder / "titles.json").read_text())
        if titles:
            found[folder.name] = {title: pd.read_parquet(folder / f"{number:02d}.parquet")
                                  for number, title in enumerate(titles)}
    return found


def answered_by(result: ChapterResult) -> str:
    """Who answered a result's prompts: the ladder's chatbot, else the teacher its claims name."""
    return result.chatbot or next((claim.teacher for claim in result.claims), "")


def claims_by_chatbot(results: list[ChapterResult]) -> str:
    """The chapter's claims with each chatbot's status side by side (Markdown), or the sentence that says
    one chatbot answered and how another joins it."""
    if len(results) == 1:
        who = answered_by(results[0])
        return (f"One chatbot answered in this build{f': {who}' if who else ''}. Another joins it, in a column "
                "of its own, with one setting (see *Re-run with your own chatbot*).")
    names = [answered_by(result) for result in results]
    lines = ["| claim | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for number, claim_of_first in enumerate(results[0].claims):
        statuses = [result.claims[number].status if number < len(result.claims) else "—" for result in results]
        lines.append(f"| {claim_of_first.statement} | " + " | ".join(statuses) + " |")
    # A chatbot whose answers could not be read: the chapter says how many were, why not, with examples.
    untestable = [f"**{name}:** {result.sentences[USABILITY]}" for name, result in zip(names, results)
                  if USABILITY in result.sentences]
    return "\n\n".join(["\n".join(lines), *untestable])
