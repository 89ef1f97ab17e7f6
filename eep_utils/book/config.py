"""The book's one parameter file, notebooks/parameters.yaml, read and checked as the build's plan.

The whole plan is checked before the first notebook runs (`eep_utils.experiments.params`): a malformed
file, an unknown or missing key, a value of the wrong type or an impossible one stops the build with a
message naming the notebook, the key and what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eep_utils.experiments.params import MODES, ParameterError, checked, read_parameter_file
from eep_utils.paths import ROOT

NOTEBOOKS = ROOT / "notebooks"
PARAMETERS_FILE = NOTEBOOKS / "parameters.yaml"
ConfigError = ParameterError  # the build's name for it

__all__ = ["MODES", "ROOT", "ConfigError", "NotebookPlan", "load_plan"]


@dataclass(frozen=True)
class NotebookPlan:
    name: str
    parameters: dict
    source: Path


def load_plan(mode: str, path: Path = PARAMETERS_FILE) -> list[NotebookPlan]:
    """The notebooks to run, in order, each with its checked parameters for `mode`."""
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES}, not {mode!r}")
    plans = []
    for name, settings in read_parameter_file(path).items():
        params = checked(name, mode, settings, path)
        plan = NotebookPlan(name, vars(params).copy(), Path(path).parent / f"{name}.md")
        if not plan.source.exists():
            raise ConfigError(f"{path}: notebooks.{name} names {plan.source}, which does not exist")
        plans.append(plan)
    return plans
