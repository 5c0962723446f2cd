"""The pages' figures (survey.dashboard) equal the engine's, on the demo province."""

from __future__ import annotations

import math

import pytest

from survey.auth import FULL_ACCESS, AccessDenied, Scope
from survey.changes import ChangeEstimate, compare_scores, compare_units
from survey.dashboard import (
    history_periods,
    load_source,
    office_table,
    province_report,
    rank_labels,
    unit_report,
    verdict,
)
from survey.par import classify
from survey.scoring import score_domains
from survey.storage.organisations import get_organisation

FAMILY = "dtxhh-haugiang"


@pytest.fixture(scope="module")
def source(demo_url):
    from survey.db import make_engine, new_session

    with new_session(make_engine(demo_url)) as session:
        return load_source(session=session, family=FAMILY, scope=FULL_ACCESS)


def engine_score(source, unit, period):
    rows = source.responses[source.responses["unit"] == unit]
    (score,) = score_domains(rows, source.questionnaires, periods=[period])
    return score


def test_periods_offered_are_quarters_halves_and_years_newest_first(source):
    periods = source.periods()
    assert periods[:4] == ["2024-Q4", "2024-Q3", "2024-Q2", "2024-Q1"]
    assert {"2024-H1", "2024-H2", "2024", "2023"} <= set(periods)
    assert len(periods) == 8 + 4 + 2


@pytest.mark.parametrize("period", ["2024-Q4", "2024-H2", "2024"])
def test_unit_report_equals_the_engine(demo_session, source, period):
    report = unit_report(session=demo_session, source=source, scope=FULL_ACCESS, unit="HG01",
                         period=period)
    expected = engine_score(source, "HG01", period)
    assert report.current.total.score == expected.total.score
    assert report.current.total.ci == expected.total.ci
    assert report.current.n == expected.n
    year_ago = engine_score(source, "HG01", {"2024-Q4": "2023-Q4", "2024-H2": "2023-H2",
                                             "2024": "2023"}[period])
    change = compare_scores(expected, year_ago)
    assert report.change_year_ago.total.change == pytest.approx(change.total.change, abs=0)
    assert report.change_year_ago.total.ci == change.total.ci
    # history has one score per period of the same kind, oldest first
    kinds = {p[-2] if "-" in p else "Y" for p in (s.period for s in report.history)}
    assert len(kinds) == 1
    assert [s.period for s in report.history] == history_periods(period, source.periods())


def test_office_table_has_seven_rows_and_a_total_that_match_the_report(demo_session, source):
    report = unit_report(session=demo_session, source=source, scope=FULL_ACCESS, unit="HG01",
                         period="2024")
    table = office_table(report, against="year-ago")
    assert list(table["code"]) == ["1", "2", "3", "4", "5", "6", "7", ""]
    assert list(table["max"]) == [4, 3, 3, 3, 3, 3, 3, 22]
    assert table["current"].iloc[-1] == report.current.total.score
    assert table["baseline"].iloc[-1] == report.year_ago.total.score
    assert table["change"].iloc[-1] == pytest.approx(
        report.current.total.score - report.year_ago.total.score, abs=1e-12)
    # the criteria add up to the total
    assert table["current"].iloc[:7].sum() == pytest.approx(table["current"].iloc[-1], abs=1e-9)
    assert table["verdict"].iloc[-1].startswith(("giảm", "tăng", "không đổi"))


def test_the_dimension_that_fell_most_is_the_largest_fall(demo_session, source):
    report = unit_report(session=demo_session, source=source, scope=FULL_ACCESS, unit="HG01",
                         period="2024-Q4")
    change = report.change_previous or report.change_year_ago
    falls = {c.code: c.change for c in change.criteria if c.change is not None and c.change < 0}
    if falls:
        assert report.fell_most == min(falls, key=falls.get)
    else:
        assert report.fell_most is None


def test_a_unit_outside_the_scope_is_refused(demo_session, source):
    hg10 = get_organisation(session=demo_session, code="HG10")
    scope = Scope("cuc", "unit", frozenset({hg10.id}))
    with pytest.raises(AccessDenied):
        unit_report(session=demo_session, source=source, scope=scope, unit="HG01", period="2024")


def test_load_source_filters_to_the_scope(demo_session):
    hg10 = get_organisation(session=demo_session, code="HG10")
    scoped = load_source(session=demo_session, family=FAMILY,
                         scope=Scope("cuc", "unit", frozenset({hg10.id})))
    assert set(scoped.responses["unit"]) == {"HG10"}


def test_province_report_ranks_units_and_adjusts_p_values(source):
    report = province_report(source=source, period="2024-Q4", against="previous", classify=classify)
    ranking = report.ranking
    assert len(ranking) == 12
    assert list(ranking["score"]) == sorted(ranking["score"], reverse=True)
    # The label carries the rank set (issue 13): "1/12 (khoảng 1–…)".
    assert ranking["rank_label"].iloc[0].startswith("1/12 (khoảng 1–")
    assert ranking["rank_label"].iloc[-1].startswith("12/12 (khoảng ")
    assert ranking["rank_label"].iloc[-1].endswith("–12)")
    current = [engine_score(source, u, "2024-Q4") for u in sorted(ranking["unit"])]
    baseline = [engine_score(source, u, "2024-Q3") for u in sorted(ranking["unit"])]
    expected = {c.unit: c.total for c in compare_units(current, baseline)}
    for row in ranking.itertuples():
        assert row.score == next(s.total.score for s in current if s.unit == row.unit)
        assert row.p_adjusted == expected[row.unit].p_adjusted
        assert row.p_adjusted >= row.p_value
    assert set(ranking["class"]) <= {"Xuất sắc", "Tốt", "Khá", "Trung bình", "Yếu"}
    # unit-average aggregate: the mean of the unit scores
    assert report.aggregate.total.score == pytest.approx(ranking["score"].mean(), abs=1e-12)


def test_rank_labels_share_ties_and_skip_missing():
    import pandas as pd

    labels = rank_labels(pd.Series([10.0, 12.0, 12.0, math.nan]))
    assert list(labels) == ["3/3", "1/3", "1/3", "—"]


def _change(value, low, high):
    return ChangeEstimate(None, 1.0, 1.0, value, 0.01, 50.0, (low, high) if low is not None else None,
                          0.5, 0.3)


@pytest.mark.parametrize(("change", "expected"), [
    (_change(-0.83, -1.2, 0.1), "giảm 0,83 điểm — chưa đủ bằng chứng là giảm thật"),
    (_change(-0.83, -1.2, -0.4), "giảm 0,83 điểm — giảm có ý nghĩa thống kê"),
    (_change(0.5, 0.1, 0.9), "tăng 0,50 điểm — tăng có ý nghĩa thống kê"),
    (_change(0.001, -0.2, 0.2), "không đổi"),
    (None, "chưa đủ dữ liệu để so sánh"),
])
def test_verdicts_in_plain_vietnamese(change, expected):
    assert verdict(change) == expected


def test_verdict_in_english():
    assert verdict(_change(-0.83, -1.2, 0.1), lang="en") == (
        "down 0.83 points — not enough evidence of a real fall")


def test_province_report_rank_sets_by_plain_loops(source):
    # SCORING.md's rank sets written as loops over pairs, on the report's own totals and SEs.
    from scipy.stats import norm
    report = province_report(source=source, period="2024-Q4", against="previous")
    scores = {u: s.total for u, s in report.scores.items()}
    units = sorted(u for u, total in scores.items() if total and total.se is not None)
    k = len(units)
    for simultaneous, suffix in ((False, ""), (True, "_all")):
        c = norm.isf(0.05 / (k * (k - 1)) if simultaneous else 0.05 / (2 * (k - 1)))
        for row in report.ranking.itertuples():
            j = scores[row.unit]
            better = worse = 0
            for other in units:
                if other == row.unit:
                    continue
                d = scores[other].score - j.score
                s = math.sqrt(j.se ** 2 + scores[other].se ** 2)
                better += d - c * s > 0
                worse += -d - c * s > 0
            assert getattr(row, "rank_low" + suffix) == 1 + better
            assert getattr(row, "rank_high" + suffix) == k - worse
            assert getattr(row, "rank_low" + suffix) <= row.rank <= getattr(row, "rank_high" + suffix)
    assert report.rank_sets.k == k
