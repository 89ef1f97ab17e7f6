"""Chapter 02's figures: each teacher's action table, the wording control, the generic habit, one episode."""
from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import Image
from matplotlib.figure import Figure

from eep_utils.cartpole.behaviour import episode_animation as animated_episode
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.experiments.base import ChapterResult

PERSONA_COLOUR, WORDING_COLOUR = "tab:red", "tab:grey"


def action_tables(result: ChapterResult, columns: int = 2) -> Figure:
    """Each teacher's share of pushes to the right in every text state, as a grid of heatmaps."""
    grids = result.figures["action tables"]
    rows = -(-len(grids) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(13, 5.2 * rows), squeeze=False)
    for axis, (name, grid) in zip(axes.flat, grids.items()):
        sns.heatmap(grid, ax=axis, vmin=0, vmax=1, cmap="coolwarm", cbar_kws={"label": "share of pushes to the right"})
        axis.set_title(name)
        axis.set_xlabel("pole angular velocity – pole angle")
        axis.set_ylabel("cart position – cart velocity")
    for axis in list(axes.flat)[len(grids):]:
        axis.set_visible(False)
    fig.suptitle(f"Each teacher's action table over the {STUDY_2023.n_states} text states (blank: never asked there)")
    fig.tight_layout()
    return fig


def distances(result: ChapterResult) -> Figure:
    """Behaviour distances with their 95% CIs: persona pairs against rewordings of one persona."""
    found = list(reversed(result.figures["distances"].items()))
    fig, axis = plt.subplots(figsize=(9, 0.5 * len(found) + 1.5))
    for row, ((kind, _), distance) in enumerate(found):
        colour = PERSONA_COLOUR if kind == "persona" else WORDING_COLOUR
        # A distance is biased upwards, so its bootstrap interval need not contain the point: drawn apart.
        axis.hlines(row, distance.low, distance.high, color=colour, linewidth=3, alpha=0.5)
        axis.plot(distance.value, row, "o", color=colour)
    axis.set_yticks(range(len(found)), [name for (_, name), _ in found])
    axis.set_xlabel("behaviour distance: weighted mean |Δ P(push right)| over shared text states")
    axis.set_title("Wording control: persona pairs (red) against rewordings of one persona (grey), 95% CI")
    fig.tight_layout()
    return fig


def habits(result: ChapterResult) -> Figure:
    """For each teacher, the share of text states where its majority push is the no-persona control's."""
    found = list(reversed(result.figures["habits"].items()))
    fig, axis = plt.subplots(figsize=(9, 0.5 * len(found) + 1.5))
    for row, (name, share) in enumerate(found):
        axis.errorbar(share.value, row, xerr=[[share.value - share.low], [share.high - share.value]], fmt="o",
                      color=WORDING_COLOUR if name.startswith("no_persona") else PERSONA_COLOUR, capsize=3)
    axis.set_yticks(range(len(found)), [name for name, _ in found])
    axis.set_xlim(0, 1.02)
    axis.set_xlabel("share of shared text states where its majority push is the no-persona control's")
    axis.set_title("Generic-habit control: how much of each teacher is the chatbot's habit without a persona")
    fig.tight_layout()
    return fig


def episode_animation(result: ChapterResult) -> Image:
    """The first teacher's longest episode as a GIF, every second frame (the decision frames)."""
    shown = result.figures["animation"]
    return Image(data=animated_episode(shown["episodes"], episode=shown["episode"], title=shown["teacher"][:40]),
                 format="gif")
