"""Chapter 04's figures: teachers' and students' returns, DAgger's iterations, one student's episode."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image

from eep_utils.cartpole.behaviour import episode_animation
from eep_utils.experiments.base import ChapterResult

TEACHER_COLOUR, STUDENT_COLOUR = "tab:red", "tab:blue"
LEGEND_LABEL_LENGTH = 28  # characters of a teacher's label in the DAgger legend


def returns(result: ChapterResult) -> plt.Figure:
    """Each teacher's mean return and its students', with 95% CIs (a teacher's over the distinct prompt
    sequences its episodes replay, a student's over its episodes), on a log scale (returns span 10-500)."""
    data = result.figures["returns"].iloc[::-1]  # barh draws from the bottom: the first teacher on top
    n_students = int((data["who"] != "teacher").sum())
    fig, axis = plt.subplots(figsize=(10, 0.5 * n_students + 1.5))
    errors = np.array([data["mean"] - data["ci_low"], data["ci_high"] - data["mean"]])
    colours = np.where(data["who"] == "teacher", TEACHER_COLOUR, STUDENT_COLOUR)
    axis.barh(data["label"], data["mean"], xerr=errors, color=colours, capsize=2)
    axis.set_xscale("log")
    axis.set_xlabel("mean return (frames survived, log scale); 95% CI over distinct prompt sequences "
                    "(teachers) or episodes (students)")
    axis.set_title("Teachers (red) and their students (blue)")
    fig.tight_layout()
    return fig


def dagger(result: ChapterResult) -> plt.Figure | None:
    """Return and fidelity per DAgger iteration, one line per persona (None where DAgger did not run)."""
    histories, teachers = result.figures["dagger"]["histories"], result.figures["dagger"]["teachers"]
    if not histories:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    for persona, h in histories.items():
        left.errorbar(h.iteration, h.return_mean,
                      yerr=[h.return_mean - h.return_ci_low, h.return_ci_high - h.return_mean], marker="o",
                      capsize=3, label=f"{persona} ({teachers[persona][:LEGEND_LABEL_LENGTH]}…)")
        right.plot(h.iteration, 100 * h.fidelity_mean, marker="o", label=persona)
    left.set(xlabel="DAgger iteration (0 = behaviour cloning)", ylabel="mean return (frames), 95% CI over episodes",
             title="Student return per DAgger iteration")
    right.set(xlabel="DAgger iteration", ylabel="agreement on own states (%)", title="Fidelity per DAgger iteration")
    left.legend(fontsize=8)
    fig.tight_layout()
    return fig


def student_episode(result: ChapterResult) -> Image:
    """The student's longest episode as CartPole renders it (an animated GIF)."""
    shown = result.figures["student_episode"]
    return Image(data=episode_animation(shown["episode"], 0, title=shown["title"]), format="gif")
