"""Chapter 06's figures, from `eep_utils.experiments.personality.run`'s result (its `figures` data)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from eep_utils.experiments.base import ChapterResult


def pictures(result: ChapterResult) -> Figure:
    """The first twelve pictures, as a student sees them."""
    data = result.figures["pictures"]
    fig, axes = plt.subplots(2, 6, figsize=(12, 4.6))
    for index, axis in enumerate(axes.flat):
        axis.set_xticks([]), axis.set_yticks([])
        if index < len(data["images"]):
            axis.imshow(data["images"][index])
            axis.set_title(f"#{index}", fontsize=9)
    fig.suptitle(f"The first twelve pictures ({data['source']}); a student sees only these")
    fig.tight_layout()
    return fig


def taste_by_body_plan(result: ChapterResult) -> Figure | None:
    """Each judge's mean P(cute) by body plan, centred on its own mean; None for pictures without a generator's
    traits (a reader's image folder)."""
    if "taste" not in result.figures:
        return None
    taste, judge = result.figures["taste"]["taste"], result.figures["taste"]["judge"]
    fig, axis = plt.subplots(figsize=(10, max(5.5, 0.26 * len(taste.columns) + 1.8)))
    limit = np.nanmax(np.abs(taste.to_numpy()))
    image = axis.imshow(taste.T.to_numpy(), cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    axis.set_xticks(range(len(taste)), taste.index, rotation=30, ha="right")
    axis.set_yticks(range(len(taste.columns)), taste.columns, fontsize=8)
    axis.set_xlabel("body plan (known to the generator, never shown to a student)")
    axis.set_ylabel("judge (persona and wording)")
    fig.colorbar(image, label="mean P(cute) minus the judge's overall mean")
    axis.set_title(f"Each judge's taste by body plan — {judge}", fontsize=10)
    fig.tight_layout()
    return fig


def _matrix(axis, values, title):
    image = axis.imshow(values.to_numpy(), cmap="coolwarm", vmin=0.25, vmax=0.75)  # centred on chance
    for (i, j), value in np.ndenumerate(values.to_numpy()):
        axis.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
    axis.set_xticks(range(len(values.columns)), values.columns, rotation=35, ha="right", fontsize=8)
    axis.set_yticks(range(len(values.index)), values.index, fontsize=8)
    axis.set_xlabel("teacher (judge persona)")
    axis.set_title(title, fontsize=10)
    return image


def judges(result: ChapterResult) -> Figure:
    """The judges like with like: in each template, Spearman's ρ of each persona's P(cute) (first wording, rows)
    with each persona's rewording (columns). A persona beyond its wording shows as a diagonal above its row."""
    data = result.figures["judges"]
    fig, axes = plt.subplots(1, len(data["matrices"]), figsize=(6.2 * len(data["matrices"]), 5.4), sharey=True,
                             layout="constrained")
    axes = np.atleast_1d(axes)
    for axis, (template, values) in zip(axes, data["matrices"].items()):
        image = axis.imshow(values.to_numpy(), cmap="viridis", vmin=-1, vmax=1)
        for (i, j), value in np.ndenumerate(values.to_numpy()):
            axis.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                      color="white" if value < 0.4 else "black")
        axis.set_xticks(range(len(values.columns)), values.columns, rotation=35, ha="right", fontsize=8)
        axis.set_yticks(range(len(values.index)), values.index, fontsize=8)
        axis.set_xlabel("persona, second wording")
        axis.set_title(f"template {template}: persona effect {data['by_template'][template]}", fontsize=10)
    axes[0].set_ylabel("persona, first wording")
    fig.colorbar(image, ax=axes, label="Spearman ρ of P(cute) over pictures", shrink=0.8)
    fig.suptitle(f"Each persona against every persona's rewording, {data['n']} pictures — judge: {data['judge']}",
                 fontsize=11)
    return fig


def _matrix(axis, values, title):
    image = axis.imshow(values.to_numpy(), cmap="coolwarm", vmin=0.25, vmax=0.75)  # centred on chance
    for (i, j), value in np.ndenumerate(values.to_numpy()):
        axis.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
    axis.set_xticks(range(len(values.columns)), values.columns, rotation=35, ha="right", fontsize=8)
    axis.set_yticks(range(len(values.index)), values.index, fontsize=8)
    axis.set_xlabel("judge persona (first wording)")
    axis.set_title(title, fontsize=10)
    return image


def agreement(result: ChapterResult) -> Figure:
    """The persona × persona matrices (ROC-AUC), averaged over templates and splits: the judges' own, then
    each kind of student's."""
    data = result.figures["matrix"]
    fig, axes = plt.subplots(1, len(data["panels"]), figsize=(16, 6.6), sharey=True, layout="constrained")
    for axis, (title, values) in zip(axes, data["panels"].items()):
        image = _matrix(axis, values, title)
    axes[0].set_ylabel("persona i (a judge, or the student trained on it)")
    fig.colorbar(image, ax=axes, label="ROC-AUC against the judge's cuter half (0.5 = chance)", shrink=0.8)
    fig.suptitle(f"Who agrees with whom, {data['n_test']} held-out pictures × {data['n_splits']} splits, mean of "
                 f"templates — judge: {data['judge']}", fontsize=11)
    return fig


def controls(result: ChapterResult) -> Figure:
    """Per persona, the XGBoost student's ROC-AUC against its own judge, its persona reworded, the neutral
    control and the other personas (mean), averaged over templates, 95% CIs pooled over splits."""
    data = result.figures["controls"]
    cells, personas = data["cells"], data["personas"]
    fig, axis = plt.subplots(figsize=(12, 4.8), layout="constrained")
    width = 0.8 / len(cells)
    for number, (name, estimates) in enumerate(cells.items()):
        centre = np.arange(len(personas)) + (number - (len(cells) - 1) / 2) * width
        values = np.array([e.value for e in estimates])
        errors = [values - [e.low for e in estimates], [e.high for e in estimates] - values]
        axis.bar(centre, values, width, yerr=errors, capsize=2, label=name)
    axis.axhline(0.5, color="black", linewidth=0.8, linestyle=":")
    axis.set_xticks(range(len(personas)), personas, rotation=20, ha="right")
    axis.set_xlabel("persona of the student (first wording)")
    axis.set_ylabel("XGBoost student's ROC-AUC (0.5 = chance)")
    fig.legend(*axis.get_legend_handles_labels(), fontsize=8, ncols=len(cells), loc="outside lower center")
    axis.set_title(f"Controls, {data['n_test']} held-out pictures × {data['n_splits']} splits, 95% CIs — "
                   f"judge: {data['judge']}", fontsize=10)
    return fig


def power(result: ChapterResult) -> Figure | None:
    """Left: how often the main claim's rule detects synthetic judges of taste strength s (95% Wilson CIs),
    the minimum detectable strength marked. Right: the synthetic judges' own persona effect at each s, beside
    the chatbot's measured one. None without a power analysis (pictures without the generator's traits)."""
    if "power" not in result.figures:
        return None
    data = result.figures["power"]
    strengths = np.array([row["strength"] for row in data["curve"]])
    power_values = np.array([row["power"] for row in data["curve"]])
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    left.errorbar(strengths, power_values, yerr=[power_values - [row["power_low"] for row in data["curve"]],
                                                 [row["power_high"] for row in data["curve"]] - power_values],
                  marker="o", capsize=3, label=f"synthetic judges, {data['replicates']} replicates per strength")
    left.axhline(0.8, color="grey", linestyle="--", linewidth=0.8, label="80% power")
    smallest = data["min_detectable"]
    if np.isfinite(smallest.value):
        left.axvline(smallest.value, color="tab:red", linestyle=":", label=f"minimum detectable s = {smallest.value:g}")
    left.set_xlabel("synthetic taste strength s (share of each judgment that is the persona's taste)")
    left.set_ylabel("power: share of replicates where the claim is shown")
    left.set_ylim(-0.05, 1.05)
    left.legend(fontsize=8, loc="lower right")
    left.set_title("Power of the students' test", fontsize=10)

    effects = [data["judge_effects"][s] for s in strengths]
    right.plot(strengths, [e.mean() for e in effects], marker="o", label="synthetic judges (mean of replicates)")
    right.fill_between(strengths, [e.min() for e in effects], [e.max() for e in effects], alpha=0.2,
                       label="range over replicates")
    chatbot = data["chatbot_effect"]
    right.axhline(chatbot.value, color="tab:red", linewidth=1, label=f"this build's judge: {chatbot}")
    right.axhspan(chatbot.low, chatbot.high, color="tab:red", alpha=0.15)
    if np.isfinite(smallest.value):
        right.axvline(smallest.value, color="tab:red", linestyle=":")
    right.set_xlabel("synthetic taste strength s")
    right.set_ylabel("judges' persona effect: ρ own rewording − ρ others'")
    right.legend(fontsize=8, loc="upper left")
    right.set_title("The judges' persona effect on the same scale", fontsize=10)
    fig.suptitle(f"Synthetic judges (a positive control, not a chatbot) built on the judgments of {data['judge']}",
                 fontsize=11)
    return fig


def search(result: ChapterResult) -> Figure:
    """The judges' persona effect in every template tried, with 95% bootstrap CIs over pictures."""
    data = result.figures["search"]
    templates = list(data["estimates"])
    values = np.array([data["estimates"][t].value for t in templates])
    errors = [values - [data["estimates"][t].low for t in templates],
              [data["estimates"][t].high for t in templates] - values]
    fig, axis = plt.subplots(figsize=(8, 4.2), layout="constrained")
    axis.bar(range(len(templates)), values, yerr=errors, capsize=4, color="tab:blue")
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xticks(range(len(templates)), [f"{t}\n({data['n'][t]} pictures)" for t in templates])
    axis.set_ylabel("ρ own rewording − ρ others' rewordings")
    axis.set_title(f"The judges' persona effect in each template tried — judge: {data['judge']}", fontsize=10)
    return fig


def gallery(result: ChapterResult) -> Figure:
    """The gallery's held-out pictures, numbered as in its table."""
    data = result.figures["gallery"]
    columns = max(1, len(data["pictures"]))
    fig, axes = plt.subplots(1, columns, figsize=(1.6 * columns, 2.1))
    axes = np.atleast_1d(axes)
    for axis in axes:
        axis.set_xticks([]), axis.set_yticks([])
    for axis, picture, image in zip(axes, data["pictures"], data["images"]):
        axis.imshow(image)
        axis.set_title(f"#{picture}", fontsize=9)
    fig.suptitle(f"Held-out pictures; labels below — judge: {data['judge']}", fontsize=10)
    fig.tight_layout()
    return fig
