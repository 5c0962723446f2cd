"""Periods: quarters (`2024-Q3`) are collected; half-years (`2024-H1`) and years (`2024`) pool them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_PATTERN = re.compile(r"^\s*(\d{4})(?:-(Q[1-4]|H[12]))?\s*$", re.IGNORECASE)


class PeriodError(ValueError):
    """A period label is malformed."""


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


def parse_period(text: str) -> Period:
    """Parse '2024-Q3', '2024-H1' or '2024' (case-insensitive)."""
    match = _PATTERN.match(str(text))
    if not match:
        raise PeriodError(f"{text!r} is not a period: use 2024-Q3, 2024-H1 or 2024")
    year, part = int(match.group(1)), (match.group(2) or "").upper()
    if not 1900 <= year <= 2999:
        raise PeriodError(f"{text!r}: year {year} is out of range")
    if not part:
        return Period(year, "Y", 0)
    return Period(year, part[0], int(part[1]))


def parse_quarter(text: str) -> Period:
    """Parse a quarter label; responses are always collected by quarter."""
    period = parse_period(text)
    if period.kind != "Q":
        raise PeriodError(f"{text!r} is not a quarter: responses are collected by quarter (2024-Q3)")
    return period


def quarter_of(day: date) -> Period:
    """The quarter containing `day`."""
    return Period(day.year, "Q", (day.month - 1) // 3 + 1)


def pooling_periods(quarter: str) -> tuple[str, str, str]:
    """The quarter, half-year and year labels a quarter's responses count towards."""
    q = parse_quarter(quarter)
    return str(q), f"{q.year}-H{(q.index + 1) // 2}", str(q.year)
