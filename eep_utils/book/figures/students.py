"""Chapter 04's figures: the 2023 table reproduced, teachers' and students' returns, DAgger's iterations, one
student's episode. Drawn to the book's figure rules (`eep_utils.book.style`): at most the column's width, no
text under 10 pt, constrained layout, estimates as dots with their intervals; each title states the message,
chosen by the numbers it draws."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from eep_utils.book.style import DOT_COLOUR, dot_plot, figure_size
from eep_utils.cartpole.behaviour import episode_animation
from eep_utils.experiments.base import ChapterResult

TEACHER_COLOUR, STUDENT_COLOUR = "tab:red", DOT_COLOUR
# The three ways the 2023 agents are scored: the 2023 score files, played here, replayed as the 2023 script did.
ORIGIN_COLOURS = {"2023 score file": "tab:orange", "played here": DOT_COLOUR, "replayed as in 2023": "tab:green"}
ROW_HEIGHT = 0.034  # of the wide figure's width, per row of dots


def reproduction(result: ChapterResult) -> Figure | None:
    """The published table reproduced: every agent's mean return with its 95% CI over episodes, coloured by
    where it was scored, the published mean as an open diamond (None without the 2023 recordings)."""
    if "reproduction" not in result.figures:
        return None
    data = result.figures["reproduction"]
    labels = [f"{agent} ({origin})" for agent, origin in zip(data["agent"], data["origin"])]
    fig, axis = plt.subplots(figsize=figure_size(ROW_HEIGHT * len(data) + 0.26, wide=True))
    dot_plot(axis, labels, data["mean"], data["ci_low"], data["ci_high"],
             colours=[ORIGIN_COLOURS.get(origin, DOT_COLOUR) for origin in data["origin"]],
             unit="mean return\n(frames survived; 95% CI over episodes)")
    published = data["published"].astype(float).to_numpy()
    rows = np.flatnonzero(np.isfinite(published))
    axis.scatter(published[rows], rows, marker="D", s=60, facecolors="none", edgecolors="black", zorder=4)
    handles = [Line2D([], [], color=colour, marker="o", linewidth=2.5, label=origin)
               for origin, colour in ORIGIN_COLOURS.items()]
    handles.append(Line2D([], [], color="black", marker="D", markerfacecolor="none", linestyle="", label="published"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    mean_of = {(a, o): m for a, o, m in zip(data["agent"], data["origin"], data["mean"])}
    aligned = mean_of.get(("XGBoost student, aligned pairs", "played here"), np.nan)
    as_2023 = mean_of.get(("XGBoost student retrained as in 2023", "played here"), np.nan)
    fig.suptitle("Correctly paired, the 2023 recipe survives longer\nthan on its published arrays"
                   if aligned > as_2023 else "The 2023 recipe does no better\non correctly paired frames")
    return fig


def returns(result: ChapterResult) -> Figure:
    """Each teacher's mean return and its XGBoost student's, with 95% CIs (a teacher's over the distinct prompt
    sequences its episodes replay, a student's over its episodes); every other student is in the appendix."""
    data = result.figures["returns"]
    data = data[data["who"].isin(["teacher", "xgboost"])]
    fig, axis = plt.subplots(figsize=figure_size(ROW_HEIGHT * len(data) + 0.12, wide=True))
    teacher = (data["who"] == "teacher").to_numpy()
    dot_plot(axis, data["label"].tolist(), data["mean"], data["ci_low"], data["ci_high"],
             colours=np.where(teacher, TEACHER_COLOUR, STUDENT_COLOUR).tolist(),
             unit="mean return (frames survived); 95% CI over distinct prompt\n"
                  "sequences (teachers, red) or over episodes (students, blue)")
    teacher_low = data[teacher].set_index("teacher")["ci_low"]
    xgboost = data[data["who"] == "xgboost"]
    keep = bool((xgboost["mean"].to_numpy() >= teacher_low.loc[xgboost["teacher"]].to_numpy()).all())
    fig.suptitle("Every teacher's XGBoost student survives\nabout as long as its teacher, or longer" if keep else
                   "Not every XGBoost student survives\nas long as its teacher")
    return fig


def dagger(result: ChapterResult) -> Figure | None:
    """Return and fidelity per DAgger iteration, one line per persona (None where DAgger did not run)."""
    histories = result.figures["dagger"]["histories"]
    if not histories:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=figure_size(0.45, wide=True))
    for persona, h in histories.items():
        left.errorbar(h.iteration, h.return_mean,
                      yerr=[h.return_mean - h.return_ci_low, h.return_ci_high - h.return_mean], marker="o",
                      capsize=3, label=persona)
        right.plot(h.iteration, 100 * h.fidelity_mean, marker="o", label=persona)
    iterations = int(max(h.iteration.max() for h in histories.values()))
    for axis in (left, right):
        axis.set_xticks(range(iterations + 1))
        axis.set_xlabel("DAgger iteration\n(0: behaviour cloning)")
    left.set_ylabel("mean return (frames)\n95% CI over episodes")
    right.set_ylabel("agreement with the teacher\non own states (%)")
    left.set_title("Return")
    right.set_title("Fidelity")
    right.legend()
    change = {name: _direction(np.mean([h[column].iloc[-1] - h[column].iloc[0] for h in histories.values()]))
              for name, column in (("return", "return_mean"), ("fidelity", "fidelity_mean"))}
    fig.suptitle(f"Asking the teacher about the student's own states\n{change['fidelity']} fidelity and "
                 f"{change['return']} return (mean change over personas)")
    return fig


def _direction(change: float) -> str:
    return "raises" if change > 0 else "lowers" if change < 0 else "leaves unchanged" if change == 0 else "changes"


def student_episode(result: ChapterResult) -> Image:
    """The student's longest episode as CartPole renders it (an animated GIF)."""
    shown = result.figures["student_episode"]
    return Image(data=episode_animation(shown["episode"], 0, title=shown["title"]), format="gif")
