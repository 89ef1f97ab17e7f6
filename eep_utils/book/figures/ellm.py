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
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for k_goals, rows in sweep[sweep["agent"] == "all"].groupby("k"):
        axes[0].plot(rows["threshold"], 100 * rows["share_rewarded"], marker="o", label=f"k = {k_goals}")
        axes[1].plot(rows["threshold"], rows["spearman_remaining"], marker="o", label=f"k = {k_goals}")
    by_agent = sweep[(sweep["agent"] != "all") & (sweep["k"] == k)]
    for agent, rows in by_agent.groupby("agent", sort=False):
        axes[2].plot(rows["threshold"], rows["reward_per_episode"], marker="o", label=agent)
    axes[0].set_ylabel("decisions rewarded (%)")
    axes[1].set_ylabel("Spearman ρ, R_int vs frames remaining")
    axes[1].axhline(0, color="grey", linewidth=0.8)
    axes[2].set_ylabel(f"R_int per episode (k = {k})")
    for axis in axes:
        axis.set_xlabel("threshold T (cosine similarity)")
        axis.legend(fontsize=8)
    fig.suptitle(f"ELLM's threshold T and number of goals k (Newton's goals from {data['teacher']})", fontsize=10)
    fig.tight_layout()
    return fig


def training(result: ChapterResult) -> Figure:
    """Each R_int learner's training: the R_int it learns from, and the frames it survives (never seen by it)."""
    data = result.figures["training"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for name, history in data["histories"].items():
        axes[0].plot(history["episodes"], history["intrinsic_return"], label=name)
        axes[1].plot(history["episodes"], history["frames"], label=name)
    axes[0].set_ylabel("R_int per episode (what it learns from)")
    axes[1].set_ylabel("frames per episode (never seen by it)")
    for axis in axes:
        axis.set_xlabel("training episodes (exploring)")
    axes[1].legend(fontsize=7)
    fig.suptitle(f"Training on R_int alone (goals from {data['teacher']})", fontsize=10)
    fig.tight_layout()
    return fig
