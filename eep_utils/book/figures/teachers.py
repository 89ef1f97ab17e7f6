"""Chapter 02's figures: every voice's probe answers, the rollouts' action tables, persona against wording,
the behaviour test's power, and one episode. Drawn to the book's figure rules
(`eep_utils.book.style`): at most the column's width, no text under 10 pt, constrained layout."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import Image
from matplotlib.figure import Figure

from eep_utils.book.style import DOT_COLOUR, REFERENCE_COLOUR, TICK_PT, WIDE_FIGURE_WIDTH_IN, dot_plot, figure_size
from eep_utils.cartpole.behaviour import episode_animation as animated_episode
from eep_utils.cartpole.contrasts import POWER
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.experiments.base import ChapterResult

POOLED_COLOUR, SYNTHETIC_COLOUR, CHATBOT_COLOUR = "tab:red", "tab:blue", "tab:red"


def probes(result: ChapterResult) -> Figure:
    """P(right) of every voice in every text state, as one heatmap (rows voices, columns states)."""
    shown = result.figures["probes"]
    fig, axis = plt.subplots(figsize=(WIDE_FIGURE_WIDTH_IN, 0.22 * len(shown["voices"]) + 1.3), layout="constrained")
    sns.heatmap(shown["p_right"], ax=axis, vmin=0, vmax=1, cmap="coolwarm", yticklabels=shown["voices"],
                xticklabels=10, cbar_kws={"label": "P(right)"})
    axis.set_xlabel(f"text state (0–{STUDY_2023.n_states - 1}), each asked once as a single question")
    axis.set_title("Each voice's P(right) in every text state (blank: no readable answer)")
    return fig


def action_tables(result: ChapterResult) -> Figure:
    """The rollouts' share of pushes to the right in every text state, for the main voices (and the 2023 run),
    side by side on one colour scale."""
    grids = result.figures["action tables"]
    fig, axes = plt.subplots(1, len(grids), figsize=figure_size(0.42, wide=True), sharey=True, squeeze=False,
                             layout="constrained")
    for number, (axis, (name, grid)) in enumerate(zip(axes.flat, grids.items())):
        sns.heatmap(grid, ax=axis, vmin=0, vmax=1, cmap="coolwarm", cbar=number == len(grids) - 1,
                    cbar_kws={"label": "share pushed right", "shrink": 0.8}, xticklabels=False, square=True)
        axis.set_title(name.replace(" · ", "\n", 1) if " · " in name else textwrap.fill(name, 14), fontsize=TICK_PT)
        axis.set_xlabel("angle and its\nswing (9 states)")
        axis.set_ylabel("cart's position and velocity" if number == 0 else "")
    fig.suptitle(f"Where the rollouts pushed right, over the {STUDY_2023.n_states} text states (blank: never there)")
    return fig


def contrasts(result: ChapterResult) -> Figure:
    """Persona against wording, per template and pooled, with 95% CIs over text states."""
    rows = []
    for name, contrast in result.figures["contrasts"].items():
        rows += [(f"{name}: {template}", estimate, DOT_COLOUR) for template, estimate in contrast.per_template.items()]
        rows.append((f"{name}: pooled", contrast.pooled, POOLED_COLOUR))
    rows = [row for row in rows if np.isfinite(row[1].value)]  # undefined where no state was answered by all
    fig, axis = plt.subplots(figsize=figure_size(0.05 * len(rows) + 0.2, wide=True), layout="constrained")
    dot_plot(axis, [label for label, _, _ in rows], [e.value for _, e, _ in rows], [e.low for _, e, _ in rows],
             [e.high for _, e, _ in rows], colours=[colour for _, _, colour in rows], reference=0,
             unit="persona-and-wording minus wording-only distance,\nmean |ΔP(right)| (95% CI over text states)")
    axis.set_title("Persona against wording, like with like within a template")
    return fig


def power(result: ChapterResult) -> Figure:
    """The behaviour test's power against a synthetic teacher, and where Newton's measured effect lies."""
    found, newton = result.figures["power"]["power"], result.figures["power"]["newton"]
    shares = [row["strength"] for row in found.curve]
    fig, (left, right) = plt.subplots(1, 2, figsize=figure_size(0.45, wide=True), sharex=True, layout="constrained")
    left.errorbar(shares, [row["power"] for row in found.curve],
                 yerr=[[row["power"] - row["power_low"] for row in found.curve],
                       [row["power_high"] - row["power"] for row in found.curve]],
                 fmt="o-", color=SYNTHETIC_COLOUR, capsize=3)
    left.axhline(POWER, color=REFERENCE_COLOUR, linestyle=":", linewidth=1.5)
    if np.isfinite(found.min_detectable):
        left.axvline(found.min_detectable, color=SYNTHETIC_COLOUR, linestyle="--", linewidth=1,
                    label=f"{POWER:.0%} power from s = {found.min_detectable:g}")
        left.legend(loc="lower right")
    left.set_ylim(-0.02, 1.02)
    left.set_ylabel(f"power\n({found.replicates} synthetic teachers\nper share; Wilson 95% CI)")
    left.set_title("Power of the persona test")
    left.set_xlabel("share s of text states\nwhose answer is turned")
    fig.suptitle("How large a persona the test can see\n(synthetic teacher: a positive control, not a chatbot)")
    right.plot(shares, [row["effect"] for row in found.curve], "o-", color=SYNTHETIC_COLOUR,
                label="synthetic teacher (mean)")
    right.axhspan(newton.low, newton.high, color=CHATBOT_COLOUR, alpha=0.2)
    right.axhline(newton.value, color=CHATBOT_COLOUR, label="the chatbot's Newton\n(95% CI over text states)")
    right.set_xlabel("share s of text states\nwhose answer is turned")
    right.set_ylabel("persona minus wording,\nmean |ΔP(right)|")
    right.set_title("Newton's effect, same scale")
    right.legend(loc="upper left")
    return fig


def episode_animation(result: ChapterResult) -> Image:
    """Newton's (you-are, wording 1) longest episode as a GIF, every second frame (the decision frames)."""
    shown = result.figures["animation"]
    return Image(data=animated_episode(shown["episodes"], episode=shown["episode"], title=shown["teacher"][:40]),
                 format="gif")
