"""Chapter 01's figures, drawn from `experiments.embodiment.run`'s result in the book's style
(`eep_utils.book.style`: sizes from `figure_size`, text no smaller than MIN_TEXT_PT, constrained layout)."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from eep_utils.book.style import DOT_COLOUR, MIN_TEXT_PT, annotated_matrix, dot_plot, figure_size
from eep_utils.cartpole.embodiment import REQUIREMENTS, render_frame
from eep_utils.experiments.base import ChapterResult
from eep_utils.experiments.embodiment import SEES, TOP

# What a policy sees, as a colour shared by chapters 01 and 03.
SEES_COLOURS = {"nothing": "0.5", "text": DOT_COLOUR, "the full state": "tab:purple"}


def candidates(result: ChapterResult) -> Figure:
    """Each candidate embodiment's score against each requirement (2 met, 1 partly, 0 not), with what it senses
    and does and its total in the row's label."""
    table = result.tables["candidates"]
    rows = [f"{name} ({row['total (of 10)']} of 10)\n{row['senses']} → {row['acts']}"
            for name, row in table.iterrows()]
    columns = [key.replace("_", "\n") for key in REQUIREMENTS]
    fig, axis = plt.subplots(figsize=figure_size(0.62, wide=True))
    annotated_matrix(axis, table[list(REQUIREMENTS)].to_numpy(), rows, columns, number_format="{:.0f}",
                     vmin=0, vmax=2)
    axis.xaxis.tick_top()
    axis.set_xlabel("requirement (2 met, 1 partly, 0 not)")
    axis.xaxis.set_label_position("top")
    fig.suptitle("Candidate bodies scored against the 2023 study's requirements")
    return fig


def what_the_chatbot_sees(result: ChapterResult) -> Figure:
    """Frames of one random-walk episode as CartPole renders them, each beside the text the chatbot reads."""
    data = result.figures["what the chatbot sees"]
    shown = len(data["decisions"])
    fig, axes = plt.subplots(shown, 2, figsize=figure_size(0.1 + 0.13 * shown, wide=True), squeeze=False)
    for (picture, words), decision, observation, text in zip(axes, data["decisions"], data["observations"],
                                                              data["descriptions"]):
        picture.imshow(render_frame(observation)[150:320])  # the band the cart and pole move in
        picture.set_xticks([]), picture.set_yticks([])
        picture.spines[:].set_visible(True)  # a frame around the camera's picture
        picture.set_ylabel(f"decision {decision}\n(frame {decision * data['hold']})", rotation=0, ha="right",
                           va="center")
        words.axis("off")
        words.text(0, 0.5, text, family="monospace", fontsize=MIN_TEXT_PT + 1, va="center",
                   transform=words.transAxes)
    axes[0, 0].set_title("what a camera sees", fontweight="normal")
    axes[0, 1].set_title("what the chatbot reads", fontweight="normal", loc="left")
    fig.suptitle("A random-walk episode as a camera sees it and as the chatbot reads it")
    return fig


def text_states_met(result: ChapterResult) -> Figure:
    """The most frequent text states at decision frames, one panel per driver, with the share of decisions
    each covers."""
    data = result.figures["text states met"]
    drivers = list(data["occupancy"])
    fig, axes = plt.subplots(len(drivers), 1, figsize=figure_size(0.33 * len(drivers), wide=True),
                             squeeze=False, sharex=True)
    for axis, who in zip(axes[:, 0], drivers):
        table = data["occupancy"][who].head(TOP)
        axis.barh(table["description"], 100 * table["share"], color=DOT_COLOUR)
        axis.invert_yaxis()  # the most frequent on top
        axis.set_title(f"{who}: {data['distinct'][who]} of {data['n_states']} states met", loc="left")
        # The short bars at the bottom leave this corner free.
        axis.text(0.98, 0.05, f"these {len(table)} states cover\n{100 * table['share'].sum():.0f}% of its decisions",
                  ha="right", va="bottom", transform=axis.transAxes)
        axis.tick_params(axis="y", length=0)
        axis.grid(axis="x")
    axes[-1, 0].set_xlabel("share of decisions (%)")
    fig.supylabel("text state (position, velocity, angular velocity, angle)", fontsize=MIN_TEXT_PT + 1)
    fig.suptitle(f"Who drives decides which text states a teacher meets ({data['projection']})")
    return fig


def search_progress(result: ChapterResult) -> Figure:
    """The population's mean return at each iteration of the cross-entropy search, per projection."""
    data = result.figures["search"]
    fig, axis = plt.subplots(figsize=figure_size(0.6))
    for name, scores in data["mean_scores"].items():
        axis.plot(range(1, len(scores) + 1), scores, marker="o", label=name)
    axis.set_xlabel("cross-entropy iteration")
    axis.set_ylabel("population's mean return (frames)")
    fig.suptitle(f"Cross-entropy search: every table scored on {data['cem_episodes']} episodes")
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.set_ylim(bottom=0)
    axis.grid(axis="y")
    axis.legend(title="text states", loc="lower right")
    return fig


def returns(result: ChapterResult) -> Figure:
    """Every policy's mean return on the same episodes, with its 95% CI, coloured by what it sees."""
    data = result.figures["returns"]
    estimates = data["estimates"]
    names = list(estimates)
    fig, axis = plt.subplots(figsize=figure_size(0.55, wide=True))
    dot_plot(axis, names, [estimates[n].value for n in names], [estimates[n].low for n in names],
             [estimates[n].high for n in names], colours=[SEES_COLOURS[SEES[n]] for n in names],
             unit=f"mean return (frames survived, max {data['max_return']})\n"
                  f"95% CI over {data['eval_episodes']} episodes")
    axis.set_xlim(0, data["max_return"] * 1.02)
    fig.suptitle(f"What the text channel allows: one decision every {data['hold']} frames")
    fig.legend(handles=[Line2D([], [], color=colour, marker="o", label=f"sees {what}")
                         for what, colour in SEES_COLOURS.items()], loc="outside lower center", ncols=3)
    return fig
