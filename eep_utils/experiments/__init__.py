"""The book's experiments, one per chapter: typed parameters in (`params`), one `ChapterResult` out (`base`).

embodiment   01: what the text channel allows on CartPole (lookup tables, the random walk)
teachers     02: the chatbot's personas drive CartPole through text; persona against wording
baselines    03: policies without a chatbot, on the random walk's starting states
students     04: students that imitate the teachers (and the 2023 student, re-examined)
ellm         05: ELLM-style rewards from the chatbot's goals
personality  06: the game of personality: judges, pixel students, the persona × persona matrix
rerun        07: what re-running the book with another chatbot asks, counted by running it
"""

import importlib
from types import ModuleType

# Each chapter's experiment module, by notebook name (imported when asked for: the build checks parameters
# without loading the numerical libraries).
EXPERIMENTS = {"01_embodiment": "embodiment", "02_teacher_rollouts": "teachers", "03_baselines": "baselines",
               "04_students": "students", "05_ellm_rewards": "ellm", "06_personality": "personality",
               "07_rerun": "rerun"}


def experiment(chapter: str) -> ModuleType:
    """The experiment module of a chapter (its `run`)."""
    return importlib.import_module(f"eep_utils.experiments.{EXPERIMENTS[chapter]}")
