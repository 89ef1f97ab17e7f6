"""Chapter 05's figure, drawn from `eep_utils.experiments.ellm.run`'s result (its `figures` data) in the book's
style (`eep_utils.book.style`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from eep_utils.book.style import dot_plot, figure_size
from eep_utils.experiments.base import ChapterResult


def returns(result: ChapterResult) -> Figure:
    """Every policy's CartPole return on the same seeded starts (mean, 95% CI over episodes), the R_int agents
    first; the random walk's mean is the reference line. The title states the comparison the claims rest on."""
    data = result.figures["returns"]
    estimates, agent, random_walk = data["returns"], data["agent"], data["random walk"]
    labels = list(estimates)
    fig, axis = plt.subplots(figsize=figure_size(0.12 + 0.065 * len(labels), wide=True))
    dot_plot(axis, labels, [estimates[name].value for name in labels], [estimates[name].low for name in labels],
             [estimates[name].high for name in labels],
             unit=f"CartPole return (frames, at most 500; mean and 95% CI over {data['episodes']} episodes)",
             reference=estimates[random_walk].value, reference_label="random walk")
    axis.set_xlim(0, 1.04 * max(estimate.high for estimate in estimates.values()))
    # Above the whole figure, not the axes: the policies' long names push the axes far to the right.
    fig.suptitle(f"Trained on R_int alone, the agent survives {estimates[agent].value:.1f} frames; "
                 f"a random walk {estimates[random_walk].value:.1f}\n(goals from {data['teacher']})",
                 x=0.02, ha="left", fontweight="bold")
    return fig
