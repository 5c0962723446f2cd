"""Periods: quarters (`2024-Q3`) are collected; half-years (`2024-H1`) and years (`2024`) pool them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from survey.text import SurveyError

_YEAR = r"(?P<year>\d{4})"
# Accepted spellings (case-insensitive; spaces at either end and repeated spaces are free):
#   2024-Q3, Q3/2024, Quý 3/2024, Quý III/2024, Quý 3 năm 2024, 2024-H1, H1/2024,
#   6 tháng đầu năm 2024, 6 tháng cuối năm 2024, 2024, Năm 2024.
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
_FORMS = [
    (re.compile(rf"^{_YEAR}$"), "Y"),
    (re.compile(rf"^năm {_YEAR}$"), "Y"),
    (re.compile(rf"^{_YEAR}-(?P<kind>[qh])(?P<index>\d)$"), None),
    (re.compile(rf"^(?P<kind>[qh])(?P<index>\d) ?/ ?{_YEAR}$"), None),
    (re.compile(rf"^quý (?P<index>\d|i|ii|iii|iv) ?/ ?{_YEAR}$"), "Q"),
    (re.compile(rf"^quý (?P<index>\d|i|ii|iii|iv) năm {_YEAR}$"), "Q"),
    (re.compile(rf"^6 tháng (?P<half>đầu|cuối) năm {_YEAR}$"), "H"),
]
FORMAT_HINT = "2024-Q3, Q3/2024, Quý 3/2024, 2024-H1, 2024"


class PeriodError(SurveyError, ValueError):
    """A period label is malformed (code `period.invalid`, `period.not_quarter`,
    `period.year_range`; parameter `text`)."""


@dataclass(frozen=True, order=True)
class Period:
    """A year, half-year or quarter. `kind` is 'Y', 'H' or 'Q'; `index` 1..4 (0 for a year)."""

    year: int
    kind: str
    index: int

    def __str__(self) -> str:
        return str(self.year) if self.kind == "Y" else f"{self.year}-{self.kind}{self.index}"

    @property
    def quarters(self) -> tuple[str, ...]:
        """The quarter labels this period pools."""
        if self.kind == "Q":
            numbers = [self.index]
        elif self.kind == "H":
            numbers = [2 * self.index - 1, 2 * self.index]
        else:
            numbers = [1, 2, 3, 4]
        return tuple(f"{self.year}-Q{n}" for n in numbers)

    def previous(self) -> Period:
        """The period just before, of the same kind (2024-Q1 → 2023-Q4)."""
        if self.kind == "Y":
            return Period(self.year - 1, "Y", 0)
        last = 4 if self.kind == "Q" else 2
        if self.index == 1:
            return Period(self.year - 1, self.kind, last)
        return Period(self.year, self.kind, self.index - 1)

    def year_ago(self) -> Period:
        """The same period one year earlier (cùng kỳ)."""
        return Period(self.year - 1, self.kind, self.index)

    def label(self, lang: str = "vi") -> str:
        """Human label: 'Quý 3/2024', '6 tháng đầu năm 2024', 'Năm 2024'."""
        if lang == "en":
            names = {"Q": f"Q{self.index} {self.year}", "H": f"H{self.index} {self.year}",
                     "Y": f"Year {self.year}"}
        else:
            half = "6 tháng đầu năm" if self.index == 1 else "6 tháng cuối năm"
            names = {"Q": f"Quý {self.index}/{self.year}", "H": f"{half} {self.year}",
                     "Y": f"Năm {self.year}"}
        return names[self.kind]


def _normalise(text: object) -> str:
    """Lower case, NFC, one space between words, no space at either end."""
    cleaned = unicodedata.normalize("NFC", str(text)).replace("\u00a0", " ").lower()
    return " ".join(cleaned.split())


def parse_period(text: object) -> Period:
    """The one period parser: every entry point (command line, pages, imports, links,
    campaigns, stored data) reads periods through it.

    Accepts '2024-Q3', ' 2024-q3 ', 'Q3/2024', 'Quý 3/2024', '2024-H1', 'H1/2024',
    '6 tháng đầu năm 2024', '2024', 'Năm 2024'; `str()` of the result is the canonical
    form ('2024-Q3', '2024-H1', '2024'). Anything else raises PeriodError.
    """
    if text is None:
        raise PeriodError("period.invalid", text="")
    cleaned = _normalise(text)
    for pattern, fixed_kind in _FORMS:
        match = pattern.match(cleaned)
        if not match:
            continue
        year = int(match.group("year"))
        if not 1900 <= year <= 2999:
            raise PeriodError("period.year_range", text=str(text).strip(), year=year)
        groups = match.groupdict()
        if fixed_kind == "Y":
            return Period(year, "Y", 0)
        if fixed_kind == "H" and groups.get("half"):
            return Period(year, "H", 1 if groups["half"] == "đầu" else 2)
        kind = (fixed_kind or groups["kind"]).upper()
        raw = groups["index"]
        index = _ROMAN[raw] if raw in _ROMAN else int(raw)
        if not 1 <= index <= (4 if kind == "Q" else 2):
            break
        return Period(year, kind, index)
    raise PeriodError("period.invalid", text=str(text).strip())


def parse_quarter(text: object) -> Period:
    """Parse a quarter label; responses are always collected by quarter."""
    period = parse_period(text)
    if period.kind != "Q":
        raise PeriodError("period.not_quarter", text=str(text).strip())
    return period


def canonical_period(text: object) -> str:
    """The canonical label of any accepted spelling ('Quý 3/2024' → '2024-Q3')."""
    return str(parse_period(text))


def canonical_quarter(text: object) -> str:
    """The canonical label of a quarter ('q3/2024' → '2024-Q3'); PeriodError otherwise."""
    return str(parse_quarter(text))


def canonical_period_or_none(text: object) -> str | None:
    """The canonical label, or None when `text` is not a period (pure: for data migrations
    that rewrite stored periods written in another spelling)."""
    try:
        return str(parse_period(text))
    except PeriodError:
        return None


def quarter_of(day: date) -> Period:
    """The quarter containing `day`."""
    return Period(day.year, "Q", (day.month - 1) // 3 + 1)


def quarter_last_day(quarter: Period) -> date:
    """The last day of a quarter (2024-Q1 → 31 March 2024)."""
    following = date(quarter.year + quarter.index // 4, quarter.index % 4 * 3 + 1, 1)
    return following - timedelta(days=1)


def ended_on(period: object, today: date | None = None) -> date | None:
    """The last day of the quarter `period` when it has ended before `today` (default: today),
    else None: responses collected after that day still count in that past quarter."""
    quarter = parse_quarter(period)
    today = today or date.today()
    return quarter_last_day(quarter) if quarter < quarter_of(today) else None


def pooling_periods(quarter: str) -> tuple[str, str, str]:
    """The quarter, half-year and year labels a quarter's responses count towards."""
    q = parse_quarter(quarter)
    return str(q), f"{q.year}-H{(q.index + 1) // 2}", str(q.year)
