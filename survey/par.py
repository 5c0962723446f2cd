"""PAR index (Chỉ số cải cách hành chính) of one unit-year: appraised criteria plus the survey.

Input: an appraisal table, CSV with columns `criterion,max,self,appraised` (điểm chuẩn / tự chấm /
thẩm định; Vietnamese headers `tiêu chí, điểm chuẩn, tự chấm, thẩm định` are accepted too), one row
per criterion; a criterion with max 0 does not apply to the unit (hạ điểm chuẩn). An optional row
named `total` / `Tổng cộng` states the totals as printed. Numbers may use a decimal comma (13,27).

    total            = appraised points + survey score
    applicable max   = appraised maximum + survey maximum (22)
    percentage       = 100 · total / applicable max, rounded half-up to 2 decimals
    class            = first band whose lower bound the rounded percentage reaches

Arithmetic is decimal (the inputs are printed decimals), so 58.57 / 73.50 gives exactly 79.69.

Decisions (each announced by a warning, never silently):
* Stated totals against the rows: when a stated total (the table's total row, or --stated-total for
  the maximum) differs from the sum of the rows, the stated total is used, because it is the
  official figure (the maximum after lowering, e.g. 100 − 26.50 = 73.50 for Cục THADS Hậu Giang
  2024, whose printed row maxima sum to 53 instead of 51.50). The warning names both values and
  the percentage the row sum would give. --stated-total sets the appraised maximum explicitly and
  overrides a total row.
* Malformed rows (a value that is not a number, a negative value, no criterion code) are left out,
  each with a warning naming the line, the criterion and the column.
* A score above its maximum (a criterion's self or appraised points above its max, the survey
  score above the survey maximum, the total above the applicable maximum) is kept and warned about.
* The class uses the rounded percentage (the published figure); ranks are competition ranks
  (1, 2, 2, 4) by rounded percentage, highest first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from survey.text import Notice, SurveyError, Text

HAU_GIANG_BANDS: tuple[tuple[str, float], ...] = (
    ("Xuất sắc", 90.0), ("Tốt", 80.0), ("Khá", 65.0), ("Trung bình", 50.0), ("Yếu", 0.0),
)
DEFAULT_SURVEY_MAX = Decimal("22")
COLUMNS = ("criterion", "max", "self", "appraised")
COLUMN_ALIASES = {
    "criterion": "criterion", "tiêu chí": "criterion", "tieu chi": "criterion", "code": "criterion",
    "max": "max", "maximum": "max", "điểm chuẩn": "max", "diem chuan": "max",
    "self": "self", "tự chấm": "self", "tu cham": "self",
    "appraised": "appraised", "thẩm định": "appraised", "tham dinh": "appraised",
}
TOTAL_NAMES = {"total", "tổng", "tổng cộng", "tong", "tong cong", "cộng"}
CENT = Decimal("0.01")


class ParError(SurveyError, ValueError):
    """The appraisal table cannot be read at all (no header, a required column missing);
    a message code par.* and its parameters."""


@dataclass(frozen=True)
class AppraisalRow:
    line: int
    criterion: str
    maximum: Decimal
    self_score: Decimal
    appraised: Decimal


@dataclass(frozen=True)
class AppraisalTable:
    rows: tuple[AppraisalRow, ...]
    stated: dict[str, Decimal] = field(default_factory=dict)  # "max" / "self" / "appraised"
    warnings: tuple[str, ...] = ()

    def row_sum(self, column: str) -> Decimal:
        attribute = {"max": "maximum", "self": "self_score", "appraised": "appraised"}[column]
        return sum((getattr(row, attribute) for row in self.rows), Decimal(0))


def _decimal(text: str) -> Decimal | None:
    """'13.27', '13,27', '1.234,5' or '1,234.5' as a Decimal; None if not a finite number.

    With both separators, the last one is the decimal separator.
    """
    cleaned = text.strip().replace(" ", "")
    if "," in cleaned and "." in cleaned:
        thousands = "." if cleaned.rfind(",") > cleaned.rfind(".") else ","
        cleaned = cleaned.replace(thousands, "")
    cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _number_text(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"


def read_appraisal_table(source: str | Path) -> AppraisalTable:
    """Read an appraisal table from a CSV file path, or from CSV text when `source` has a newline."""
    if isinstance(source, Path) or "\n" not in str(source):
        try:
            text = Path(source).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ParError("par.unreadable", source=str(source), detail=str(exc)) from None
    else:
        text = str(source)
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header:
        raise ParError("par.empty")
    names = [COLUMN_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ParError("par.missing_columns", missing=", ".join(missing),
                       columns=", ".join(h.strip() for h in header))
    position = {c: names.index(c) for c in COLUMNS}
    rows: list[AppraisalRow] = []
    stated: dict[str, Decimal] = {}
    warnings: list[str] = []
    seen: set[str] = set()
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        cells = cells + [""] * (len(header) - len(cells))
        code = cells[position["criterion"]].strip()
        values: dict[str, Decimal] = {}
        problems: list[Notice] = []
        for column in ("max", "self", "appraised"):
            raw = cells[position[column]]
            value = _decimal(raw)
            if value is None:
                problems.append(Notice("par.row_not_number", line=line, criterion=code or "?",
                                       column=column, value=raw.strip()))
            elif value < 0:
                problems.append(Notice("par.row_negative", line=line, criterion=code or "?",
                                       column=column, value=raw.strip()))
            else:
                values[column] = value
        if not code:
            problems.append(Notice("par.row_no_code", line=line))
        if problems:
            warnings.extend(problems)
            continue
        if code.lower() in TOTAL_NAMES:
            stated = values
            continue
        if code in seen:
            warnings.append(Notice("par.row_twice", line=line, criterion=code))
        seen.add(code)
        for column in ("self", "appraised"):
            if values[column] > values["max"]:
                warnings.append(Notice(f"par.row_{column}_above_max", line=line, criterion=code,
                                       column=column, value=values[column],
                                       maximum=values["max"]))
        rows.append(AppraisalRow(line, code, values["max"], values["self"], values["appraised"]))
    if not rows:
        raise ParError("par.no_rows")
    return AppraisalTable(tuple(rows), stated, tuple(warnings))


def classify(percentage: float | Decimal, bands: Sequence[tuple[str, float]] = HAU_GIANG_BANDS) -> str:
    """The first band (highest bound first) whose lower bound `percentage` reaches."""
    for label, lower in sorted(bands, key=lambda band: -band[1]):
        if Decimal(str(percentage)) >= Decimal(str(lower)):
            return label
    return sorted(bands, key=lambda band: band[1])[0][0]


def parse_bands(text: str) -> tuple[tuple[str, float], ...]:
    """'Xuất sắc=90,Tốt=80,Khá=65,Trung bình=50,Yếu=0' as bands; ValueError if malformed."""
    bands = []
    for part in text.split(","):
        label, separator, bound = part.partition("=")
        value = _decimal(bound) if separator else None
        if not label.strip() or value is None:
            raise ValueError(f"band {part.strip()!r}: write LABEL=LOWER_BOUND, e.g. Tốt=80")
        bands.append((label.strip(), float(value)))
    return tuple(sorted(bands, key=lambda band: -band[1]))


def competition_ranks(percentages: Sequence[float]) -> list[int]:
    """Ranks by percentage, highest first; ties share the better rank (1, 2, 2, 4)."""
    return [1 + sum(other > value for other in percentages) for value in percentages]


@dataclass(frozen=True)
class ParResult:
    unit: str | None
    appraised: Decimal
    self_assessed: Decimal
    appraised_max: Decimal
    appraised_max_rows: Decimal
    survey_score: Decimal
    survey_max: Decimal
    total: Decimal
    applicable_max: Decimal
    percentage: Decimal
    classification: str
    criteria: tuple[AppraisalRow, ...]
    warnings: tuple[str, ...]
    rank: int | None = None
    ranked_units: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "appraised": float(self.appraised),
            "self_assessed": float(self.self_assessed),
            "appraised_max": float(self.appraised_max),
            "appraised_max_rows": float(self.appraised_max_rows),
            "survey_score": float(self.survey_score),
            "survey_max": float(self.survey_max),
            "total": float(self.total),
            "applicable_max": float(self.applicable_max),
            "percentage": float(self.percentage),
            "class": self.classification,
            "rank": self.rank,
            "ranked_units": self.ranked_units,
            "criteria": [
                {"criterion": r.criterion, "max": float(r.maximum), "self": float(r.self_score),
                 "appraised": float(r.appraised), "applicable": r.maximum > 0}
                for r in self.criteria
            ],
            "warnings": list(self.warnings),
        }


def _as_decimal(value: float | str | Decimal, name: str) -> Decimal:
    number = value if isinstance(value, Decimal) else _decimal(str(value))
    if number is None or number < 0:
        raise ParError("par.not_a_number", name=name, value=str(value))
    return number


def _percentage(total: Decimal, maximum: Decimal) -> Decimal:
    return (total * 100 / maximum).quantize(CENT, rounding=ROUND_HALF_UP)


def par_index(
    table: AppraisalTable,
    survey_score: float | str | Decimal,
    *,
    survey_max: float | str | Decimal = DEFAULT_SURVEY_MAX,
    stated_total: float | str | Decimal | None = None,
    bands: Sequence[tuple[str, float]] = HAU_GIANG_BANDS,
    unit: str | None = None,
) -> ParResult:
    """The PAR index of one unit-year (rules and decisions in the module docstring)."""
    survey = _as_decimal(survey_score, Text("điểm khảo sát", "the survey score"))
    survey_maximum = _as_decimal(survey_max, Text("điểm tối đa của khảo sát", "the survey maximum"))
    warnings = list(table.warnings)
    if survey > survey_maximum:
        warnings.append(Notice("par.survey_above_max", score=survey, maximum=survey_maximum))
    row_max = table.row_sum("max")
    sums = {column: table.row_sum(column) for column in ("self", "appraised")}
    chosen = dict(sums)
    for column in ("self", "appraised"):
        stated = table.stated.get(column)
        if stated is not None and stated != sums[column]:
            warnings.append(Notice(f"par.stated_{column}_differs", stated=stated, rows=sums[column]))
            chosen[column] = stated

    appraised_max, source = row_max, None
    if stated_total is not None:
        appraised_max = _as_decimal(stated_total, Text("tổng điểm chuẩn", "the stated total"))
        source = "given"
        printed = table.stated.get("max")
        if printed is not None and printed != appraised_max:
            warnings.append(Notice("par.printed_max_overridden", printed=printed,
                                   chosen=appraised_max))
    elif "max" in table.stated:
        appraised_max, source = table.stated["max"], "total_row"
    if source and appraised_max != row_max:
        with_rows = row_max + survey_maximum
        percent = (_percentage(chosen["appraised"] + survey, with_rows) if with_rows > 0
                   else None)
        # The page and the command line each add how to choose the maximum in their own terms.
        warnings.append(Notice(
            f"par.stated_max_differs.{source}", stated=appraised_max, rows=row_max,
            applicable=appraised_max + survey_maximum, with_rows=with_rows,
            percent=percent if percent is not None else "—"))
    applicable_max = appraised_max + survey_maximum
    if applicable_max <= 0:
        raise ParError("par.zero_max")
    total = chosen["appraised"] + survey
    if total > applicable_max:
        warnings.append(Notice("par.total_above_max", total=total, maximum=applicable_max))
    percentage = _percentage(total, applicable_max)
    return ParResult(
        unit=unit, appraised=chosen["appraised"], self_assessed=chosen["self"],
        appraised_max=appraised_max, appraised_max_rows=row_max, survey_score=survey,
        survey_max=survey_maximum, total=total, applicable_max=applicable_max,
        percentage=percentage, classification=classify(percentage, bands),
        criteria=table.rows, warnings=tuple(warnings),
    )


def rank_results(results: Sequence[ParResult]) -> list[ParResult]:
    """The same results with `rank` and `ranked_units` set (units of one province-year)."""
    ranks = competition_ranks([float(r.percentage) for r in results])
    return [
        ParResult(**{**r.__dict__, "rank": rank, "ranked_units": len(results)})
        for r, rank in zip(results, ranks, strict=True)
    ]
