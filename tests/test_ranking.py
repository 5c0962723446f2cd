"""Rank confidence sets (SCORING.md, "Rank confidence sets"): hand-computed cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_scoring import small_questionnaire, wide

from survey.ranking import distinguishable_sentence, rank_critical_value, rank_sets, ranking_of
from survey.scoring import score_domains

# Φ⁻¹ values from R (qnorm), not from the code under test.
Z_975 = 1.959963984540054  # K = 2 (marginal and simultaneous), 95 %
Z_MARGINAL_3 = 2.241402727604946  # Φ⁻¹(1 − 0.05/4)
Z_SIMULTANEOUS_3 = 2.39397979981851  # Φ⁻¹(1 − 0.05/6)


def test_critical_values():
    assert rank_critical_value(2) == pytest.approx(Z_975, rel=1e-12)
    assert rank_critical_value(2, simultaneous=True) == pytest.approx(Z_975, rel=1e-12)
    assert rank_critical_value(3) == pytest.approx(Z_MARGINAL_3, rel=1e-12)
    assert rank_critical_value(3, simultaneous=True) == pytest.approx(Z_SIMULTANEOUS_3, rel=1e-12)
    assert math.isnan(rank_critical_value(1))


def test_two_units_apart_and_overlapping():
    # s = √(0.5² + 0.5²) = 0.7071, c·s = 1.386 < 2: the two units are told apart.
    sets = rank_sets([10.0, 8.0], [0.5, 0.5])
    assert sets["lower"].tolist() == [1, 2] and sets["upper"].tolist() == [1, 2]
    # SE 1 each: c·s = 2.772 > 2: both could be first or second.
    sets = rank_sets([10.0, 8.0], [1.0, 1.0])
    assert sets["lower"].tolist() == [1, 1] and sets["upper"].tolist() == [2, 2]
    assert int(sets["k"]) == 2


def test_ties_share_the_rank_and_the_set():
    # c·s = 2.2414 · 0.1414 = 0.317: the tied pair is apart from the third only.
    sets = rank_sets([5.0, 5.0, 1.0], [0.1, 0.1, 0.1])
    assert sets["rank"].tolist() == [1, 1, 3]
    assert sets["lower"].tolist() == [1, 1, 3]
    assert sets["upper"].tolist() == [2, 2, 3]


def test_marginal_and_simultaneous_differ_by_hand():
    # s = 1 for every pair (SE = 1/√2). T = 0, 2.3, 10: 2.3 > 2.2414 (marginal) but < 2.3940.
    se = [1 / math.sqrt(2)] * 3
    marginal = rank_sets([0.0, 2.3, 10.0], se)
    assert list(zip(marginal["lower"], marginal["upper"], strict=True)) == [(3, 3), (2, 2), (1, 1)]
    simultaneous = rank_sets([0.0, 2.3, 10.0], se, simultaneous=True)
    assert list(zip(simultaneous["lower"], simultaneous["upper"], strict=True)) == [
        (2, 3), (2, 3), (1, 1)]


def test_unit_without_se_gets_no_set_and_is_not_counted():
    sets = rank_sets([5.0, 4.0, 3.0], [0.1, np.nan, 0.1])
    assert int(sets["k"]) == 2  # K counts the units with a defined SE
    assert np.isnan(sets["lower"][1]) and np.isnan(sets["rank"][1])
    assert sets["lower"][[0, 2]].tolist() == [1, 2] and sets["upper"][[0, 2]].tolist() == [1, 2]


def test_single_unit():
    sets = rank_sets([5.0], [0.3])
    assert sets["lower"].tolist() == [1] and sets["upper"].tolist() == [1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 22), st.floats(0.01, 3)), min_size=2, max_size=15),
       st.floats(0.5, 0.99))
def test_simultaneous_sets_contain_the_marginal_ones(units, level):
    totals, errors = (np.array(v) for v in zip(*units, strict=True))
    marginal = rank_sets(totals, errors, level)
    simultaneous = rank_sets(totals, errors, level, simultaneous=True)
    assert np.all(simultaneous["lower"] <= marginal["lower"])
    assert np.all(simultaneous["upper"] >= marginal["upper"])
    for sets in (marginal, simultaneous):
        assert np.all(sets["lower"] <= sets["rank"]) and np.all(sets["rank"] <= sets["upper"])
        assert np.all(sets["lower"] >= 1) and np.all(sets["upper"] <= len(units))


def test_ranking_of_unit_scores_lists_left_out_units():
    rng = np.random.default_rng(3)
    options = ["A", "B", "C", "D"]
    rows = [{"unit": "U1", "unit_name": "Một", "a1": "A", "a2": "A", "b1": options[i % 2]}
            for i in range(20)]
    rows += [{"unit": "U2", "unit_name": "Hai", "a1": options[rng.integers(2, 4)], "a2": "D",
              "b1": options[rng.integers(2, 4)]} for _ in range(20)]
    rows += [{"unit": "U3", "unit_name": "Ba", "a1": "B", "a2": "B", "b1": "B"}]  # n = 1
    scores = score_domains(wide(rows), {"1": small_questionnaire()})
    ranking = ranking_of(scores)
    assert [(u.unit, u.rank, u.lower, u.upper) for u in ranking.units] == [
        ("U1", 1, 1, 1), ("U2", 2, 2, 2), ("U3", None, None, None)]
    assert ranking.k == 2 and ranking.left_out[0].unit_name == "Ba"
    assert "degree of freedom" in ranking.left_out[0].reason
    assert ranking.distinguishable() == [("U1", "U2")]
    assert distinguishable_sentence(ranking).startswith("1 trong 1 cặp đơn vị khác nhau rõ ràng")
    assert "U1 cao hơn U2" in distinguishable_sentence(ranking)
    assert "U1 above U2" in distinguishable_sentence(ranking, "en")
    document = ranking.to_dict()
    assert [u["unit"] for u in document["units"]] == ["U1", "U2"]
    assert document["left_out"][0]["unit"] == "U3"
