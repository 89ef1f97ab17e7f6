"""Chapter 01's figures, drawn from `experiments.embodiment.run`'s result."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from eep_utils.cartpole.embodiment import render_frame
from eep_utils.experiments.base import ChapterResult


def what_the_chatbot_sees(result: ChapterResult) -> Figure:
    """Frames of one random-walk episode as CartPole renders them, each above the text the chatbot reads."""
    data = result.figures["what the chatbot sees"]
    fig, axes = plt.subplots(1, len(data["decisions"]), figsize=(12, 3.6))
    for axis, decision, observation, text in zip(np.atleast_1d(axes), data["decisions"], data["observations"],
                                                  data["descriptions"]):
        axis.imshow(render_frame(observation))
        axis.set_title(f"decision {decision} (frame {decision * data['hold']})", fontsize=10)
        axis.set_xticks([]), axis.set_yticks([])
        axis.set_xlabel(text, fontsize=8, family="monospace")
    fig.suptitle("A random-walk episode as a camera and as the chatbot see it")
    fig.tight_layout()
    return fig


def text_states_met(result: ChapterResult) -> Figure:
    """The most frequent text states at decision frames, for each driver."""
    data = result.figures["text states met"]
    fig, axes = plt.subplots(1, len(data["occupancy"]), figsize=(12, 4.5), sharey=True)
    for axis, (who, table) in zip(np.atleast_1d(axes), data["occupancy"].items()):
        axis.barh(table["description"][::-1], 100 * table["share"][::-1], color="tab:blue")
        axis.set_title(f"{who}: {data['distinct'][who]} of {data['n_states']} states met")
        axis.set_xlabel("share of decisions (%)")
    np.atleast_1d(axes)[0].set_ylabel("text state (position, velocity, angular velocity, angle)")
    shown = max(len(table) for table in data["occupancy"].values())
    fig.suptitle(f"The {shown} most frequent text states at decision frames ({data['projection']})")
    fig.tight_layout()
    return fig


def search_progress(result: ChapterResult) -> Figure:
    """The population's mean return at each iteration of the cross-entropy search, per projection."""
    data = result.figures["search"]
    fig, axis = plt.subplots(figsize=(7, 4))
    for name, scores in data["mean_scores"].items():
        axis.plot(range(1, len(scores) + 1), scores, marker="o", label=f"{name}: population mean")
    axis.set_xlabel("cross-entropy iteration")
    axis.set_ylabel(f"mean return over {data['cem_episodes']} episodes (frames)")
    axis.set_title("Searching lookup tables over text states")
    axis.legend()
    fig.tight_layout()
    return fig


def returns(result: ChapterResult) -> Figure:
    """Every policy's mean return on the same episodes, with its 95% CI."""
    data = result.figures["returns"]
    estimates = data["estimates"]
    names = list(estimates)[::-1]  # the first policy on top
    fig, axis = plt.subplots(figsize=(8, 4.5))
    axis.barh(names, [estimates[n].value for n in names],
              xerr=[[estimates[n].value - estimates[n].low for n in names],
                    [estimates[n].high - estimates[n].value for n in names]],
              color="tab:green", capsize=3)
    axis.set_xlabel(f"mean return (frames survived, max {data['max_return']}), 95% CI, "
                    f"{data['eval_episodes']} episodes each")
    axis.set_title(f"What the text channel allows: one decision every {data['hold']} frames")
    fig.tight_layout()
    return fig
