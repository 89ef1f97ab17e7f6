"""Chapter 03's figure, drawn from `experiments.baselines.run`'s result in the book's style."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import ScalarFormatter

from eep_utils.book.figures.embodiment import SEES_COLOURS
from eep_utils.book.style import dot_plot, figure_size
from eep_utils.experiments.base import ChapterResult


def baselines(result: ChapterResult) -> Figure:
    """Each baseline's mean return with its 95% CI as a dot, coloured by what it sees, on a log scale (the
    controller's ceiling would crowd every other baseline into the axis's first tenth)."""
    data = result.figures["baselines"]
    estimates, sees = data["estimates"], data["sees"]
    names = list(estimates)
    fig, axis = plt.subplots(figsize=figure_size(0.55))
    dot_plot(axis, names, [estimates[n].value for n in names], [estimates[n].low for n in names],
             [estimates[n].high for n in names], colours=[SEES_COLOURS[sees[n]] for n in names],
             unit=f"mean return (frames survived, log scale)\n95% CI over {estimates[names[0]].n} episodes")
    axis.set_xscale("log")
    axis.xaxis.set_major_formatter(ScalarFormatter())  # 10, 100 rather than 10¹, 10²
    fig.suptitle(f"Baselines on CartPole-v1, one decision every {data['hold']} frames")
    fig.legend(handles=[Line2D([], [], color=colour, marker="o", label=f"sees {what}")
                         for what, colour in SEES_COLOURS.items() if what in sees.values()],
                loc="outside lower center", ncols=3)
    return fig
