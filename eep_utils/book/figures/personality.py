"""Chapter 06's figures, from `eep_utils.experiments.personality.run`'s result (its `figures` data), drawn in the
book's style (`eep_utils.book.style`): the pictures, the judges' persona effect, who agrees with whom, and the
power that turns a null result into a bound."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from eep_utils.book.style import DOT_COLOUR, MIN_TEXT_PT, REFERENCE_COLOUR, annotated_matrix, figure_size

EFFECT_COLOUR = "#b2182b"  # the chatbot's own judges, against the synthetic ones


def pictures(result) -> Figure:
    """The first twelve pictures, as a student sees them."""
    data = result.figures["pictures"]
    fig, axes = plt.subplots(2, 6, figsize=figure_size(0.45))
    for index, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if index < len(data["images"]):
            axis.imshow(data["images"][index])
            axis.set_title(f"#{index}", fontsize=MIN_TEXT_PT)
    fig.suptitle(f"All a student sees: the first twelve pictures\n({data['source']})")
    return fig


def judges(result) -> Figure:
    """The judges like with like: in each template, Spearman's ρ of each persona's P(cute) (first wording, rows)
    with each persona's rewording (columns). A persona beyond its wording shows as a diagonal above its row."""
    data = result.figures["judges"]
    matrices = data["matrices"]
    fig, axes = plt.subplots(1, len(matrices), figsize=figure_size(0.52, wide=True))
    axes = np.atleast_1d(axes)
    for axis, (template, values) in zip(axes, matrices.items()):
        cells = annotated_matrix(axis, values.to_numpy(), list(values.index), list(values.columns),
                                 vmin=-1, vmax=1)
        _slanted_column_names(axis)
        axis.set_xlabel("persona, second wording")
        axis.set_title(f"{template}: {data['by_template'][template]}")
    axes[0].set_ylabel("persona, first wording")
    for axis in axes[1:]:
        axis.tick_params(labelleft=False)  # the rows are the same personas (not sharey: it would flip them back)
    fig.colorbar(cells, ax=axes, label="Spearman ρ of P(cute)\nover pictures", shrink=0.8)
    fig.suptitle(f"The judges' persona effect, ρ own rewording − ρ others': {data['pooled']} ({data['n']} pictures)")
    return fig


def _slanted_column_names(axis) -> None:
    """A matrix's column names slanted, each ending under its column (persona names are long)."""
    axis.tick_params(axis="x", labelrotation=30)
    for label in axis.get_xticklabels():
        label.set_horizontalalignment("right")


def agreement(result) -> Figure:
    """Who agrees with whom (ROC-AUC against judge j's cuter half, mean of templates and splits): the judges
    themselves, the pattern a perfect copy would show, beside the XGBoost students'."""
    data = result.figures["matrix"]
    panels = {"the judges themselves": data["judges"], "XGBoost students": data["students"]}
    fig, axes = plt.subplots(1, 2, figsize=figure_size(0.56, wide=True))
    for axis, (title, values) in zip(axes, panels.items()):
        cells = annotated_matrix(axis, values.to_numpy(), list(values.index), list(values.columns), vmin=0, vmax=1)
        _slanted_column_names(axis)
        axis.set_xlabel("judge j (first wording)")
        axis.set_title(f"{title}\nindex {data['index'][title]}")
    axes[0].set_ylabel("judge i, or its student")
    axes[1].tick_params(labelleft=False)  # the same rows (not sharey: it would flip them back)
    fig.colorbar(cells, ax=axes, label="ROC-AUC (0.5 = chance)", shrink=0.8)
    fig.suptitle(f"Own judge (diagonal) against the others: {data['n_test']} held-out pictures × "
                 f"{data['n_splits']} splits")
    return fig


def power(result) -> Figure | None:
    """The students' power against the judges' persona effect: for each synthetic strength s, the share of
    replicates in which the main claim's rule fired (95% Wilson CI) at the synthetic judges' own persona effect
    (mean and range over replicates), beside this build's judges' effect. None without a power analysis
    (pictures without the generator's traits)."""
    if "power" not in result.figures:
        return None
    data = result.figures["power"]
    curve = data["curve"]
    effects = [np.asarray(data["judge_effects"][row["strength"]], dtype=float) for row in curve]
    centre = np.array([np.nanmean(e) for e in effects])
    detected = np.array([row["power"] for row in curve])
    fig, axis = plt.subplots(figsize=figure_size(0.55))
    chatbot = data["chatbot_effect"]
    axis.axvspan(chatbot.low, chatbot.high, color=EFFECT_COLOUR, alpha=0.15, linewidth=0)
    axis.axvline(chatbot.value, color=EFFECT_COLOUR, linewidth=1.5, label=f"this build's judges: {chatbot}")
    axis.axhline(0.8, color=REFERENCE_COLOUR, linestyle="--", linewidth=1.5, label="80% power")
    axis.errorbar(centre, detected,
                  xerr=[centre - [np.nanmin(e) for e in effects], [np.nanmax(e) for e in effects] - centre],
                  yerr=[detected - [row["power_low"] for row in curve],
                        [row["power_high"] for row in curve] - detected],
                  color=DOT_COLOUR, marker="o", capsize=3, label="synthetic judges")
    labelled = []  # strengths whose points crowd an already labelled one go unlabelled (their labels would overlap)
    x_span = max(np.nanmax(centre) - np.nanmin(centre), 1e-9)
    for x, y, row in zip(centre, detected, curve):
        if all(abs(x - x0) > 0.15 * x_span or abs(y - y0) > 0.1 for x0, y0 in labelled):
            axis.annotate(f"s = {row['strength']:g}", (x, y), xytext=(5, -14), textcoords="offset points",
                          fontsize=MIN_TEXT_PT, color=DOT_COLOUR)
            labelled.append((x, y))
    axis.set_ylim(0, 1.05)
    axis.set_xlabel("judges' persona effect (ρ own rewording − ρ others')")
    axis.set_ylabel(f"power ({data['replicates']} replicates)")
    fig.legend(loc="outside lower center", ncols=2)
    smallest = data["min_detectable"]
    axis.set_title(f"Detected with 80% power from strength s = {smallest.value:g}"
                   if np.isfinite(smallest.value) else "No persona strength tried is detected with 80% power",
                   loc="left")
    return fig
