"""Chapter 05's figures, drawn from `eep_utils.experiments.ellm.run`'s result (its `figures` data)."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from eep_utils.experiments.base import ChapterResult


def trajectories(result: ChapterResult) -> Figure:
    """Cumulative R_int per episode started, along each agent's trajectories (Newton's goals, calibrated T)."""
    data = result.figures["trajectories"]
    fig, axis = plt.subplots(figsize=(8, 4))
    for agent, curve in data["cumulative"].groupby("agent", sort=False):
        axis.plot(curve["frame"], curve["cumulative R_int"], label=agent)
    axis.set_xlabel(f"frame of the episode (a decision every {data['hold']} frames)")
    axis.set_ylabel("cumulative R_int per episode started")
    axis.set_title(f"R_int along trajectories (Newton's goals, T = {data['threshold']:.3f})\n"
                   f"goals: {data['teacher']}", fontsize=10)
    axis.legend(fontsize=8)
    fig.tight_layout()
    return fig


def threshold_sweep(result: ChapterResult) -> Figure:
    """What the threshold T and the number of goals k do to R_int: decisions rewarded, its correlation with
    the frames remaining (all agents pooled), and whose trajectories collect it (at the largest k)."""
    data = result.figures["sweep"]
    sweep, k = data["sweep"], data["k"]
    fig = plt.figure(figsize=(9, 7.5))
    grid = fig.add_gridspec(2, 2)
    rewarded, correlation = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    collected = fig.add_subplot(grid[1, :])
    for k_goals, rows in sweep[sweep["agent"] == "all"].groupby("k"):
        rewarded.plot(rows["threshold"], 100 * rows["share_rewarded"], marker="o", label=f"k = {k_goals}")
        correlation.plot(rows["threshold"], rows["spearman_remaining"], marker="o", label=f"k = {k_goals}")
    by_agent = sweep[(sweep["agent"] != "all") & (sweep["k"] == k)]
    for agent, rows in by_agent.groupby("agent", sort=False):
        collected.plot(rows["threshold"], rows["reward_per_episode"], marker="o", label=agent)
    rewarded.set_ylabel("decisions rewarded (%)")
    correlation.set_ylabel("Spearman ρ, R_int vs frames remaining")
    correlation.axhline(0, color="grey", linewidth=0.8)
    collected.set_ylabel(f"R_int per episode (k = {k})")
    for axis in (rewarded, correlation, collected):
        axis.set_xlabel("threshold T (cosine similarity)")
        axis.legend(fontsize=8)
    fig.suptitle(f"ELLM's threshold T and number of goals k\n(Newton's goals from {data['teacher']})", fontsize=11)
    fig.tight_layout()
    return fig


def training(result: ChapterResult) -> Figure:
    """Each R_int learner's training: the R_int it learns from, and the frames it survives (never seen by it)."""
    data = result.figures["training"]
    fig, axes = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for name, history in data["histories"].items():
        axes[0].plot(history["episodes"], history["intrinsic_return"], label=name)
        axes[1].plot(history["episodes"], history["frames"], label=name)
    axes[0].set_ylabel("R_int per episode\n(what it learns from)")
    axes[1].set_ylabel("frames per episode\n(never seen by it)")
    axes[1].set_xlabel("training episodes (exploring)")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"Training on R_int alone (goals from {data['teacher']})", fontsize=11)
    fig.tight_layout()
    return fig
