"""Chapter 02's figures: every voice's probe answers, the rollouts' action tables, persona against wording,
the behaviour test's power, the generic habit, and one episode. Drawn to the book's figure rules
(`eep_utils.book.style`): at most the column's width, no text under 10 pt, constrained layout."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import Image
from matplotlib.figure import Figure

from eep_utils.book.style import DOT_COLOUR, REFERENCE_COLOUR, WIDE_FIGURE_WIDTH_IN, dot_plot, figure_size
from eep_utils.cartpole.behaviour import episode_animation as animated_episode
from eep_utils.cartpole.contrasts import POWER
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.experiments.base import ChapterResult

POOLED_COLOUR, SYNTHETIC_COLOUR, CHATBOT_COLOUR = "tab:red", "tab:blue", "tab:red"


def probes(result: ChapterResult) -> Figure:
    """P(right) of every voice in every text state, as one heatmap (rows voices, columns states)."""
    shown = result.figures["probes"]
    fig, axis = plt.subplots(figsize=(WIDE_FIGURE_WIDTH_IN, 0.3 * len(shown["voices"]) + 1.6), layout="constrained")
    sns.heatmap(shown["p_right"], ax=axis, vmin=0, vmax=1, cmap="coolwarm", yticklabels=shown["voices"],
                xticklabels=10, cbar_kws={"label": "P(right)"})
    axis.set_xlabel(f"text state (0–{STUDY_2023.n_states - 1}), each asked once as a single question")
    axis.set_title("Each voice's P(right) in every text state (blank: no readable answer)")
    return fig


def action_tables(result: ChapterResult, columns: int = 2) -> Figure:
    """The rollouts' share of pushes to the right in every text state, for the main voices (and the 2023 run)."""
    grids = result.figures["action tables"]
    rows = -(-len(grids) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(WIDE_FIGURE_WIDTH_IN, 4.4 * rows), squeeze=False,
                             layout="constrained")
    for axis, (name, grid) in zip(axes.flat, grids.items()):
        sns.heatmap(grid, ax=axis, vmin=0, vmax=1, cmap="coolwarm", cbar_kws={"label": "share pushed right"})
        axis.set_title(name, fontsize=11)
        axis.set_xlabel("angular velocity – angle")
        axis.set_ylabel("position – velocity")
    for axis in list(axes.flat)[len(grids):]:
        axis.set_visible(False)
    fig.suptitle(f"Rollouts: action tables over the {STUDY_2023.n_states} text states (blank: never there)")
    return fig


def contrasts(result: ChapterResult) -> Figure:
    """Persona against wording, per template and pooled, with 95% CIs over text states."""
    rows = []
    for name, contrast in result.figures["contrasts"].items():
        rows += [(f"{name}: {template}", estimate, DOT_COLOUR) for template, estimate in contrast.per_template.items()]
        rows.append((f"{name}: pooled", contrast.pooled, POOLED_COLOUR))
    rows = [row for row in rows if np.isfinite(row[1].value)]  # undefined where no state was answered by all
    fig, axis = plt.subplots(figsize=figure_size(0.06 * len(rows) + 0.2, wide=True), layout="constrained")
    dot_plot(axis, [label for label, _, _ in rows], [e.value for _, e, _ in rows], [e.low for _, e, _ in rows],
             [e.high for _, e, _ in rows], colours=[colour for _, _, colour in rows], reference=0,
             unit="persona-and-wording minus wording-only distance,\nmean |ΔP(right)| (95% CI over text states)")
    axis.set_title("Persona against wording, like with like within a template")
    return fig


def power(result: ChapterResult) -> Figure:
    """The behaviour test's power against a synthetic teacher, and where Newton's measured effect lies."""
    found, newton = result.figures["power"]["power"], result.figures["power"]["newton"]
    shares = [row["strength"] for row in found.curve]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=figure_size(1.25), sharex=True, layout="constrained")
    top.errorbar(shares, [row["power"] for row in found.curve],
                 yerr=[[row["power"] - row["power_low"] for row in found.curve],
                       [row["power_high"] - row["power"] for row in found.curve]],
                 fmt="o-", color=SYNTHETIC_COLOUR, capsize=3)
    top.axhline(POWER, color=REFERENCE_COLOUR, linestyle=":", linewidth=1.5)
    if np.isfinite(found.min_detectable):
        top.axvline(found.min_detectable, color=SYNTHETIC_COLOUR, linestyle="--", linewidth=1,
                    label=f"{POWER:.0%} power from s = {found.min_detectable:g}")
        top.legend(loc="lower right")
    top.set_ylim(-0.02, 1.02)
    top.set_ylabel(f"power\n({found.replicates} synthetic teachers\nper share; Wilson 95% CI)")
    top.set_title("Power of the persona test (synthetic teacher:\na positive control, not a chatbot)")
    bottom.plot(shares, [row["effect"] for row in found.curve], "o-", color=SYNTHETIC_COLOUR,
                label="synthetic teacher (mean)")
    bottom.axhspan(newton.low, newton.high, color=CHATBOT_COLOUR, alpha=0.2)
    bottom.axhline(newton.value, color=CHATBOT_COLOUR, label="the chatbot's Newton\n(95% CI over text states)")
    bottom.set_xlabel("share s of text states where the synthetic teacher\nturns the control's answer")
    bottom.set_ylabel("persona minus wording,\nmean |ΔP(right)|")
    bottom.legend(loc="upper left")
    return fig


def habits(result: ChapterResult) -> Figure:
    """For each voice, the share of text states where its decision is the neutral control's (same template
    and wording)."""
    found = {name: share for name, share in result.figures["habits"].items() if np.isfinite(share.value)}
    fig, axis = plt.subplots(figsize=figure_size(0.09 * len(found) + 0.3), layout="constrained")
    dot_plot(axis, list(found), [e.value for e in found.values()], [e.low for e in found.values()],
             [e.high for e in found.values()],
             unit="share of text states where its decision is the\nneutral control's (Wilson 95% CI over states)")
    axis.set_xlim(0, 1.02)
    axis.set_title("Generic habit: how much of each voice\nis the chatbot's neutral habit")
    return fig


def episode_animation(result: ChapterResult) -> Image:
    """Newton's (you-are, wording 1) longest episode as a GIF, every second frame (the decision frames)."""
    shown = result.figures["animation"]
    return Image(data=animated_episode(shown["episodes"], episode=shown["episode"], title=shown["teacher"][:40]),
                 format="gif")
