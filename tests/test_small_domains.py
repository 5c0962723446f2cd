"""SCORING.md, "Small domains": what is undefined stays undefined. Hand-computed cases per rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from test_scoring import _random_rows, small_questionnaire, wide

from survey.aggregate import unit_average
from survey.changes import compare_scores, compare_units
from survey.scoring import score_domains


def one_domain(rows, groups=False):
    return score_domains(wide(rows), {"1": small_questionnaire(groups=groups)})[0]


# --- rule 1: df < 1 → no SE (null with the reason), never 0 ------------------------------------


def test_one_respondent_has_no_standard_error():
    score = one_domain([{"a1": "A", "a2": "B", "b1": "C"}])
    assert score.total.score == pytest.approx(1 + 0.6 + 0.4, abs=1e-15)
    assert score.total.df == 0
    assert score.total.variance is None and score.total.se is None and score.total.ci is None
    assert "degree of freedom" in score.total.reason
    assert all(c.se is None for c in score.criteria)
    document = score.to_dict()
    assert document["total"]["se"] is None and document["criteria"][0]["se"] is None


def test_one_respondent_per_group_has_no_standard_error():
    # Two respondents, two groups: df = 2 − 2 = 0 (each stratum would contribute 0).
    score = one_domain([{"group": "G1", "a1": "A", "a2": "B", "b1": "C"},
                        {"group": "G2", "a1": "D", "a2": "B", "b1": "A"}], groups=True)
    assert score.total.df == 0 and score.total.se is None
    # The same two in one group: df = 1 and an SE (here > 0).
    together = one_domain([{"group": "G1", "a1": "A", "a2": "B", "b1": "C"},
                           {"group": "G1", "a1": "D", "a2": "B", "b1": "A"}], groups=True)
    assert together.total.df == 1 and together.total.se > 0


# --- rule 2: a criterion's own n_k, G_k, df_k ---------------------------------------------------


def test_criterion_uses_its_own_count_and_df():
    # Six respondents answer a1, a2; only two give b1 a scored answer (A = 2 points, C = 0.4).
    # w = 1/6: X_b1 = 1/3, R = (2 + 0.4)/2 = 1.2 = C_B. z_B = ±(1/6)(0.8)/(1/3) = ±0.4, others 0;
    # V_B = 6/5 · 0.32 = 0.384 (the domain's weights and strata). n_B = 2, df_B = 2 − 1 = 1.
    rows = ([{"a1": "A", "a2": "B", "b1": "A"}, {"a1": "C", "a2": "B", "b1": "C"}]
            + [{"a1": "B", "a2": "D", "b1": "X"}] * 4)
    score = one_domain(rows)
    b = score.criterion("B")
    assert b.score == pytest.approx(1.2, abs=1e-15)
    assert b.variance == pytest.approx(0.384, rel=1e-14)
    assert b.n == 2 and b.df == 1
    assert b.flags == ("insufficient",) and b.ci is None and "fewer than 5" in b.reason
    a = score.criterion("A")
    assert a.n == 6 and a.df == 5 and a.flags == ("low_reliability",)
    assert score.total.df == 5 and score.total.flags == ("low_reliability",)
    assert score.to_dict()["criteria"][1]["n"] == 2


def test_criterion_answered_by_one_respondent_has_no_se():
    rows = [{"a1": "A", "a2": "B", "b1": "A"}] + [{"a1": "C", "a2": "D", "b1": "X"}] * 9
    score = one_domain(rows)
    b = score.criterion("B")
    assert b.score == pytest.approx(2.0, abs=1e-15) and b.n == 1 and b.df == 0
    assert b.se is None and "degree of freedom" in b.reason
    assert score.total.se is not None and score.total.df == 9


def test_criterion_df_counts_its_own_groups():
    # b1 scored by two respondents, both in G1 (G2 answers X): n_B = 2, G_B = {G1}, df_B = 1,
    # while the domain has df = 4 − 2 = 2.
    rows = [{"group": "G1", "a1": "A", "a2": "A", "b1": "A"},
            {"group": "G1", "a1": "B", "a2": "A", "b1": "C"},
            {"group": "G2", "a1": "C", "a2": "A", "b1": "X"},
            {"group": "G2", "a1": "D", "a2": "A", "b1": "X"}]
    score = one_domain(rows, groups=True)
    assert score.total.df == 2
    assert (score.criterion("B").n, score.criterion("B").df) == (2, 1)


# --- rule 3: changes tested only when both sides have SE > 0; MDC only with the test -----------


def _pair(current_rows, baseline_rows):
    table = wide(current_rows + baseline_rows)
    table.loc[len(current_rows):, "period"] = "2024-Q1"
    table.loc[: len(current_rows) - 1, "period"] = "2024-Q2"
    scores = score_domains(table, {"1": small_questionnaire(groups=True)})
    return (next(s for s in scores if s.period == "2024-Q2"),
            next(s for s in scores if s.period == "2024-Q1"))


def test_identical_baseline_is_not_a_test():
    rng = np.random.default_rng(1)
    current, baseline = _pair(_random_rows(rng, 30),
                              [{"group": "G1", "a1": "B", "a2": "B", "b1": "B"}] * 10)
    assert baseline.total.se == 0
    change = compare_scores(current, baseline).total
    assert change.change == pytest.approx(current.total.score - 2.4, abs=1e-13)
    assert change.p_value is None and change.ci is None and change.minimum_detectable is None
    assert change.se is None
    assert "standard error is 0 in the baseline period" in change.reason
    assert change.to_dict()["mdc"] is None and change.to_dict()["p_value"] is None


def test_side_without_se_is_not_a_test():
    rng = np.random.default_rng(2)
    current, baseline = _pair([{"group": "G1", "a1": "A", "a2": "C", "b1": "B"}],
                              _random_rows(rng, 30))
    change = compare_scores(current, baseline).total
    assert change.change is not None
    assert change.p_value is None and change.ci is None and change.minimum_detectable is None


def test_mdc_is_given_where_the_test_is():
    rng = np.random.default_rng(3)
    current, baseline = _pair(_random_rows(rng, 40), _random_rows(rng, 35))
    change = compare_scores(current, baseline).total
    se = np.sqrt(current.total.variance + baseline.total.variance)
    assert change.p_value is not None
    multiplier = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert change.minimum_detectable == pytest.approx(multiplier * se, rel=1e-14)


def test_too_few_responses_withdraw_the_mdc_too():
    rng = np.random.default_rng(4)
    current, baseline = _pair(_random_rows(rng, 40), _random_rows(rng, 4))
    change = compare_scores(current, baseline).total
    assert change.p_value is None and change.minimum_detectable is None


# --- rule 4: unit-average (and BH) over units with a defined SE; the others named -------------


def test_unit_average_leaves_out_units_without_se_by_name():
    rng = np.random.default_rng(5)
    rows = (_random_rows(rng, 30, unit="U1", unit_name="Một")
            + _random_rows(rng, 25, unit="U2", unit_name="Hai")
            + [{"unit": "U3", "unit_name": "Ba", "group": "G1", "a1": "A", "a2": "A", "b1": "A"}])
    scores = score_domains(wide(rows), {"1": small_questionnaire(groups=True)})
    assert scores[2].total.se is None
    result = unit_average(scores)[0]
    assert result.total.score == pytest.approx((scores[0].total.score + scores[1].total.score) / 2,
                                               rel=1e-14)
    assert result.total.variance == pytest.approx(
        (scores[0].total.variance + scores[1].total.variance) / 4, rel=1e-14)
    assert result.units == 2 and result.n == 55
    assert [unit for unit, _ in result.left_out] == ["U3"]
    assert "degree of freedom" in result.left_out[0][1]
    assert result.left_out_named() == ["Ba (U3)"]
    assert result.to_dict()["left_out"] == [
        {"unit": "U3", "unit_name": "Ba", "reason": result.left_out[0][1]}]


def test_benjamini_hochberg_only_over_tested_units():
    rng = np.random.default_rng(6)
    current = (_random_rows(rng, 30, unit="U1", period="2024-Q2")
               + _random_rows(rng, 30, unit="U2", period="2024-Q2")
               + [{"unit": "U3", "period": "2024-Q2", "group": "G1", "a1": "A", "a2": "A",
                   "b1": "A"}])
    baseline = (_random_rows(rng, 30, unit="U1", period="2024-Q1")
                + _random_rows(rng, 30, unit="U2", period="2024-Q1")
                + _random_rows(rng, 30, unit="U3", period="2024-Q1"))
    scores = score_domains(wide(current + baseline), {"1": small_questionnaire(groups=True)})
    changes = compare_units([s for s in scores if s.period == "2024-Q2"],
                            [s for s in scores if s.period == "2024-Q1"])
    p = [c.total.p_value for c in changes]
    assert p[2] is None and changes[2].total.p_adjusted is None
    expected = stats.false_discovery_control(p[:2], method="bh")
    assert [c.total.p_adjusted for c in changes[:2]] == pytest.approx(list(expected), rel=1e-15)


def test_provincial_view_names_and_does_not_rank_units_without_se():
    from survey.dashboard import ScoreSource, province_report
    from survey.reports import province_workbook

    rng = np.random.default_rng(7)
    rows = (_random_rows(rng, 30, unit="U1", unit_name="Một", period="2024-Q4")
            + _random_rows(rng, 30, unit="U2", unit_name="Hai", period="2024-Q4")
            + [{"unit": "U3", "unit_name": "Ba", "period": "2024-Q4", "group": "G1", "a1": "A",
                "a2": "A", "b1": "A"}])
    source = ScoreSource("small", wide(rows), {"1": small_questionnaire(groups=True)})
    report = province_report(source=source, period="2024-Q4")
    labels = dict(zip(report.ranking["unit"], report.ranking["rank_label"], strict=True))
    assert labels["U3"] == "—"
    assert labels["U1"].split(" ")[0] in {"1/2", "2/2"} and "(khoảng " in labels["U1"]
    assert report.rank_sets.k == 2 and [u.unit for u in report.rank_sets.left_out] == ["U3"]
    assert report.aggregate.left_out_named() == ["Ba (U3)"]
    import io

    from openpyxl import load_workbook
    method = dict(load_workbook(io.BytesIO(province_workbook(report)))["Phương pháp"]
                  .iter_rows(values_only=True))
    assert method["Không tính vào bình quân"] == "Ba (U3)"
