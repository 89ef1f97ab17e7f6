"""Chapter 03's figure, drawn from `experiments.baselines.run`'s result."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from eep_utils.experiments.base import ChapterResult

COLOURS = {"nothing": "tab:grey", "text": "tab:green", "the full state": "tab:purple"}


def baselines(result: ChapterResult) -> Figure:
    """Each baseline's mean return with its 95% CI, coloured by what it sees, on a log scale (the controller's
    ceiling would flatten every other bar)."""
    data = result.figures["baselines"]
    estimates, sees = data["estimates"], data["sees"]
    names = list(estimates)[::-1]  # the first baseline on top
    fig, axis = plt.subplots(figsize=(8, 4))
    axis.barh(names, [estimates[n].value for n in names],
              xerr=[[estimates[n].value - estimates[n].low for n in names],
                    [estimates[n].high - estimates[n].value for n in names]],
              color=[COLOURS[sees[n]] for n in names], capsize=3)
    axis.set_xscale("log")
    axis.set_xlabel(f"mean return (frames survived, log scale), 95% CI, {estimates[names[0]].n} episodes each")
    axis.set_title(f"Baselines on CartPole-v1, one decision per {data['hold']} frames")
    axis.legend(handles=[Patch(color=colour, label=f"sees {what}") for what, colour in COLOURS.items()
                         if what in sees.values()], fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
