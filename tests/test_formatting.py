"""survey.formatting: numbers, intervals and periods written one way (Vietnamese first)."""

from __future__ import annotations

import pytest

from survey.formatting import format_interval, format_signed, parse_number


@pytest.mark.parametrize(("low", "high", "lang", "expected"), [
    (-1.094, -0.258, "vi", "[\u22121,09; \u22120,26]"),  # the minus of "−0,68" beside it
    (-0.51, 0.54, "vi", "[\u22120,51; 0,54]"),
    (14.383, 15.012, "vi", "[14,38; 15,01]"),
    (-0.001, 0.2, "vi", "[0,00; 0,20]"),  # no "−0,00"
    (-1.5, 2.25, "en", "[\u22121.50; 2.25]"),
    (None, 1.0, "vi", "—"),
    (float("nan"), 1.0, "vi", "—"),
])
def test_interval_ends_use_the_typographic_minus(low, high, lang, expected):
    assert format_interval(low, high, 2, lang) == expected


def test_an_interval_end_reads_like_the_change_beside_it():
    change = format_signed(-0.68, 2, "vi")
    assert change == "\u22120,68"
    assert format_interval(-0.68, 0.1, 2, "vi").startswith("[" + change)


@pytest.mark.parametrize(("text", "expected"), [
    ("\u22120,70", -0.70), ("-0,70", -0.70), ("1.234,5", 1234.5), ("14,00", 14.0)])
def test_a_number_written_by_this_module_reads_back(text, expected):
    assert parse_number(text, "vi") == pytest.approx(expected)
