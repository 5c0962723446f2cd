"""Periods: quarters are collected; half-years and years pool them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.periods import (
    Period,
    PeriodError,
    canonical_period_or_none,
    parse_period,
    parse_quarter,
    pooling_periods,
    quarter_of,
)


@pytest.mark.parametrize(
    ("text", "year", "kind", "index", "canonical"),
    [
        ("2024-Q3", 2024, "Q", 3, "2024-Q3"),
        ("2024-Q1", 2024, "Q", 1, "2024-Q1"),
        ("2023-Q4", 2023, "Q", 4, "2023-Q4"),
        ("2024-q2", 2024, "Q", 2, "2024-Q2"),
        ("2024-H1", 2024, "H", 1, "2024-H1"),
        ("2024-h2", 2024, "H", 2, "2024-H2"),
        ("2024", 2024, "Y", 0, "2024"),
        ("  2024-Q3\n", 2024, "Q", 3, "2024-Q3"),
        ("\t2024 ", 2024, "Y", 0, "2024"),
        ("1900", 1900, "Y", 0, "1900"),
        ("2999-Q4", 2999, "Q", 4, "2999-Q4"),
    ],
)
def test_parse_period(text, year, kind, index, canonical):
    period = parse_period(text)
    assert period == Period(year, kind, index)
    assert str(period) == canonical
    assert parse_period(str(period)) == period


@pytest.mark.parametrize(
    "text",
    ["", " ", "2024-Q0", "2024-Q5", "2024-H0", "2024-H3", "2024-Y1", "2024Q3", "2024-3",
     "Q3-2024", "24-Q3", "20240", "2024-Q3-", "2024 -Q3", "2024-Q 3", "1899", "3000-Q1",
     "quý 5/2024", "Quý 3/24", "2024-Q3x", "Q5/2024", "6 tháng giữa năm 2024", "Quý /2024", None],
)
def test_bad_periods_are_refused(text):
    with pytest.raises(PeriodError):
        parse_period(text)


def test_period_error_is_a_value_error_naming_the_input():
    with pytest.raises(ValueError, match="2024-Q5"):
        parse_period("2024-Q5")


@pytest.mark.parametrize("text", ["2024-Q1", "2024-q4", " 2023-Q2 "])
def test_parse_quarter_accepts_quarters(text):
    assert parse_quarter(text).kind == "Q"


@pytest.mark.parametrize("text", ["2024-H1", "2024", "2024-Q5"])
def test_parse_quarter_refuses_anything_else(text):
    with pytest.raises(PeriodError):
        parse_quarter(text)


@pytest.mark.parametrize(
    ("text", "quarters"),
    [
        ("2024-Q3", ("2024-Q3",)),
        ("2024-H1", ("2024-Q1", "2024-Q2")),
        ("2024-H2", ("2024-Q3", "2024-Q4")),
        ("2023", ("2023-Q1", "2023-Q2", "2023-Q3", "2023-Q4")),
    ],
)
def test_quarters_pooled(text, quarters):
    assert parse_period(text).quarters == quarters


@pytest.mark.parametrize(
    ("text", "previous"),
    [
        ("2024-Q1", "2023-Q4"),
        ("2024-Q2", "2024-Q1"),
        ("2024-Q4", "2024-Q3"),
        ("2024-H1", "2023-H2"),
        ("2024-H2", "2024-H1"),
        ("2024", "2023"),
    ],
)
def test_previous(text, previous):
    assert str(parse_period(text).previous()) == previous


@pytest.mark.parametrize(
    ("text", "year_ago"),
    [("2024-Q1", "2023-Q1"), ("2024-Q4", "2023-Q4"), ("2024-H2", "2023-H2"), ("2024", "2023")],
)
def test_year_ago(text, year_ago):
    assert str(parse_period(text).year_ago()) == year_ago


@pytest.mark.parametrize(
    ("text", "vi", "en"),
    [
        ("2024-Q3", "Quý 3/2024", "Q3 2024"),
        ("2024-H1", "6 tháng đầu năm 2024", "H1 2024"),
        ("2024-H2", "6 tháng cuối năm 2024", "H2 2024"),
        ("2024", "Năm 2024", "Year 2024"),
    ],
)
def test_labels(text, vi, en):
    period = parse_period(text)
    assert period.label() == vi
    assert period.label("vi") == vi
    assert period.label("en") == en


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (date(2024, 1, 1), "2024-Q1"),
        (date(2024, 3, 31), "2024-Q1"),
        (date(2024, 4, 1), "2024-Q2"),
        (date(2024, 6, 30), "2024-Q2"),
        (date(2024, 7, 1), "2024-Q3"),
        (date(2024, 9, 30), "2024-Q3"),
        (date(2024, 10, 1), "2024-Q4"),
        (date(2024, 12, 31), "2024-Q4"),
    ],
)
def test_quarter_of(day, quarter):
    assert str(quarter_of(day)) == quarter


@pytest.mark.parametrize(
    ("quarter", "pooled"),
    [
        ("2024-Q1", ("2024-Q1", "2024-H1", "2024")),
        ("2024-Q2", ("2024-Q2", "2024-H1", "2024")),
        ("2024-Q3", ("2024-Q3", "2024-H2", "2024")),
        ("2024-q4", ("2024-Q4", "2024-H2", "2024")),
    ],
)
def test_pooling_periods(quarter, pooled):
    assert pooling_periods(quarter) == pooled


@pytest.mark.parametrize("text", ["2024-H1", "2024", "2024-Q9"])
def test_pooling_periods_needs_a_quarter(text):
    with pytest.raises(PeriodError):
        pooling_periods(text)


def _first_day(quarter: Period) -> date:
    return date(quarter.year, 3 * quarter.index - 2, 1)


@given(st.dates(min_value=date(1901, 1, 1), max_value=date(2999, 12, 31)))
def test_quarter_arithmetic_agrees_with_the_calendar(day):
    quarter = quarter_of(day)
    assert _first_day(quarter) <= day
    assert quarter.previous() == quarter_of(_first_day(quarter) - timedelta(days=1))
    assert quarter.year_ago() == quarter_of(day.replace(year=day.year - 1, day=1))
    for label in pooling_periods(str(quarter)):
        assert str(quarter) in parse_period(label).quarters


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2024-q3", "2024-Q3"), (" 2024-Q3 ", "2024-Q3"), ("Q3/2024", "2024-Q3"),
        ("q3 / 2024", "2024-Q3"), ("Quý 3/2024", "2024-Q3"), ("quý 3/2024", "2024-Q3"),
        ("QUÝ 4/2023", "2023-Q4"), ("Quý III/2024", "2024-Q3"), ("Quý 1 năm 2025", "2025-Q1"),
        ("Qu\u0079\u0301 2/2024", "2024-Q2"),  # decomposed ý (NFD), as some keyboards type it
        ("\u00a02024-Q1\u00a0", "2024-Q1"),
        ("H1/2024", "2024-H1"), ("6 tháng đầu năm 2024", "2024-H1"),
        ("6 tháng cuối năm 2023", "2023-H2"), ("Năm 2024", "2024"), ("2024", "2024"),
    ],
)
def test_every_accepted_spelling_gives_the_canonical_label(text, canonical):
    assert str(parse_period(text)) == canonical
    assert canonical_period_or_none(text) == canonical


@pytest.mark.parametrize("text", ["", "2024-Q5", "Q3-2024", "quý 5/2024", "năm", None, 2024.5])
def test_canonical_period_or_none_is_none_for_anything_else(text):
    assert canonical_period_or_none(text) is None


def test_the_refusal_is_one_coded_message_in_both_languages():
    with pytest.raises(PeriodError) as caught:
        parse_period("quý năm")
    assert caught.value.code == "period.invalid"
    assert caught.value.params == {"text": "quý năm"}
    assert caught.value.render("vi").startswith("“quý năm” không phải là một kỳ.")
    assert "2024-Q3" in str(caught.value) and "--" not in caught.value.render("vi")
    with pytest.raises(PeriodError) as caught:
        parse_quarter("Năm 2024")
    assert caught.value.code == "period.not_quarter"
    assert "không phải là một quý" in caught.value.render("vi")
