"""Questionnaire files: load, validate and describe a questionnaire version.

The file format is public (see README, "Questionnaire format"). Shape and types are
checked by pydantic; the cross-field rules (unique codes, point sums, scale
references) are checked here. Every error names the file and the path of the bad
key, e.g. ``criteria[2].questions[1].points`` (indices count from 0).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from survey.text import Notice, Text

POINTS_TOLERANCE = 1e-9


class QuestionnaireError(ValueError):
    """A questionnaire file is malformed; `problems` lists (key path, message)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path or '(file)'}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


# --- file schema (pydantic) -------------------------------------------------------

LabelIn = str | dict[str, str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _label_ok(value: LabelIn | None) -> LabelIn | None:
    if value is None:
        return value
    if isinstance(value, dict):
        unknown = set(value) - {"vi", "en"}
        if unknown:
            raise ValueError(f"only 'vi' and 'en' are allowed, found {sorted(unknown)}")
        if not str(value.get("vi", "")).strip():
            raise ValueError("the Vietnamese text 'vi' is required")
    elif not value.strip():
        raise ValueError("must not be empty")
    return value


Label = Annotated[LabelIn, Field()]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.\-]+$")]


class OptionIn(_Strict):
    code: Code
    label: Label
    score: float | None = Field(ge=0.0, le=1.0)

    _check_label = field_validator("label")(_label_ok)


class GroupIn(_Strict):
    code: Code
    label: Label
    weight: float = Field(gt=0.0, allow_inf_nan=False)

    _check_label = field_validator("label")(_label_ok)


class QuestionIn(_Strict):
    code: Code
    text: Label
    scale: str
    points: float = Field(gt=0.0, allow_inf_nan=False)
    help: Label | None = None

    _check_text = field_validator("text", "help")(_label_ok)


class CriterionIn(_Strict):
    code: Code
    title: Label
    points: float = Field(ge=0.0, allow_inf_nan=False)
    questions: list[QuestionIn] = Field(min_length=1)

    _check_title = field_validator("title")(_label_ok)


class IndexIn(_Strict):
    label: Label | None = None
    scores: dict[Code, float | None] = Field(min_length=1)

    _check_label = field_validator("label")(_label_ok)

    @field_validator("scores", mode="before")
    @classmethod
    def _option_codes_as_text(cls, value: Any) -> Any:
        # `4: 1` written without quotes maps the option code "4".
        if isinstance(value, dict):
            flags = [str(k) for k, v in value.items() if isinstance(v, bool)]
            if flags:
                raise ValueError(f"option {', '.join(flags)}: a score fraction is a number in "
                                 "[0, 1] or null, not yes/no")
            return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v
                    for k, v in value.items()}
        return value

    @field_validator("scores")
    @classmethod
    def _fractions(cls, value: dict[str, float | None]) -> dict[str, float | None]:
        for code, fraction in value.items():
            if fraction is not None and not (math.isfinite(fraction) and 0.0 <= fraction <= 1.0):
                raise ValueError(f"option {code!r}: a score fraction must be in [0, 1] or null")
        return value


class QuestionnaireIn(_Strict):
    id: Code
    version: Code
    title: Label
    description: Label | None = None
    max_points: float = Field(gt=0.0, allow_inf_nan=False)
    scales: dict[Code, list[OptionIn]] = Field(min_length=1)
    groups: list[GroupIn] = Field(default_factory=list)
    criteria: list[CriterionIn] = Field(min_length=1)
    indices: dict[Code, IndexIn] = Field(default_factory=dict)

    _check_title = field_validator("title", "description")(_label_ok)

    @field_validator("indices", mode="before")
    @classmethod
    def _short_index_form(cls, value: Any) -> Any:
        # `name: {"4": 1, ...}` (the map alone) is short for `name: {scores: {"4": 1, ...}}`;
        # a list of `{code: name, label, scores}` (like groups and criteria) is the same map.
        if (isinstance(value, list) and value
                and all(isinstance(i, dict) and isinstance(i.get("code"), str) for i in value)
                and len({i["code"] for i in value}) == len(value)):
            value = {i["code"]: {k: v for k, v in i.items() if k != "code"} for i in value}
        if isinstance(value, dict):
            return {name: ({"scores": index} if isinstance(index, dict) and "scores" not in index
                           else index)
                    for name, index in value.items()}
        return value

    @field_validator("version", "id", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:
        # `version: 2024` written without quotes is still the version "2024".
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


# --- the loaded questionnaire ----------------------------------------------------


@dataclass(frozen=True)
class Option:
    code: str
    label: Text
    score: float | None  # fraction of the question's points; None = unscored


@dataclass(frozen=True)
class Scale:
    code: str
    options: tuple[Option, ...]

    def option(self, code: str) -> Option | None:
        return self._options_by_code.get(code)

    @cached_property
    def _options_by_code(self) -> dict[str, Option]:
        return {o.code: o for o in self.options}

    @property
    def has_unscored(self) -> bool:
        return any(o.score is None for o in self.options)


@dataclass(frozen=True)
class Question:
    code: str
    text: Text
    scale: str
    points: float
    criterion: str
    help: Text | None = None


@dataclass(frozen=True)
class Criterion:
    code: str
    title: Text
    points: float
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Group:
    code: str
    label: Text
    weight: float


@dataclass(frozen=True)
class Index:
    """Another way to score the same answers (SCORING.md, "Indices"): option code → fraction.

    An option code the map does not list is unscored for the index, like an explicit null.
    Every question counts equally within its criterion (p_q = P_k / |k|); the result is a share.
    """

    code: str
    label: Text
    scores: dict[str, float | None]

    def fraction(self, option_code: str) -> float | None:
        return self.scores.get(option_code)


@dataclass(frozen=True)
class Questionnaire:
    """One registered questionnaire version (family `id`, `version`)."""

    id: str
    version: str
    title: Text
    max_points: float
    scales: dict[str, Scale]
    groups: tuple[Group, ...]
    criteria: tuple[Criterion, ...]
    description: Text | None = None
    source_text: str = field(default="", repr=False, compare=False)
    indices: tuple[Index, ...] = ()

    def index(self, code: str) -> Index | None:
        return next((i for i in self.indices if i.code == code), None)

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    @cached_property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for c in self.criteria for q in c.questions)

    @cached_property
    def question_codes(self) -> tuple[str, ...]:
        return tuple(q.code for q in self.questions)

    def question(self, code: str) -> Question | None:
        return self._questions_by_code.get(code)

    @cached_property
    def _questions_by_code(self) -> dict[str, Question]:
        return {q.code: q for q in self.questions}

    def scale_of(self, question_code: str) -> Scale:
        return self.scales[self._questions_by_code[question_code].scale]

    def group(self, code: str) -> Group | None:
        return next((g for g in self.groups if g.code == code), None)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()

    def differs_only_in_indices(self, other: Questionnaire) -> bool:
        """True when `other` is this version with other indices (and/or other comments or
        layout): the answers, the points and every text are the same, so responses already
        stored keep their meaning and their points; only the derived shares change."""
        return (self.key == other.key and replace(self, indices=()) == replace(other, indices=()))

    def structure(self) -> tuple[tuple[str, float], ...]:
        """Criterion codes and maxima: versions with equal structures compare directly."""
        return tuple((c.code, c.points) for c in self.criteria)


def _text(value: LabelIn | None) -> Text | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Text(value)
    return Text(value["vi"].strip(), (value.get("en") or "").strip() or None)


def _pydantic_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _describe_error(error: dict[str, Any]) -> str:
    if error["type"] == "missing":
        return Notice("questionnaire.missing_key")
    if error["type"] == "extra_forbidden":
        return Notice("questionnaire.unknown_key")
    return Notice("questionnaire.bad_value", detail=error["msg"])


def _duplicates(codes: list[str]) -> set[str]:
    seen: set[str] = set()
    return {c for c in codes if c in seen or seen.add(c)}


MAX_TITLE_LENGTH = 300  # the title is stored in a column of this size


def _cross_field_problems(doc: QuestionnaireIn) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    title = doc.title if isinstance(doc.title, str) else doc.title.get("vi", "")
    if len(title.strip()) > MAX_TITLE_LENGTH:
        problems.append(("title", Notice("questionnaire.title_long", n=MAX_TITLE_LENGTH)))
    for code, options in doc.scales.items():
        for dup in _duplicates([o.code for o in options]):
            problems.append((f"scales.{code}", Notice("questionnaire.option_twice", code=dup)))
        if not options:
            problems.append((f"scales.{code}", Notice("questionnaire.scale_empty")))
        elif all(o.score is None for o in options):
            problems.append((f"scales.{code}", Notice("questionnaire.scale_unscored")))
    for dup in _duplicates([g.code for g in doc.groups]):
        problems.append(("groups", Notice("questionnaire.group_twice", code=dup)))
    for dup in _duplicates([c.code for c in doc.criteria]):
        problems.append(("criteria", Notice("questionnaire.criterion_twice", code=dup)))
    question_codes = [q.code for c in doc.criteria for q in c.questions]
    for dup in _duplicates(question_codes):
        problems.append(("criteria", Notice("questionnaire.question_twice", code=dup)))
    total = 0.0
    for ci, criterion in enumerate(doc.criteria):
        total += criterion.points
        question_sum = 0.0
        for qi, question in enumerate(criterion.questions):
            question_sum += question.points
            if question.scale not in doc.scales:
                problems.append((
                    f"criteria[{ci}].questions[{qi}].scale",
                    Notice("questionnaire.scale_undefined", question=question.code,
                           scale=question.scale, defined=", ".join(sorted(doc.scales))),
                ))
        if not math.isclose(question_sum, criterion.points, abs_tol=POINTS_TOLERANCE):
            problems.append((
                f"criteria[{ci}].questions",
                Notice("questionnaire.question_points", criterion=criterion.code,
                       total=f"{question_sum:g}", points=f"{criterion.points:g}"),
            ))
    problems.extend(_index_problems(doc))
    if not math.isclose(total, doc.max_points, abs_tol=POINTS_TOLERANCE):
        problems.append(("max_points", Notice("questionnaire.max_points", total=f"{total:g}",
                                              maximum=f"{doc.max_points:g}")))
    return problems


def _index_problems(doc: QuestionnaireIn) -> list[tuple[str, str]]:
    """Index rules: every code maps an option of some scale; every used scale gets a score."""
    problems: list[tuple[str, str]] = []
    used_scales = sorted({q.scale for c in doc.criteria for q in c.questions} & set(doc.scales))
    all_codes = {o.code for options in doc.scales.values() for o in options}
    for name, index in doc.indices.items():
        for code in index.scores:
            if code not in all_codes:
                problems.append((f"indices.{name}.scores.{code}",
                                 f"option code {code!r} is on no scale "
                                 f"(options: {', '.join(sorted(all_codes))})"))
        for scale in used_scales:
            if not any(index.scores.get(o.code) is not None for o in doc.scales[scale]):
                problems.append((f"indices.{name}.scores",
                                 f"no option of scale {scale!r} has a score in index {name!r}: "
                                 "its questions could never be scored"))
    return problems


MAX_YAML_ALIASES = 20  # anchors (&name) and aliases (*name) a questionnaire file may use
MAX_YAML_CHARACTERS = 1_000_000


class YamlTooComplex(yaml.YAMLError):
    """The file uses more anchors or aliases than MAX_YAML_ALIASES (or is too long)."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a document with more than MAX_YAML_ALIASES anchors or
    aliases while it is being composed, before any object is built: a few aliases of
    aliases expand a small file into billions of nodes ("billion laughs")."""

    def __init__(self, stream):
        super().__init__(stream)
        self._references = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            self._references += 1
            if self._references > MAX_YAML_ALIASES:
                raise YamlTooComplex(
                    f"the file uses more than {MAX_YAML_ALIASES} YAML anchors/aliases (&name, "
                    "*name): write the questionnaire out in full"
                )
        return super().compose_node(parent, index)


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)  # libyaml, when PyYAML was built with it


def load_yaml(text: str):
    """The YAML document in `text`, with at most MAX_YAML_ALIASES anchors and aliases and
    MAX_YAML_CHARACTERS characters (YamlTooComplex otherwise).

    With libyaml the events are first counted by its parser (no object is built), then the
    document is built by its safe loader: ten times faster than the pure-Python loader."""
    if len(text) > MAX_YAML_CHARACTERS:
        raise YamlTooComplex(f"the file is longer than {MAX_YAML_CHARACTERS:,} characters")
    if _FAST_LOADER is not None:
        references = 0
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                references += 1
                if references > MAX_YAML_ALIASES:
                    raise YamlTooComplex(
                        f"the file uses more than {MAX_YAML_ALIASES} YAML anchors/aliases "
                        "(&name, *name): write the questionnaire out in full")
        return yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 - a safe loader
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_questionnaire(text: str, source: str = "<questionnaire>") -> Questionnaire:
    """Parse and validate questionnaire YAML `text`; `source` names it in errors. Anchors
    and aliases are refused beyond MAX_YAML_ALIASES, before anything is built."""
    try:
        raw = load_yaml(text)
    except YamlTooComplex as exc:
        raise QuestionnaireError(source, [("", str(exc))]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise QuestionnaireError(source, [(where, Notice("questionnaire.not_yaml", detail=str(exc)))]) from None
    except RecursionError:
        raise QuestionnaireError(source, [("", Notice("questionnaire.too_deep"))]) from None
    if not isinstance(raw, dict):
        raise QuestionnaireError(source, [("", Notice("questionnaire.not_mapping"))])
    try:
        doc = QuestionnaireIn.model_validate(raw)
    except ValidationError as exc:
        problems = [(_pydantic_path(e["loc"]), _describe_error(e)) for e in exc.errors()]
        raise QuestionnaireError(source, problems) from None
    problems = _cross_field_problems(doc)
    if problems:
        raise QuestionnaireError(source, problems)
    scales = {
        code: Scale(code, tuple(Option(o.code, _text(o.label), o.score) for o in options))
        for code, options in doc.scales.items()
    }
    criteria = tuple(
        Criterion(
            c.code,
            _text(c.title),
            c.points,
            tuple(
                Question(q.code, _text(q.text), q.scale, q.points, c.code, _text(q.help))
                for q in c.questions
            ),
        )
        for c in doc.criteria
    )
    return Questionnaire(
        id=doc.id,
        version=doc.version,
        title=_text(doc.title),
        max_points=doc.max_points,
        scales=scales,
        groups=tuple(Group(g.code, _text(g.label), g.weight) for g in doc.groups),
        criteria=criteria,
        description=_text(doc.description),
        source_text=text,
        indices=tuple(Index(name, _text(index.label) or Text(name), dict(index.scores))
                      for name, index in doc.indices.items()),
    )


def load_questionnaire(path: str | Path) -> Questionnaire:
    """Load and validate one questionnaire file; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionnaireError(str(path), [("", f"cannot read the file: {exc}")]) from None
    return parse_questionnaire(text, source=str(path))


def shipped_questionnaire_paths() -> list[Path]:
    """The questionnaire files shipped with the product (questionnaires/*.yaml)."""
    folder = Path(__file__).resolve().parent.parent / "questionnaires"
    return sorted(folder.glob("*.yaml"))
