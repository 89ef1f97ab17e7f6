"""Chapter 02's figures: every voice's probe answers, the rollouts' action tables, persona against wording,
the behaviour test's power, the generic habit, and one episode."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import Image
from matplotlib.figure import Figure

from eep_utils.cartpole.behaviour import episode_animation as animated_episode
from eep_utils.cartpole.contrasts import POWER
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.experiments.base import ChapterResult

PERSONA_COLOUR, WORDING_COLOUR, SYNTHETIC_COLOUR = "tab:red", "tab:grey", "tab:blue"


def probes(result: ChapterResult) -> Figure:
    """P(right) of every voice in every text state, as one heatmap (rows voices, columns states)."""
    shown = result.figures["probes"]
    fig, axis = plt.subplots(figsize=(13, 0.32 * len(shown["voices"]) + 1.8))
    sns.heatmap(shown["p_right"], ax=axis, vmin=0, vmax=1, cmap="coolwarm", yticklabels=shown["voices"],
                xticklabels=10, cbar_kws={"label": "P(right)"})
    axis.set_xlabel(f"text state (0–{STUDY_2023.n_states - 1}), each asked once as a single question")
    axis.set_ylabel("voice (persona · template · wording)")
    axis.set_title("Each voice's P(right) in every text state (the probes; blank: no readable answer)")
    fig.tight_layout()
    return fig


def action_tables(result: ChapterResult, columns: int = 2) -> Figure:
    """The rollouts' share of pushes to the right in every text state, for the main voices (and the 2023 run)."""
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
    fig.suptitle(f"Rollouts: each teacher's action table over the {STUDY_2023.n_states} text states "
                 "(blank: never there)")
    fig.tight_layout()
    return fig


def contrasts(result: ChapterResult) -> Figure:
    """Persona against wording, per template and pooled, with 95% CIs over text states."""
    rows = []
    for name, contrast in result.figures["contrasts"].items():
        rows += [(f"{name}: {template}", estimate, False) for template, estimate in contrast.per_template.items()]
        rows.append((f"{name}: pooled over templates", contrast.pooled, True))
    rows.reverse()  # the first on top
    fig, axis = plt.subplots(figsize=(10, 0.5 * len(rows) + 1.8))
    for row, (_, estimate, pooled) in enumerate(rows):
        axis.errorbar(estimate.value, row, xerr=[[estimate.value - estimate.low], [estimate.high - estimate.value]],
                      fmt="D" if pooled else "o", color=PERSONA_COLOUR if pooled else WORDING_COLOUR, capsize=3)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_yticks(range(len(rows)), [label for label, _, _ in rows])
    axis.set_xlabel("d(persona·w1, other·w2) − d(persona·w1, persona·w2): mean |ΔP(right)| over text states")
    axis.set_title("Persona against wording, like with like within a template (95% CI over text states)")
    fig.tight_layout()
    return fig


def power(result: ChapterResult) -> Figure:
    """The behaviour test's power against a synthetic teacher, and where Newton's measured effect lies."""
    found, newton = result.figures["power"]["power"], result.figures["power"]["newton"]
    shares = [row["strength"] for row in found.curve]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.6))
    left.errorbar(shares, [row["power"] for row in found.curve],
                  yerr=[[row["power"] - row["power_low"] for row in found.curve],
                        [row["power_high"] - row["power"] for row in found.curve]],
                  fmt="o-", color=SYNTHETIC_COLOUR, capsize=3)
    left.axhline(POWER, color="black", linestyle=":", linewidth=1)
    if np.isfinite(found.min_detectable):
        left.axvline(found.min_detectable, color=SYNTHETIC_COLOUR, linestyle="--", linewidth=1,
                     label=f"smallest share detected with {POWER:.0%} power: {found.min_detectable:g}")
        left.legend(loc="lower right", fontsize=8)
    left.set_ylim(-0.02, 1.02)
    left.set_xlabel("share of text states where the synthetic teacher turns the control's answer")
    left.set_ylabel(f"power (share of {found.replicates} synthetic teachers detected; Wilson 95% CI)")
    left.set_title("Power of the persona test (synthetic teacher: a positive control, not a chatbot)", fontsize=10)
    right.plot(shares, [row["effect"] for row in found.curve], "o-", color=SYNTHETIC_COLOUR,
               label="synthetic teacher's mean contrast")
    right.axhspan(newton.low, newton.high, color=PERSONA_COLOUR, alpha=0.2)
    right.axhline(newton.value, color=PERSONA_COLOUR, label="the chatbot's Newton, measured (95% CI over text states)")
    right.set_xlabel("share of text states where the synthetic teacher turns the control's answer")
    right.set_ylabel("persona-minus-wording contrast (mean |ΔP(right)|)")
    right.set_title("Newton's measured effect on the synthetic teacher's scale", fontsize=10)
    right.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def habits(result: ChapterResult) -> Figure:
    """For each voice, the share of text states where its decision is the neutral control's (same template
    and wording)."""
    found = list(reversed(result.figures["habits"].items()))
    fig, axis = plt.subplots(figsize=(9, 0.45 * len(found) + 1.5))
    for row, (name, share) in enumerate(found):
        axis.errorbar(share.value, row, xerr=[[share.value - share.low], [share.high - share.value]], fmt="o",
                      color=PERSONA_COLOUR, capsize=3)
    axis.set_yticks(range(len(found)), [name for name, _ in found])
    axis.set_xlim(0, 1.02)
    axis.set_xlabel("share of text states where its decision is the neutral control's (Wilson 95% CI over states)")
    axis.set_title("Generic-habit control: how much of each voice is the chatbot's neutral habit")
    fig.tight_layout()
    return fig


def episode_animation(result: ChapterResult) -> Image:
    """Newton's (you-are, wording 1) longest episode as a GIF, every second frame (the decision frames)."""
    shown = result.figures["animation"]
    return Image(data=animated_episode(shown["episodes"], episode=shown["episode"], title=shown["teacher"][:40]),
                 format="gif")
