"""Chapter 07's figure: what each experiment asks a chatbot, in requests and in the local server's time. Drawn to
the book's figure rules (`eep_utils.book.style`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from eep_utils.book.style import DOT_COLOUR, figure_size
from eep_utils.experiments.base import ChapterResult
from eep_utils.experiments.rerun import shown_name


def requests(result: ChapterResult) -> Figure:
    """Distinct requests and minutes of server time per experiment, side by side (bars from zero)."""
    counted = result.figures["requests"]
    labels = [shown_name(chapter, experiment) for chapter, experiment in counted.index]
    fig, (left, right) = plt.subplots(1, 2, sharey=True, layout="constrained",
                                      figsize=figure_size(0.12 + 0.07 * len(labels), wide=True))
    positions = range(len(labels))
    left.barh(positions, counted["requests"], color=DOT_COLOUR)
    left.set_yticks(list(positions), labels)
    left.invert_yaxis()
    left.set_xlabel("distinct requests")
    right.barh(positions, counted["server busy (s)"] / 60, color=DOT_COLOUR)
    right.set_xlabel("server busy while recording (min)")
    fig.suptitle(f"What each experiment asks {result.numbers['model']}, counted by running it")
    return fig
