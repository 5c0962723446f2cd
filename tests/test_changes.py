"""Changes between periods: Welch–Satterthwaite, p-values, BH adjustment, MDC, basis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_scoring import (  # tests/ is on sys.path (pytest prepend import mode)
    REFERENCE,
    SMALL,
    _random_rows,
    reference_expected,
    reference_responses,
    small_questionnaire,
    wide,
)

from survey.changes import (
    benjamini_hochberg,
    change_arrays,
    compare_scores,
    compare_units,
    minimum_detectable_change,
    welch_satterthwaite_df,
)
from survey.questionnaire import load_questionnaire, parse_questionnaire
from survey.scoring import score_domains


def test_welch_satterthwaite_by_hand():
    # (0.04 + 0.09)² / (0.04²/30 + 0.09²/20) = 0.0169 / 0.000458333… = 36.872727…
    assert welch_satterthwaite_df(0.04, 30, 0.09, 20) == pytest.approx(0.0169 / (0.0016 / 30 + 0.0081 / 20),
                                                                       rel=1e-15)
    # A side with no variance adds nothing: df = df of the other side.
    assert welch_satterthwaite_df(0.0, 0, 0.09, 20) == pytest.approx(20, rel=1e-15)
    assert np.isnan(welch_satterthwaite_df(0.0, 3, 0.0, 4))


def test_change_interval_and_p_value():
    values = change_arrays(15.43, 0.04, 120, 16.26, 0.05, 100, level=0.95)
    se = np.sqrt(0.09)
    df = welch_satterthwaite_df(0.04, 120, 0.05, 100)
    assert values["change"] == pytest.approx(-0.83, abs=1e-12)
    assert values["lower"] == pytest.approx(-0.83 - stats.t.ppf(0.975, df) * se, rel=1e-13)
    assert values["upper"] == pytest.approx(-0.83 + stats.t.ppf(0.975, df) * se, rel=1e-13)
    assert values["p_value"] == pytest.approx(2 * stats.t.sf(0.83 / se, df), rel=1e-12)
    assert values["p_value"] < 0.05


def test_minimum_detectable_change_multiplier():
    assert minimum_detectable_change(1.0) == pytest.approx(2.801585, abs=1e-6)
    assert minimum_detectable_change(0.5, level=0.9, power=0.9) == pytest.approx(
        0.5 * (stats.norm.ppf(0.95) + stats.norm.ppf(0.9)), rel=1e-15)


def test_benjamini_hochberg_skips_missing_p_values():
    adjusted = benjamini_hochberg([0.01, np.nan, 0.04, 0.03])
    expected = stats.false_discovery_control([0.01, 0.04, 0.03], method="bh")
    assert np.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2, 3]], expected, rtol=1e-15)
    assert list(expected) == pytest.approx([0.03, 0.04, 0.04])


def test_changes_agree_with_r_survey():
    questionnaires = {"1": load_questionnaire(REFERENCE / "questionnaire.yaml")}
    scores = score_domains(reference_responses(), questionnaires)
    current = [s for s in scores if s.period == "2024-Q2"]
    baseline = [s for s in scores if s.period == "2024-Q1"]
    changes = compare_units(current, baseline)
    expected = reference_expected()
    expected = expected[expected.kind == "change"]
    worst, compared = 0.0, 0
    for change in changes:
        for estimate in (change.total, *change.criteria):
            measure = estimate.code or "total"
            row = expected[(expected.unit == change.unit) & (expected.measure == measure)].iloc[0]
            worst = max(worst, abs(estimate.change - row.estimate) / abs(row.estimate),
                        abs(estimate.se - row.se) / row.se, abs(estimate.df - row.df) / row.df)
            compared += 1
    assert compared == 12
    assert worst < 1e-10


def test_provincial_view_adjusts_p_values_per_measure():
    questionnaires = {"1": load_questionnaire(REFERENCE / "questionnaire.yaml")}
    scores = score_domains(reference_responses(), questionnaires)
    changes = compare_units([s for s in scores if s.period == "2024-Q2"],
                            [s for s in scores if s.period == "2024-Q1"])
    assert [c.unit for c in changes] == ["U1", "U2", "U3"]
    p_total = [c.total.p_value for c in changes]
    assert [c.total.p_adjusted for c in changes] == pytest.approx(
        list(stats.false_discovery_control(p_total, method="bh")), rel=1e-15)
    p_first = [c.criteria[0].p_value for c in changes]
    assert [c.criteria[0].p_adjusted for c in changes] == pytest.approx(
        list(stats.false_discovery_control(p_first, method="bh")), rel=1e-15)
    single = compare_scores(scores[1], scores[0])  # U1: 2024-Q2 against 2024-Q1
    assert single.total.p_adjusted is None


def test_duplicate_unit_in_a_view_is_an_error():
    scores = score_domains(wide(_random_rows(np.random.default_rng(1), 10)),
                           {"1": small_questionnaire(groups=True)})
    with pytest.raises(ValueError, match="appears twice"):
        compare_units(scores + scores, scores)


def _two_periods(rows_current, rows_baseline, questionnaires, versions=("1", "1")):
    table = wide(rows_current + rows_baseline)
    table.loc[: len(rows_current) - 1, "period"] = "2024-Q2"
    table.loc[len(rows_current):, "period"] = "2024-Q1"
    table.loc[: len(rows_current) - 1, "version"] = versions[0]
    table.loc[len(rows_current):, "version"] = versions[1]
    scores = score_domains(table, questionnaires)
    return ([s for s in scores if s.period == "2024-Q2"][0],
            [s for s in scores if s.period == "2024-Q1"][0])


def test_same_structure_compares_in_points():
    rng = np.random.default_rng(2)
    current, baseline = _two_periods(_random_rows(rng, 40), _random_rows(rng, 35),
                                     {"1": small_questionnaire(groups=True)})
    change = compare_scores(current, baseline)
    assert change.basis == "points"
    assert change.total.change == pytest.approx(current.total.score - baseline.total.score,
                                                rel=1e-14)
    assert change.total.variance == pytest.approx(current.total.variance
                                                  + baseline.total.variance, rel=1e-14)
    assert change.to_dict()["basis"] == "points"


def test_different_structure_compares_in_percent():
    other = parse_questionnaire(
        SMALL.replace("GROUPS\n", "groups:\n  - {code: G1, label: G1, weight: 0.75}\n"
                                  "  - {code: G2, label: G2, weight: 0.25}\n")
        .replace('version: "1"', 'version: "2"').replace("max_points: 4", "max_points: 5")
        .replace("points: 2\n    questions:\n      - {code: b1, text: b1, scale: s, points: 2}",
                 "points: 3\n    questions:\n      - {code: b1, text: b1, scale: s, points: 3}"))
    rng = np.random.default_rng(3)
    current, baseline = _two_periods(_random_rows(rng, 40), _random_rows(rng, 35),
                                     {"1": small_questionnaire(groups=True), "2": other},
                                     versions=("2", "1"))
    change = compare_scores(current, baseline)
    assert change.basis == "percent"
    assert change.total.change == pytest.approx(
        100 * current.total.score / 5 - 100 * baseline.total.score / 4, rel=1e-13)
    assert change.total.variance == pytest.approx(
        (100 / 5) ** 2 * current.total.variance + (100 / 4) ** 2 * baseline.total.variance,
        rel=1e-13)
    b_change = next(c for c in change.criteria if c.code == "B")
    assert b_change.current == pytest.approx(100 * current.criterion("B").score / 3, rel=1e-14)


def test_too_few_responses_give_no_interval_for_the_change():
    rng = np.random.default_rng(4)
    current, baseline = _two_periods(_random_rows(rng, 40), _random_rows(rng, 4),
                                     {"1": small_questionnaire(groups=True)})
    change = compare_scores(current, baseline)
    assert change.total.change is not None
    assert change.total.ci is None and change.total.p_value is None
    assert change.total.flags == ("insufficient",)
    assert "fewer than 5" in change.total.reason


def test_undefined_total_on_one_side():
    current, baseline = _two_periods(
        [{"group": "G1", "a1": "A", "a2": "B", "b1": "C"}] * 6,
        [{"group": "G1", "a1": "A", "a2": "B", "b1": "X"}] * 6,
        {"1": small_questionnaire(groups=True)})
    change = compare_scores(current, baseline)
    assert change.total is None and "undefined" in change.reason
    assert change.to_dict()["total"] is None
    a_change = next(c for c in change.criteria if c.code == "A")
    assert a_change.change == pytest.approx(0.0, abs=1e-15)


def test_partial_flag_carries_into_the_change():
    current, baseline = _two_periods(
        [{"group": "G1", "a1": "A", "a2": "X", "b1": "C"}, {"group": "G1", "a1": "B", "b1": "A"}] * 4,
        _random_rows(np.random.default_rng(5), 30), {"1": small_questionnaire(groups=True)})
    change = compare_scores(current, baseline)
    assert "partial" in next(c for c in change.criteria if c.code == "A").flags
    assert isinstance(pd.Series(change.to_dict()["criteria"]).iloc[0]["flags"], list)


def test_benjamini_hochberg_equals_scipys_implementation():
    """Our BH steps (no scipy.stats import on the command line's path) give scipy's values,
    ties and NaN included."""
    from scipy import stats

    from survey.changes import benjamini_hochberg

    rng = np.random.default_rng(3)
    for size in (2, 3, 12, 250):
        p = rng.random(size) ** 3
        p[-1] = p[0]  # a tie
        assert np.array_equal(benjamini_hochberg(p), stats.false_discovery_control(p))
        with_nan = np.r_[np.nan, p]
        assert np.isnan(benjamini_hochberg(with_nan)[0])
        assert np.array_equal(benjamini_hochberg(with_nan)[1:], stats.false_discovery_control(p))
