"""Every chapter's parameters, typed and checked before anything runs.

Each chapter's papermill parameters are the fields of one frozen dataclass here; notebooks/parameters.yaml
gives every field's value for the quick and the full book, and each notebook's `parameters` cell holds
the quick values as its defaults (a test checks that they agree). `check_parameters` refuses an unknown
key, a missing one, a value of the wrong type and an impossible value (a negative count, a fraction
outside 0–1, a persona the registry does not know), naming the notebook, the key and what is allowed.

This module is light on purpose (no numerical or model libraries): the build checks the whole plan
with it in well under a second, before the first notebook starts.
"""
from __future__ import annotations

import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

from eep_utils.chat.teachers import TEACHER_SETTINGS
from eep_utils.personas import CARTPOLE_PERSONAS, JUDGE_PERSONAS, MAIN_TEMPLATES


class ParameterError(ValueError):
    """A chapter's parameters cannot be used as given; the message names the notebook, the key and the fix."""


def at_least(minimum: float, **metadata) -> Any:
    """A field whose value (each value, for a list) must be at least `minimum`."""
    return field(metadata={"minimum": minimum, **metadata})


def between(low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> Any:
    """A field in [low, high] (an open end excludes its bound)."""
    return field(metadata={"minimum": low, "maximum": high, "open_low": open_low, "open_high": open_high})


def one_of(*choices) -> Any:
    """A field (or each item of a list field) that must be one of `choices`."""
    return field(metadata={"choices": choices})


def personas_field() -> Any:
    """A non-empty list of keys of the CartPole personas (`eep_utils.personas.CARTPOLE_PERSONAS`)."""
    return field(metadata={"choices": CARTPOLE_PERSONAS, "non_empty": True})


Teacher = Literal[TEACHER_SETTINGS]  # type: ignore[valid-type]


@dataclass(frozen=True)
class ChapterParams:
    """The field every chapter has: whether this is the quick book (small sizes, not for citation)."""

    quick: bool

    @classmethod
    def check(cls, values: dict, where: str = "") -> "ChapterParams":
        """These parameters, after checking every value (see the module docstring)."""
        where = where or cls.__name__
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ParameterError(f"{where}: unknown parameter(s) {unknown}; this chapter takes "
                                 f"{', '.join(sorted(known))}")
        missing = sorted(name for name in known if name not in values)
        if missing:
            raise ParameterError(f"{where}: missing parameter(s) {missing}; give each in notebooks/parameters.yaml")
        hints = typing.get_type_hints(cls)
        for name, spec in known.items():
            _check_value(f"{where}: {name}", values[name], hints[name], spec.metadata)
        return cls(**{name: values[name] for name in known})

    @classmethod
    def from_notebook(cls, namespace: dict) -> "ChapterParams":
        """The parameters a notebook's `parameters` cell (or papermill) set, checked."""
        return cls.check({f.name: namespace[f.name] for f in fields(cls) if f.name in namespace},
                         where=f"the parameters cell of this notebook ({cls.__name__})")

    def replace(self, **changes) -> "ChapterParams":
        """The same parameters with some changed, checked again."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return type(self).check({**values, **changes})


def _describe(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(annotation)))
    if origin is list:
        return f"a list of {_describe(typing.get_args(annotation)[0])}"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "text"}.get(annotation, str(annotation))


def _type_ok(value, annotation) -> bool:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return value in typing.get_args(annotation)
    if origin is list:
        return isinstance(value, list) and all(_type_ok(v, typing.get_args(annotation)[0]) for v in value)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _check_value(where: str, value, annotation, metadata) -> None:
    if not _type_ok(value, annotation):
        raise ParameterError(f"{where} is {value!r}; it must be {_describe(annotation)}")
    items = value if isinstance(value, list) else [value]
    if metadata.get("non_empty") and not items:
        raise ParameterError(f"{where} is empty; give at least one value")
    choices = metadata.get("choices")
    for item in items:
        if choices is not None and item not in choices:
            raise ParameterError(f"{where}: {item!r} is not allowed; allowed: {', '.join(map(str, choices))}")
        low, high = metadata.get("minimum"), metadata.get("maximum")
        too_low = low is not None and (item <= low if metadata.get("open_low") else item < low)
        too_high = high is not None and (item >= high if metadata.get("open_high") else item > high)
        if too_low or too_high:
            low_text = "" if low is None else f"{'above' if metadata.get('open_low') else 'at least'} {low}"
            high_text = "" if high is None else f"{'below' if metadata.get('open_high') else 'at most'} {high}"
            raise ParameterError(f"{where} is {item!r}; it must be {' and '.join(filter(None, (low_text, high_text)))}")


# --- The chapters' parameters -------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbodimentParams(ChapterParams):
    seed: int = at_least(0)
    eval_episodes: int = at_least(1)
    cem_iterations: int = at_least(1)
    cem_population: int = at_least(2)
    cem_episodes: int = at_least(1)


@dataclass(frozen=True)
class TeacherRolloutsParams(ChapterParams):
    seed: int = at_least(0)
    teacher: Teacher = one_of(*TEACHER_SETTINGS)
    personas: list[str] = personas_field()
    # Every persona in every one of these templates and in both wordings (eep_utils.personas).
    templates: list[str] = field(metadata={"choices": MAIN_TEMPLATES, "non_empty": True})
    protocol: Literal["bounded", "study2023"] = one_of("bounded", "study2023")
    history_turns: int = at_least(0)
    max_in_flight: int = at_least(1)
    n_episodes: int = at_least(2)
    n_resamples: int = at_least(1)  # bootstrap resamples (over text states, or clusters of episodes)
    n_permutations: int = at_least(1)  # relabellings in the persona test
    power_shares: list[float] = between(0, 1)  # shares of text states in which the synthetic teacher deviates
    power_replicates: int = at_least(1)  # synthetic teachers per share, each with its own seed

    def __post_init__(self):
        if len(set(self.personas)) < len(self.personas) or len(set(self.templates)) < len(self.templates):
            raise ParameterError(f"TeacherRolloutsParams: personas {self.personas} and templates {self.templates} "
                                 "must name each one once")
        if not self.power_shares or list(self.power_shares) != sorted(set(self.power_shares)):
            raise ParameterError(f"TeacherRolloutsParams: power_shares {self.power_shares} must be increasing, "
                                 "e.g. [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]")


@dataclass(frozen=True)
class BaselinesParams(ChapterParams):
    seed: int = at_least(0)
    replay_frames: int = at_least(0)


@dataclass(frozen=True)
class StudentsParams(ChapterParams):
    seed: int = at_least(0)
    teacher: Teacher = one_of(*TEACHER_SETTINGS)
    personas: list[str] = personas_field()
    validation_fraction: float = between(0, 1, open_low=True, open_high=True)
    eval_episodes: int = at_least(2)
    reproduction_episodes: int = at_least(2)
    replay_frames: int = at_least(0)
    dagger_iterations: int = at_least(0)
    dagger_rollout_episodes: int = at_least(1)
    dagger_max_labels: int = at_least(1)
    tune: bool = field(default=MISSING)


@dataclass(frozen=True)
class EllmParams(ChapterParams):
    seed: int = at_least(0)
    teacher: Teacher = one_of(*TEACHER_SETTINGS)
    embeddings: Literal["auto", "minilm", "api"] = one_of("auto", "minilm", "api")
    personas: list[str] = personas_field()
    # Every persona is asked in every template and wording; the goals of the first template and wording
    # become rewards, the others measure how much the goals change with the wording.
    templates: list[str] = field(metadata={"choices": MAIN_TEMPLATES, "non_empty": True})
    wordings: list[int] = field(metadata={"choices": (1, 2), "non_empty": True})
    worked_examples: int = at_least(0)  # worked exchanges shown per goal question (0: none)
    k: int = at_least(1)
    ellm_threshold: float = between(0, 1, open_low=True)
    reward_share: float = between(0, 1, open_low=True, open_high=True)
    sweep_thresholds: list[float] = between(0, 1, open_low=True)
    sweep_ks: list[int] = at_least(1)
    trajectory_episodes: int = at_least(2)
    eval_episodes: int = at_least(2)
    train_episodes: int = at_least(1)
    bootstrap_resamples: int = at_least(1)


@dataclass(frozen=True)
class PersonalityParams(ChapterParams):
    seed: int = at_least(0)
    teacher: Teacher = one_of(*TEACHER_SETTINGS)
    # The judges: these personas (each with a taste) and the neutral control, in every main template and wording.
    personas: list[str] = field(metadata={"choices": JUDGE_PERSONAS, "non_empty": True})
    test_fraction: float = between(0, 1, open_low=True, open_high=True)
    gallery_size: int = at_least(0)
    max_in_flight: int = at_least(1)
    image_folder: str = field(default=MISSING)
    n_creatures: int = at_least(10)
    n_search: int = at_least(5)  # pictures judged in the search templates (the first ones)
    n_unconstrained: int = at_least(0)
    n_splits: int = at_least(1)  # train/test splits, each with its own seed for the split and its students
    n_resamples: int = at_least(1)
    n_shuffles: int = at_least(1)
    power_strengths: list[float] = between(0, 1)  # the synthetic taste's strengths s tried
    power_replicates: int = at_least(1)  # synthetic experiments per strength, each with its own seed

    def __post_init__(self):
        tasteful = [key for key in self.personas if key != "no_persona"]
        if "no_persona" not in self.personas or len(tasteful) < 2 or len(set(self.personas)) < len(self.personas):
            raise ParameterError(f"PersonalityParams: personas {self.personas} must name the control no_persona and "
                                 "at least two personas with a taste, each once (e.g. [five_year_old, herpetologist, "
                                 "no_persona])")


@dataclass(frozen=True)
class RerunParams(ChapterParams):
    price_per_million_prompt_tokens: float = at_least(0)
    price_per_million_completion_tokens: float = at_least(0)


@dataclass(frozen=True)
class SummaryParams(ChapterParams):
    """The introduction and the appendix: they read the chapters' results and take only the mode."""


# The notebook each parameter type belongs to, in the book's order of execution (notebooks/parameters.yaml).
PARAMETERS = {
    "01_embodiment": EmbodimentParams,
    "02_teacher_rollouts": TeacherRolloutsParams,
    "03_baselines": BaselinesParams,
    "04_students": StudentsParams,
    "05_ellm_rewards": EllmParams,
    "06_personality": PersonalityParams,
    "07_rerun": RerunParams,
    "08_appendix": SummaryParams,
    "00_introduction": SummaryParams,
}


# --- The parameter file ---------------------------------------------------------------------------------

MODES = ("quick", "full")


def parameter_file():
    from eep_utils.paths import ROOT

    return ROOT / "notebooks" / "parameters.yaml"


def read_parameter_file(path=None) -> dict[str, dict]:
    """notebook name -> {"common": …, "quick": …, "full": …}, as notebooks/parameters.yaml gives them."""
    import yaml

    path = path or parameter_file()
    try:
        document = yaml.safe_load(open(path).read())
    except FileNotFoundError:
        raise ParameterError(f"{path} is missing: restore it from git (`git checkout -- {path}`)") from None
    except yaml.YAMLError as error:
        raise ParameterError(f"{path} is not valid YAML: {error}. Fix the line it names.") from None
    if not isinstance(document, dict) or not isinstance(document.get("notebooks"), dict):
        raise ParameterError(f"{path} must have a top-level mapping `notebooks:` of notebook name → settings")
    return document["notebooks"]


def values_for(notebook: str, mode: str, settings: dict, path="notebooks/parameters.yaml") -> dict:
    """A notebook's parameter values in `mode`: its `common` values, overridden by its mode's."""
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {MODES}, not {mode!r}")
    where = f"{path}: notebooks.{notebook}"
    if not isinstance(settings, dict):
        raise ParameterError(f"{where} must be a mapping with `common`, `quick` and `full` keys")
    unknown = set(settings) - {"common", *MODES}
    if unknown:
        raise ParameterError(f"{where} has unknown keys {sorted(unknown)}; allowed: common, quick, full")
    merged = {}
    for part in ("common", mode):
        values = settings.get(part) or {}
        if not isinstance(values, dict):
            raise ParameterError(f"{where}.{part} must be a mapping of parameter → value, got {values!r}")
        merged.update(values)
    return merged


def checked(notebook: str, mode: str, settings: dict, path="notebooks/parameters.yaml") -> ChapterParams:
    """A notebook's parameters in `mode`, checked against its chapter's type."""
    if notebook not in PARAMETERS:
        raise ParameterError(f"{path} names notebook {notebook!r}, which the book does not know; "
                             f"known: {', '.join(PARAMETERS)}")
    return PARAMETERS[notebook].check(values_for(notebook, mode, settings, path),
                                      where=f"{path}: notebooks.{notebook} ({mode} mode)")


def params_for(notebook: str, quick: bool) -> ChapterParams:
    """A chapter's parameters for the quick or the full book, as notebooks/parameters.yaml sets them
    (a chapter that needs an earlier chapter's result and finds none runs that chapter at these sizes)."""
    path = parameter_file()
    return checked(notebook, "quick" if quick else "full", read_parameter_file(path).get(notebook), path)
