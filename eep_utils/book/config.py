"""The book's one parameter file, notebooks/parameters.yaml, read and checked.

A malformed file stops the build before anything runs, with a message that names the file, the
place and what to write instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from eep_utils.paths import ROOT

NOTEBOOKS = ROOT / "notebooks"
PARAMETERS_FILE = NOTEBOOKS / "parameters.yaml"
MODES = ("quick", "full")


class ConfigError(ValueError):
    """The parameter file cannot be used as written; the message says how to fix it."""


@dataclass(frozen=True)
class NotebookPlan:
    name: str
    parameters: dict
    source: Path


def load_plan(mode: str, path: Path = PARAMETERS_FILE) -> list[NotebookPlan]:
    """The notebooks to run, in order, each with its parameters for `mode`."""
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES}, not {mode!r}")
    try:
        document = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing: restore it from git (`git checkout -- {path}`)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}. Fix the line it names.") from None

    if not isinstance(document, dict) or not isinstance(document.get("notebooks"), dict):
        raise ConfigError(f"{path} must have a top-level mapping `notebooks:` of notebook name → settings")

    plans = []
    for name, settings in document["notebooks"].items():
        where = f"{path}: notebooks.{name}"
        if not isinstance(settings, dict):
            raise ConfigError(f"{where} must be a mapping with `common`, `quick` and `full` keys")
        unknown = set(settings) - {"common", *MODES}
        if unknown:
            raise ConfigError(f"{where} has unknown keys {sorted(unknown)}; allowed: common, quick, full")
        merged = {}
        for part in ("common", mode):
            values = settings.get(part) or {}
            if not isinstance(values, dict):
                raise ConfigError(f"{where}.{part} must be a mapping of parameter → value, got {values!r}")
            merged.update(values)
        plan = NotebookPlan(name, merged, Path(path).parent / f"{name}.md")
        if not plan.source.exists():
            raise ConfigError(f"{where} names {plan.source}, which does not exist")
        plans.append(plan)
    return plans
