"""The estimator of SCORING.md: hand-computed cases, a loop-by-loop reference, and R's survey package."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

import survey.scoring as scoring
from survey.intervals import (
    GAP_AT_BOUND,
    GAP_FEW_DF,
    GAP_NONE,
    GAP_ZERO_SE,
    interval_gap,
    logit_t_interval,
)
from survey.questionnaire import load_questionnaire, parse_questionnaire
from survey.scoring import estimate_domains, score_domains

REFERENCE = Path(__file__).parent / "reference"

# Two criteria: "A" (questions a1, a2, 1 point each) and "B" (question b1, 2 points); M = 4.
SMALL = """
id: small
version: "1"
title: Small
max_points: 4
scales:
  s:
    - {code: A, label: A, score: 1.0}
    - {code: B, label: B, score: 0.6}
    - {code: C, label: C, score: 0.2}
    - {code: D, label: D, score: 0.0}
    - {code: X, label: no opinion, score: null}
GROUPS
criteria:
  - code: A
    title: A
    points: 2
    questions:
      - {code: a1, text: a1, scale: s, points: 1}
      - {code: a2, text: a2, scale: s, points: 1}
  - code: B
    title: B
    points: 2
    questions:
      - {code: b1, text: b1, scale: s, points: 2}
"""


def small_questionnaire(groups: bool = False):
    block = ("groups:\n  - {code: G1, label: G1, weight: 0.75}\n"
             "  - {code: G2, label: G2, weight: 0.25}\n") if groups else ""
    return parse_questionnaire(SMALL.replace("GROUPS\n", block))


def wide(rows: list[dict], version: str = "1") -> pd.DataFrame:
    """A wide response table as load_responses returns it."""
    table = pd.DataFrame(rows)
    table.insert(0, "response_id", np.arange(1, len(table) + 1))
    for column, default in (("unit", "U1"), ("unit_name", "Unit 1"), ("period", "2024-Q1"),
                            ("version", version), ("group", None), ("channel", "qr"),
                            ("flagged", False)):
        if column not in table:
            table[column] = default
    return table.astype(object).where(table.notna(), None)


# --- hand-computed cases ---------------------------------------------------------------------


def test_two_respondents_one_group_by_hand():
    # Respondent 1: a1 = A (1), a2 = B (0.6), b1 = C (0.2·2); respondent 2: a1 = C, a2 = X, b1 = A.
    # w = 1/2 each. X_a1 = 1, Y_a1 = 0.6 → R = 0.6; a2: X = 0.5, Y = 0.3 → R = 0.6;
    # b1: X = 1, Y = 0.5·0.4 + 0.5·2 = 1.2 → R = 1.2. C_A = 2/2·(0.6 + 0.6) = 1.2, C_B = 1.2, T = 2.4.
    # z_A = (0.5·0.4/1 + 0, 0.5·(−0.4)/1) = (0.2, −0.2); z_B = (−0.4, 0.4); z = (−0.2, 0.2).
    # V = 2/1 · Σ (z − z̄)²: V_A = 0.16, V_B = 0.64, V_T = 0.16; df = 2 − 1 = 1.
    scores = score_domains(
        wide([{"a1": "A", "a2": "B", "b1": "C"}, {"a1": "C", "a2": "X", "b1": "A"}]),
        {"1": small_questionnaire()},
    )
    assert len(scores) == 1
    score = scores[0]
    assert score.n == 2
    assert score.total.score == pytest.approx(2.4, abs=1e-15)
    assert score.total.variance == pytest.approx(0.16, abs=1e-15)
    assert score.total.df == 1
    assert [c.score for c in score.criteria] == pytest.approx([1.2, 1.2], abs=1e-15)
    assert [c.variance for c in score.criteria] == pytest.approx([0.16, 0.64], abs=1e-15)
    # Summing the criterion variances (0.8) would overstate this total's 0.16: covariance counts.
    assert score.total.variance < sum(c.variance for c in score.criteria)
    assert score.total.ci is None and "fewer than 5" in score.total.reason
    assert score.total.flags == ("insufficient",)


def test_unscored_answers_leave_the_denominator():
    # a1: A, X, X → only one scored answer: R = 1 (not 1/3). a2: D, D, D → 0. b1: B ×3 → 1.2.
    rows = [{"a1": "A", "a2": "D", "b1": "B"}, {"a1": "X", "a2": "D", "b1": "B"},
            {"a1": "X", "a2": "D", "b1": "B"}]
    score = score_domains(wide(rows), {"1": small_questionnaire()})[0]
    assert score.criterion("A").score == pytest.approx(1.0, abs=1e-15)
    assert score.criterion("B").score == pytest.approx(1.2, abs=1e-15)
    assert score.criterion("A").flags == ("insufficient",)  # every question had a scored answer


def test_question_nobody_scored_makes_the_criterion_partial():
    # a2 only X or blank: A_A = {a1}, C_A = 2/1 · R_a1 with R_a1 = (1 + 0.6)/2 = 0.8 → 1.6.
    rows = [{"a1": "A", "a2": "X", "b1": "B"}, {"a1": "B", "a2": None, "b1": "A"}]
    score = score_domains(wide(rows), {"1": small_questionnaire()})[0]
    criterion = score.criterion("A")
    assert criterion.score == pytest.approx(1.6, abs=1e-15)
    assert "partial" in criterion.flags
    assert "partial" not in score.criterion("B").flags
    assert score.partial_criteria == ("A",)
    assert score.total.score == pytest.approx(1.6 + 1.6, abs=1e-15)  # b1: (1.2 + 2)/2 = 1.6


def test_criterion_without_scored_answers_has_no_total():
    rows = [{"a1": "A", "a2": "B", "b1": "X"}, {"a1": "B", "a2": "B", "b1": None}]
    score = score_domains(wide(rows), {"1": small_questionnaire()})[0]
    assert score.criterion("B").score is None
    assert score.criterion("B").reason == scoring.NO_SCORED_ANSWERS
    assert score.criterion("A").score == pytest.approx(0.8 + 0.6, abs=1e-15)
    assert score.total is None
    assert "criterion B" in score.reason
    document = score.to_dict()
    assert document["total"] is None and "criterion B" in document["reason"]


def test_stratum_with_one_respondent_contributes_nothing():
    # G1: three respondents, G2: one. w_G1 = 0.75/3, w_G2 = 0.25. df = 4 − 2 = 2.
    rows = [{"group": "G1", "a1": "A", "a2": "A", "b1": "A"},
            {"group": "G1", "a1": "C", "a2": "A", "b1": "A"},
            {"group": "G1", "a1": "D", "a2": "A", "b1": "A"},
            {"group": "G2", "a1": "B", "a2": "A", "b1": "A"}]
    score = score_domains(wide(rows), {"1": small_questionnaire(groups=True)})[0]
    w1, w2 = 0.25, 0.25
    x = 3 * w1 + w2  # X_a1 = 1
    r = (w1 * (1 + 0.2 + 0) + w2 * 0.6) / x
    # Only a1 varies: z_i = (2/2) · w_i (s_i − R)/X in criterion A; G2's single z is dropped.
    z = np.array([w1 * (1 - r), w1 * (0.2 - r), w1 * (0 - r)]) / x
    expected = 3 / 2 * np.sum((z - z.mean()) ** 2)
    assert score.criterion("A").score == pytest.approx(1 + r, abs=1e-15)
    assert score.total.variance == pytest.approx(expected, rel=1e-13)
    assert score.total.df == 2
    assert score.criterion("B").variance == 0.0


def test_group_weights_are_shares_not_counts():
    # G1 (weight 0.75) answers A, G2 (0.25) answers D, whatever the counts: b1 = 0.75 · 2 = 1.5.
    rows = ([{"group": "G1", "a1": "A", "a2": "A", "b1": "A"}] * 2
            + [{"group": "G2", "a1": "A", "a2": "A", "b1": "D"}] * 7)
    score = score_domains(wide(rows), {"1": small_questionnaire(groups=True)})[0]
    assert score.criterion("B").score == pytest.approx(1.5, abs=1e-14)


def test_unknown_group_is_left_out_and_counted():
    rows = [{"group": "G1", "a1": "A", "a2": "A", "b1": "A"},
            {"group": "G2", "a1": "D", "a2": "D", "b1": "D"},
            {"group": None, "a1": "D", "a2": "D", "b1": "D"},
            {"group": "ZZ", "a1": "D", "a2": "D", "b1": "D"}]
    score = score_domains(wide(rows), {"1": small_questionnaire(groups=True)})[0]
    assert score.n == 2
    assert score.excluded == 2
    assert score.to_dict()["excluded"] == 2
    assert score.total.score == pytest.approx(0.75 * 4, abs=1e-14)


def test_domain_whose_respondents_are_all_left_out():
    rows = [{"group": None, "a1": "A", "a2": "A", "b1": "A"}]
    score = score_domains(wide(rows), {"1": small_questionnaire(groups=True)})[0]
    assert score.n == 0 and score.excluded == 1
    assert score.total is None and "no responses" in score.reason


def test_questionnaire_without_groups_ignores_group_codes():
    rows = [{"group": "G1", "a1": "A", "a2": "A", "b1": "A"},
            {"group": None, "a1": "D", "a2": "D", "b1": "D"}]
    score = score_domains(wide(rows), {"1": small_questionnaire()})[0]
    assert score.n == 2 and score.excluded == 0
    assert score.total.score == pytest.approx(2.0, abs=1e-15)


def test_unknown_option_code_is_an_error():
    with pytest.raises(ValueError, match="option 'Q' is not on its scale"):
        score_domains(wide([{"a1": "Q", "a2": "A", "b1": "A"}]), {"1": small_questionnaire()})


def test_unknown_version_is_an_error():
    with pytest.raises(ValueError, match="version '9'"):
        score_domains(wide([{"a1": "A", "a2": "A", "b1": "A"}], version="9"),
                      {"1": small_questionnaire()})


def test_question_missing_from_the_table_counts_as_unanswered():
    score = score_domains(wide([{"a1": "A", "b1": "B"}] * 5), {"1": small_questionnaire()})[0]
    assert score.partial_criteria == ("A",)
    assert score.criterion("A").score == pytest.approx(2.0, abs=1e-15)


# --- periods and versions --------------------------------------------------------------------


def _random_rows(rng: np.random.Generator, count: int, **fixed) -> list[dict]:
    options = ["A", "B", "C", "D", "X", None]
    return [{"group": rng.choice(["G1", "G2"]), **fixed,
             **{q: options[rng.integers(0, 6)] for q in ("a1", "a2", "b1")}}
            for _ in range(count)]


def test_half_year_pools_its_quarters():
    rng = np.random.default_rng(3)
    rows = (_random_rows(rng, 20, period="2024-Q1") + _random_rows(rng, 25, period="2024-Q2")
            + _random_rows(rng, 15, period="2024-Q3"))
    questionnaires = {"1": small_questionnaire(groups=True)}
    pooled = score_domains(wide(rows), questionnaires, periods=["2024-H1"])
    assert [(s.period, s.n) for s in pooled] == [("2024-H1", 45)]
    relabelled = wide(rows[:45])
    relabelled["period"] = "2024-Q1"  # the same respondents as one domain
    direct = score_domains(relabelled, questionnaires)[0]
    assert pooled[0].total.score == pytest.approx(direct.total.score, rel=1e-14)
    assert pooled[0].total.variance == pytest.approx(direct.total.variance, rel=1e-13)
    assert pooled[0].total.df == 45 - 2


def test_a_quarter_counts_in_every_requested_period():
    rng = np.random.default_rng(4)
    rows = _random_rows(rng, 12, period="2024-Q3") + _random_rows(rng, 9, period="2023-Q3")
    scores = score_domains(wide(rows), {"1": small_questionnaire(groups=True)},
                           periods=["2024-Q3", "2024-H2", "2024", "2023"])
    assert [(s.period, s.n) for s in scores] == [("2023", 9), ("2024", 12), ("2024-H2", 12),
                                                 ("2024-Q3", 12)]


def test_without_periods_every_unit_and_quarter_is_a_domain():
    rng = np.random.default_rng(5)
    rows = (_random_rows(rng, 6, unit="U2", period="2024-Q2")
            + _random_rows(rng, 7, unit="U1", period="2024-Q2")
            + _random_rows(rng, 8, unit="U1", period="2024-Q1"))
    scores = score_domains(wide(rows), {"1": small_questionnaire(groups=True)})
    assert [(s.unit, s.period, s.n) for s in scores] == [
        ("U1", "2024-Q1", 8), ("U1", "2024-Q2", 7), ("U2", "2024-Q2", 6)]


def test_each_version_is_scored_separately():
    version_2 = parse_questionnaire(SMALL.replace("GROUPS\n", "").replace('version: "1"',
                                                                           'version: "2"'))
    rows = wide([{"a1": "A", "a2": "A", "b1": "A"}] * 3 + [{"a1": "D", "a2": "D", "b1": "D"}] * 4)
    rows.loc[3:, "version"] = "2"
    scores = score_domains(rows, {"1": small_questionnaire(), "2": version_2}, periods=["2024"])
    assert [(s.version, s.n, s.total.score) for s in scores] == [("1", 3, 4.0), ("2", 4, 0.0)]


def test_respondent_pooled_province_uses_unit_by_group_strata():
    rng = np.random.default_rng(6)
    rows = _random_rows(rng, 30, unit="U1") + _random_rows(rng, 40, unit="U2")
    pooled = score_domains(wide(rows), {"1": small_questionnaire(groups=True)}, by="province",
                           province="HG")
    assert [(s.unit, s.n) for s in pooled] == [("HG", 70)]
    assert pooled[0].total.df == 70 - 4  # strata: 2 units × 2 groups


# --- intervals and flags ---------------------------------------------------------------------


def test_logit_t_interval_formula():
    score = score_domains(wide(_random_rows(np.random.default_rng(7), 40)),
                          {"1": small_questionnaire(groups=True)}, level=0.9)[0]
    total = score.total
    p = total.score / 4
    half = stats.t.ppf(0.95, total.df) * total.se / (4 * p * (1 - p))
    expected = (4 * special.expit(special.logit(p) - half), 4 * special.expit(special.logit(p) + half))
    assert total.ci == pytest.approx(expected, rel=1e-14)
    assert 0 < total.ci[0] < total.score < total.ci[1] < 4
    assert total.flags == ()


def test_low_reliability_between_5_and_29():
    score = score_domains(wide(_random_rows(np.random.default_rng(8), 12)),
                          {"1": small_questionnaire(groups=True)})[0]
    assert score.total.flags == ("low_reliability",)
    assert score.total.ci is not None


def test_score_at_the_maximum_has_no_interval():
    score = score_domains(wide([{"a1": "A", "a2": "A", "b1": "A"}] * 6),
                          {"1": small_questionnaire()})[0]
    assert score.total.score == 4.0
    assert score.total.ci is None and "bound" in score.total.reason
    assert score.to_dict()["total"]["ci"] is None


def test_all_answers_alike_give_zero_se_and_no_interval():
    score = score_domains(wide([{"a1": "B", "a2": "B", "b1": "B"}] * 6),
                          {"1": small_questionnaire()})[0]
    assert score.total.score == pytest.approx(2.4, abs=1e-14)
    assert score.total.se == 0.0
    assert score.total.ci is None and "standard error is 0" in score.total.reason


def test_interval_gaps():
    gaps = interval_gap(score=[2.0, 2.0, 0.0, 4.0, 2.0], se=[0.1, 0.0, 0.1, 0.1, 0.1],
                        maximum=4.0, df=[10, 10, 10, 10, 0])
    assert list(gaps) == [GAP_NONE, GAP_ZERO_SE, GAP_AT_BOUND, GAP_AT_BOUND, GAP_FEW_DF]
    lower, upper = logit_t_interval([2.0, 2.0], [0.1, 0.1], 4.0, [10, 0.5])
    assert np.isfinite(lower[0]) and np.isnan(lower[1]) and np.isnan(upper[1])


def test_json_document_shape():
    score = score_domains(wide(_random_rows(np.random.default_rng(9), 35)),
                          {"1": small_questionnaire(groups=True)})[0]
    document = score.to_dict()
    assert {"unit", "period", "questionnaire", "version", "n", "total", "criteria"} <= set(document)
    assert document["questionnaire"] == "small" and document["version"] == "1"
    assert set(document["total"]) >= {"score", "max", "se", "df", "ci", "flags"}
    assert isinstance(document["total"]["df"], int)
    assert [c["code"] for c in document["criteria"]] == ["A", "B"]
    assert document["total"]["score"] == score.total.score  # full precision, no rounding


# --- the array estimator against a loop-by-loop implementation ---------------------------------


def loop_reference(fractions, points, criterion, criterion_points, domain, cell, cell_weight,
                   stratum, n_domains):
    """SCORING.md written as plain loops, for comparison."""
    n, n_questions = fractions.shape
    weight = [cell_weight[cell[i]] / sum(1 for j in range(n) if cell[j] == cell[i])
              for i in range(n)]
    results = []
    for d in range(n_domains):
        members = [i for i in range(n) if domain[i] == d]
        x = [sum(weight[i] for i in members if not math.isnan(fractions[i, q]))
             for q in range(n_questions)]
        y = [sum(weight[i] * points[q] * fractions[i, q] for i in members
                 if not math.isnan(fractions[i, q])) for q in range(n_questions)]
        ratio = [y[q] / x[q] if x[q] > 0 else 0.0 for q in range(n_questions)]
        scores, scale = [], {}
        for k, total_points in enumerate(criterion_points):
            answered = [q for q in range(n_questions) if criterion[q] == k and x[q] > 0]
            if not answered:
                scores.append(math.nan)
                continue
            scale[k] = total_points / sum(points[q] for q in answered)
            scores.append(scale[k] * sum(ratio[q] for q in answered))
        z = {i: [0.0] * len(criterion_points) for i in members}
        for i in members:
            for q in range(n_questions):
                if not math.isnan(fractions[i, q]) and x[q] > 0:
                    k = criterion[q]
                    z[i][k] += scale[k] * weight[i] * (points[q] * fractions[i, q] - ratio[q]) / x[q]
        variances = [0.0] * (len(criterion_points) + 1)
        for h in {stratum[i] for i in members}:
            in_h = [i for i in members if stratum[i] == h]
            if len(in_h) < 2:
                continue
            for column in range(len(criterion_points) + 1):
                values = [z[i][column] if column < len(criterion_points) else sum(z[i])
                          for i in in_h]
                mean = sum(values) / len(values)
                variances[column] += len(in_h) / (len(in_h) - 1) * sum((v - mean) ** 2
                                                                       for v in values)
        results.append((scores, sum(scores), variances))
    return results


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("block_size", [7, 16384])
def test_arrays_match_the_loop_reference(layout, block_size, monkeypatch):
    monkeypatch.setattr(scoring, "BLOCK_SIZE", block_size)
    rng = np.random.default_rng(11)
    n, n_domains = 160, 5
    criterion = np.array([1, 0, 1, 2, 0, 2, 1])  # questions not grouped by criterion
    points = rng.uniform(0.5, 2, criterion.size)
    criterion_points = np.bincount(criterion, weights=points)
    fractions = rng.choice([1, 0.6, 0.2, 0, np.nan], size=(n, criterion.size))
    domain = rng.integers(0, n_domains, n)
    unit, group = rng.integers(0, 3, n), rng.integers(0, 2, n)
    fractions[domain == 2, 3] = fractions[domain == 2, 5] = np.nan  # criterion 2 undefined
    fractions[domain == 3, 0] = np.nan  # criterion 1 partial
    cell = domain * 2 + group
    stratum = (domain * 3 + unit) * 2 + group  # pooled-province strata, finer than the cells
    cell_weight = np.tile([0.7, 0.3], n_domains)
    result = estimate_domains(np.array(fractions, order=layout), points, criterion,
                              criterion_points, domain, cell, cell_weight, stratum, n_domains)
    expected = loop_reference(fractions, points, criterion, criterion_points, domain, cell,
                              cell_weight, stratum, n_domains)
    for d, (criterion_scores, total, variances) in enumerate(expected):
        np.testing.assert_allclose(result.criterion_score[d], criterion_scores, rtol=1e-13)
        defined = ~np.isnan(criterion_scores)
        np.testing.assert_allclose(result.criterion_variance[d][defined],
                                   np.array(variances[:3])[defined], rtol=1e-12)
        if math.isnan(total):
            assert math.isnan(result.total[d]) and math.isnan(result.total_variance[d])
        else:
            assert result.total[d] == pytest.approx(total, rel=1e-13)
            assert result.total_variance[d] == pytest.approx(variances[3], rel=1e-12)
    assert list(result.criterion_partial[3]) == [False, True, False]
    assert result.df[0] == result.n[0] - len(np.unique(stratum[domain == 0]))


def test_strata_coarser_than_weighting_cells():
    rng = np.random.default_rng(12)
    n = 90
    fractions = rng.choice([1, 0.6, 0.2, 0, np.nan], size=(n, 3))
    domain, group = rng.integers(0, 2, n), rng.integers(0, 3, n)
    args = ([1, 1, 2], [0, 0, 1], [2, 2])
    cell_weight = np.tile([0.5, 0.3, 0.2], 2)
    result = estimate_domains(fractions, *args, domain, domain * 3 + group, cell_weight, domain)
    expected = loop_reference(fractions, *args, domain, domain * 3 + group, cell_weight, domain, 2)
    for d in range(2):
        assert result.total_variance[d] == pytest.approx(expected[d][2][2], rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), factor=st.floats(0.01, 100))
def test_invariant_to_order_and_weight_scale(seed, factor):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    fractions = rng.choice([1, 0.6, 0.2, 0, np.nan], size=(n, 4))
    domain, group = rng.integers(0, 3, n), rng.integers(0, 2, n)
    cell = domain * 2 + group
    args = ([1.5, 0.5, 1, 1], [0, 0, 1, 1], [2, 2])
    weights = np.tile([0.6, 0.4], 3)
    first = estimate_domains(fractions, *args, domain, cell, weights, cell, 3)
    order = rng.permutation(n)
    second = estimate_domains(fractions[order], *args, domain[order], cell[order],
                              weights * factor, cell[order], 3)
    np.testing.assert_allclose(second.total, first.total, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(second.total_variance, first.total_variance, rtol=1e-9,
                               atol=1e-14)
    with np.errstate(invalid="ignore"):
        defined = np.isfinite(first.criterion_score)
        np.testing.assert_allclose(np.nansum(first.criterion_score, axis=1)[np.all(defined, 1)],
                                   first.total[np.all(defined, 1)], rtol=1e-14)


@pytest.mark.parametrize(("change", "message"), [
    ({"fractions": np.full((2, 3), 1.5)}, "must lie in"),
    ({"domain": np.array([0, 1])}, "every weighting cell must lie within one domain"),
    ({"stratum": np.array([0, 0]), "cell": np.array([0, 1]), "domain": np.array([0, 1]),
      "cell_weight": np.ones(2)}, "every stratum must lie within one domain"),
    ({"cell_weight": np.array([0.0])}, "positive"),
    ({"question_criterion": np.array([0, 0, 0])}, "every criterion"),
])
def test_array_input_errors(change, message):
    args = {"fractions": np.full((2, 3), 0.5), "question_points": [1, 1, 2],
            "question_criterion": np.array([0, 0, 1]), "criterion_points": [2, 2],
            "domain": np.array([0, 0]), "cell": np.array([0, 0]), "cell_weight": np.ones(1),
            "stratum": np.array([0, 0])}
    args.update(change)
    with pytest.raises(ValueError, match=message):
        estimate_domains(**args)


# --- agreement with R's survey package (tests/reference/make_reference.R) ----------------------


def reference_responses() -> pd.DataFrame:
    responses = pd.read_csv(REFERENCE / "responses.csv", dtype=str, keep_default_na=False)
    responses = responses.astype(object).where(responses != "", None)
    responses["version"] = "1"
    return responses


def reference_expected() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "expected.csv", dtype={"estimate": float, "se": float})


def compare_with_reference(scores, kind: str) -> float:
    """Largest relative difference with expected.csv over the given domains (asserts coverage)."""
    expected = reference_expected()
    worst, compared = 0.0, 0
    for score in scores:
        for measure, estimate in [("total", score.total), *((c.code, c) for c in score.criteria)]:
            row = expected[(expected.kind == kind) & (expected.unit == score.unit)
                           & (expected.period == score.period) & (expected.measure == measure)]
            assert len(row) == 1, (score.unit, score.period, measure)
            row = row.iloc[0]
            assert estimate.df == row.df and score.n == row.n
            worst = max(worst, abs(estimate.score - row.estimate) / abs(row.estimate),
                        abs(estimate.se - row.se) / row.se)
            compared += 1
    assert compared == len(scores) * 4
    return worst


def test_reference_data_has_the_intended_features():
    responses = reference_responses()
    assert responses["group"].isna().sum() == 1
    assert (responses == "X").to_numpy().sum() > 0
    u2_q1 = responses[(responses.unit == "U2") & (responses.period == "2024-Q1")]
    assert not u2_q1["3.3"].isin(["A", "B", "C", "D"]).any()
    u3_q1 = responses[(responses.unit == "U3") & (responses.period == "2024-Q1")]
    assert (u3_q1.group == "CB").sum() == 1


def test_unit_scores_agree_with_r_survey():
    questionnaires = {"1": load_questionnaire(REFERENCE / "questionnaire.yaml")}
    responses = reference_responses()
    quarters = score_domains(responses, questionnaires)
    years = score_domains(responses, questionnaires, periods=["2024"])
    assert len(quarters) == 6 and len(years) == 3
    assert compare_with_reference(quarters + years, "unit") < 1e-10
    u2_q1 = next(s for s in quarters if (s.unit, s.period) == ("U2", "2024-Q1"))
    assert u2_q1.partial_criteria == ("3",)
    assert next(s for s in quarters if s.unit == "U1" and s.period == "2024-Q1").excluded == 1


def test_pooled_province_agrees_with_r_survey():
    questionnaires = {"1": load_questionnaire(REFERENCE / "questionnaire.yaml")}
    pooled = score_domains(reference_responses(), questionnaires, by="province")
    assert [s.period for s in pooled] == ["2024-Q1", "2024-Q2"]
    assert compare_with_reference(pooled, "province") < 1e-10
