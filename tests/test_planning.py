"""Sample-size planning: target interval half-width and Slovin's formula."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from survey.planning import expected_se, responses_needed, slovin_sample_size


@pytest.mark.parametrize(("transactions", "margin", "expected"), [
    (400, 0.05, 200),  # 400 / (1 + 1) exactly: binary rounding must not add one
    (1000, 0.05, 286),  # 285.71…
    (10_000, 0.05, 385),  # 384.6…
    (5000, 0.1, 99),  # 98.04…
    (1, 0.05, 1),
    (0, 0.05, 0),
])
def test_slovin(transactions, margin, expected):
    assert slovin_sample_size(transactions, margin) == expected


def test_slovin_approaches_one_over_e_squared():
    assert slovin_sample_size(10**9) == 400


@pytest.mark.parametrize(("transactions", "margin"), [(-1, 0.05), (10.5, 0.05), (100, 0), (100, 1)])
def test_slovin_rejects_bad_input(transactions, margin):
    with pytest.raises(ValueError):
        slovin_sample_size(transactions, margin)


def test_expected_se_scales_with_root_n():
    assert expected_se(0.4, 100, 400) == pytest.approx(0.2, rel=1e-15)


@pytest.mark.parametrize(("se", "n", "half_width", "strata"), [
    (0.21, 123, 0.3, 3), (0.5, 40, 0.25, 1), (0.08, 200, 0.05, 3), (1.2, 30, 0.4, 2)])
def test_responses_needed_is_the_smallest_sufficient_n(se, n, half_width, strata):
    needed = responses_needed(se, n, half_width, strata=strata)

    def half(responses: int) -> float:
        return stats.t.ppf(0.975, responses - strata) * se * math.sqrt(n / responses)

    assert half(needed) <= half_width
    assert needed == 5 or half(needed - 1) > half_width


def test_responses_needed_by_hand():
    # z-based first guess: 123 · (1.96 · 0.21 / 0.3)² ≈ 232.3; the t quantile (df ≈ 230) adds ~1.
    assert responses_needed(0.21, 123, 0.3, strata=3) == 234


def test_responses_needed_never_below_five():
    assert responses_needed(0.01, 50, 2.0) == 5
    assert responses_needed(0.0, 50, 1.0) == 5


def test_a_higher_level_needs_more():
    assert responses_needed(0.3, 80, 0.2, level=0.99) > responses_needed(0.3, 80, 0.2, level=0.9)


@pytest.mark.parametrize("arguments", [(-0.1, 10, 0.2), (0.1, 0, 0.2), (0.1, 10, 0.0),
                                       (float("nan"), 10, 0.2)])
def test_responses_needed_rejects_bad_input(arguments):
    with pytest.raises(ValueError):
        responses_needed(*arguments)
