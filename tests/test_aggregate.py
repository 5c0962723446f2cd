"""Provincial aggregates: unit-average (with Satterthwaite df) and respondent-pooled."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats
from test_scoring import (  # tests/ is on sys.path (pytest prepend import mode)
    REFERENCE,
    _random_rows,
    compare_with_reference,
    reference_responses,
    small_questionnaire,
    wide,
)

from survey.aggregate import respondent_pooled, satterthwaite_df, unit_average
from survey.questionnaire import load_questionnaire
from survey.scoring import score_domains


def unit_scores(seed: int = 1, sizes=(40, 25, 60)):
    rng = np.random.default_rng(seed)
    rows = []
    for i, size in enumerate(sizes):
        rows += _random_rows(rng, size, unit=f"U{i + 1}")
    return score_domains(wide(rows), {"1": small_questionnaire(groups=True)})


def test_unit_average_by_hand():
    scores = unit_scores()
    province = unit_average(scores, province="HG")
    assert len(province) == 1
    result = province[0]
    totals = np.array([s.total.score for s in scores])
    variances = np.array([s.total.variance for s in scores])
    dfs = np.array([s.total.df for s in scores])
    assert result.total.score == pytest.approx(totals.mean(), rel=1e-14)
    assert result.total.variance == pytest.approx(variances.sum() / 9, rel=1e-14)
    df = (variances.sum() / 9) ** 2 / np.sum((variances / 9) ** 2 / dfs)
    assert result.total.df == pytest.approx(df, rel=1e-13)
    p = result.total.score / 4
    half = stats.t.ppf(0.975, df) * result.total.se / (4 * p * (1 - p))
    assert result.total.ci == pytest.approx(
        (4 * special.expit(special.logit(p) - half), 4 * special.expit(special.logit(p) + half)),
        rel=1e-13)
    assert result.n == 125 and result.units == 3
    assert result.method == "unit-average" and result.province == "HG"
    criterion_a = [s.criterion("A") for s in scores]
    assert result.criteria[0].score == pytest.approx(np.mean([c.score for c in criterion_a]),
                                                     rel=1e-14)
    assert result.criteria[0].df == pytest.approx(
        satterthwaite_df(np.full(3, 1 / 3), np.array([c.variance for c in criterion_a]),
                         np.array([c.df for c in criterion_a]), np.zeros(3, int), 1)[0],
        rel=1e-13)
    assert sum(c.score for c in result.criteria) == pytest.approx(result.total.score, rel=1e-14)


def test_unit_average_with_sizes():
    scores = unit_scores()
    sizes = {"U1": 1.0, "U2": 3.0, "U3": 6.0}
    result = unit_average(scores, sizes=sizes)[0]
    weights = np.array([0.1, 0.3, 0.6])
    assert result.total.score == pytest.approx(
        np.sum(weights * [s.total.score for s in scores]), rel=1e-14)
    assert result.total.variance == pytest.approx(
        np.sum(weights**2 * [s.total.variance for s in scores]), rel=1e-14)
    with pytest.raises(ValueError, match="no size for unit U3"):
        unit_average(scores, sizes={"U1": 1.0, "U2": 1.0})


def test_unit_without_a_total_is_left_out_and_named():
    rows = wide(_random_rows(np.random.default_rng(2), 30, unit="U1")
                + [{"unit": "U2", "group": "G1", "a1": "A", "a2": "B", "b1": "X"}] * 6)
    scores = score_domains(rows, {"1": small_questionnaire(groups=True)})
    result = unit_average(scores)[0]
    assert result.units == 1 and result.n == 30  # U2's six responses are not averaged
    assert result.total.score == pytest.approx(scores[0].total.score, rel=1e-15)
    assert [unit for unit, _ in result.left_out] == ["U2"]
    assert "criterion B" in result.left_out[0][1]
    assert result.to_dict()["left_out"][0]["unit"] == "U2"


def test_groups_by_period_and_version():
    rng = np.random.default_rng(3)
    rows = (_random_rows(rng, 20, unit="U1", period="2024-Q1")
            + _random_rows(rng, 20, unit="U2", period="2024-Q1")
            + _random_rows(rng, 20, unit="U1", period="2024-Q2"))
    results = unit_average(score_domains(wide(rows), {"1": small_questionnaire(groups=True)}))
    assert [(r.period, r.units) for r in results] == [("2024-Q1", 2), ("2024-Q2", 1)]


def test_respondent_pooled_agrees_with_r_survey():
    questionnaires = {"1": load_questionnaire(REFERENCE / "questionnaire.yaml")}
    pooled = respondent_pooled(reference_responses(), questionnaires, province="province")
    assert [(p.period, p.units, p.method) for p in pooled] == [
        ("2024-Q1", 3, "respondent-pooled"), ("2024-Q2", 3, "respondent-pooled")]
    as_domains = score_domains(reference_responses(), questionnaires, by="province")
    assert compare_with_reference(as_domains, "province") < 1e-10
    assert pooled[0].total == as_domains[0].total


def test_pooled_follows_respondents_and_unit_average_follows_units():
    rng = np.random.default_rng(4)
    rows = ([{"unit": "U1", "group": g, "a1": "A", "a2": "A", "b1": "A"} for g in ("G1", "G2")] * 5
            + _random_rows(rng, 200, unit="U2")
            + [{"unit": "U3", "group": g, "a1": "D", "a2": "C", "b1": "D"} for g in ("G1", "G2")] * 5)
    table = wide(rows)
    questionnaires = {"1": small_questionnaire(groups=True)}
    units = score_domains(table, questionnaires)
    average = unit_average(units)[0]
    pooled = respondent_pooled(table, questionnaires)[0]
    big = units[1].total.score
    assert average.total.score == pytest.approx(np.mean([u.total.score for u in units]), rel=1e-14)
    assert abs(pooled.total.score - big) < abs(average.total.score - big)
    assert pooled.n == average.n == 220
