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
    fig, axis = plt.subplots(figsize=(10, 5.5))
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


def agreement(result: ChapterResult) -> Figure:
    """The persona × persona matrices (ROC-AUC): the judges' own, then each kind of student's."""
    data = result.figures["matrix"]
    fig, axes = plt.subplots(1, len(data["panels"]), figsize=(16, 5.8), sharey=True, layout="constrained")
    for axis, (title, values) in zip(axes, data["panels"].items()):
        image = _matrix(axis, values, title)
    axes[0].set_ylabel("persona i (a teacher, or the student trained on it)")
    fig.colorbar(image, ax=axes, label="ROC-AUC against the teacher's cuter half (0.5 = chance)", shrink=0.8)
    fig.suptitle(f"Who agrees with whom, {data['n_test']} held-out pictures — judge: {data['judge']}", fontsize=11)
    return fig


def _bars(axis, groups, personas, title, ylabel):
    width = 0.8 / len(groups)
    for number, (name, estimates) in enumerate(groups.items()):
        centre = np.arange(len(personas)) + (number - (len(groups) - 1) / 2) * width
        values = np.array([e.value for e in estimates])
        errors = [values - [e.low for e in estimates], [e.high for e in estimates] - values]
        axis.bar(centre, values, width, yerr=errors, capsize=2, label=name)
    axis.axhline(0.5, color="black", linewidth=0.8, linestyle=":")
    axis.set_xticks(range(len(personas)), personas, rotation=20, ha="right")
    axis.set_xlabel("persona of the student and its teacher")
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=10)


def controls(result: ChapterResult) -> Figure:
    """The wording control (own persona in two wordings, other personas' mean) and the generic-habit control
    (own persona against the no-persona judge), XGBoost students' ROC-AUC with 95% bootstrap CIs."""
    data = result.figures["controls"]
    groups, personas = data["groups"], data["personas"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True, layout="constrained")
    _bars(axes[0], {name: groups[name] for name in ("own teacher", "own persona reworded")}, personas,
          "Wording control: the student against its persona in two wordings",
          "XGBoost student's ROC-AUC (0.5 = chance)")
    axes[0].scatter(range(len(personas)), data["others mean"], marker="_", s=400, color="black",
                    label="other personas (mean)", zorder=3)
    _bars(axes[1], {name: groups[name] for name in ("own teacher", "no-persona judge")}, personas,
          "Generic-habit control: own persona against the no-persona judge", "")
    for axis in axes:
        axis.legend(fontsize=8)
    fig.suptitle(f"Controls, {data['n_test']} held-out pictures, 95% bootstrap CIs — judge: {data['judge']}",
                 fontsize=11)
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
