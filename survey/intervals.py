"""Confidence intervals on a bounded score, and the reliability rules that decide whether to show one.

A score lives on [0, M] (M = 22 for the whole survey, P_k for one criterion). The interval is the
logit-t interval of SCORING.md, so it never leaves [0, M]:

    p = T / M,   ℓ = ln(p / (1 − p)),   se_ℓ = SE / (M · p · (1 − p)),
    CI = M · expit(ℓ ± t_{1−α/2, df} · se_ℓ)

There is no interval when SE = 0, p ∈ {0, 1}, df < 1, or n < 5 (SCORING.md, "Reliability flags").

Floating point: a question every respondent answered the same way gives R_q = Y_q / X_q, which may
differ from the exact answer value by one unit in the last place, and then T differs from 0 or M and
SE from 0 by ~1e-16. Such values are treated as exact: a score within ``BOUND_TOLERANCE · M`` of a
bound counts as on the bound, and an SE at most ``BOUND_TOLERANCE · M`` counts as 0 (both reported
with the reason "… no interval").
"""

from __future__ import annotations

import numpy as np
from scipy import special

MIN_RESPONSES_FOR_INTERVAL = 5
MIN_RELIABLE_RESPONSES = 30
BOUND_TOLERANCE = 1e-12

INSUFFICIENT = "insufficient"
LOW_RELIABILITY = "low_reliability"


def check_level(level: float) -> float:
    """The confidence level as a float in (0, 1); ValueError otherwise."""
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level {level!r} must be between 0 and 1 (e.g. 0.95)")
    return level


def t_quantile(level: float, df) -> np.ndarray:
    """t_{1−α/2, df} with α = 1 − level (NaN where df < 1 or df is NaN)."""
    df = np.asarray(df, dtype=float)
    usable = np.isfinite(df) & (df >= 1)
    quantile = np.full(df.shape, np.nan)
    # Domain df are whole numbers with few distinct values: one ppf call per distinct df.
    distinct, position = np.unique(df[usable], return_inverse=True)
    # scipy.special directly (scipy.stats' t.ppf is this function; importing scipy.stats
    # costs a command line 0.7 s)
    quantile[usable] = special.stdtrit(distinct, 0.5 + check_level(level) / 2.0)[position]
    return quantile


def logit_t_interval(score, se, maximum, df, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise logit-t interval (lower, upper) on [0, maximum]; NaN where there is none.

    No interval where SE = 0, p = score/maximum ∈ {0, 1} or df < 1 (see `interval_gap`). The
    n < 5 rule is applied by the caller, which knows n.
    """
    score, se, maximum, df = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (score, se, maximum, df))
    )
    lower = np.full(score.shape, np.nan)
    upper = np.full(score.shape, np.nan)
    ok = interval_gap(score, se, maximum, df) == 0
    if not ok.any():
        return lower, upper
    p = score[ok] / maximum[ok]
    centre = special.logit(p)
    half = t_quantile(level, df[ok]) * se[ok] / (maximum[ok] * p * (1.0 - p))
    lower[ok] = maximum[ok] * special.expit(centre - half)
    upper[ok] = maximum[ok] * special.expit(centre + half)
    return lower, upper


# Why an interval is missing: codes returned by `interval_gap`, texts by `gap_reason`.
GAP_NONE, GAP_UNDEFINED, GAP_FEW_DF, GAP_AT_BOUND, GAP_ZERO_SE = 0, 1, 2, 3, 4


def interval_gap(score, se, maximum, df) -> np.ndarray:
    """Element-wise reason code for a missing interval (0 = an interval exists)."""
    score, se, maximum, df = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (score, se, maximum, df))
    )
    tolerance = BOUND_TOLERANCE * maximum
    gap = np.zeros(score.shape, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        zero_se = ~(se > tolerance)
        at_bound = (score <= tolerance) | (score >= maximum - tolerance)
        few_df = (df < 1) | (np.isnan(df) & ~zero_se)
    undefined = ~np.isfinite(score) | ~np.isfinite(se)
    gap[zero_se] = GAP_ZERO_SE
    gap[at_bound] = GAP_AT_BOUND
    gap[few_df] = GAP_FEW_DF
    gap[undefined] = GAP_UNDEFINED
    return gap


def gap_reason(gap: int, df: float | None = None) -> str | None:
    """The reason text for an `interval_gap` code (None for 0)."""
    if gap == GAP_NONE:
        return None
    if gap == GAP_UNDEFINED:
        return "the score is undefined"
    if gap == GAP_FEW_DF:
        shown = "?" if df is None or not np.isfinite(df) else f"{df:g}"
        return f"fewer than 1 degree of freedom (df = {shown}): no interval"
    if gap == GAP_AT_BOUND:
        return "the score is at its bound (0 or the maximum): the logit interval is undefined"
    return "the standard error is 0 (every answer alike): no interval"


def reliability_flag(n: int) -> str | None:
    """'insufficient' for n < 5 (no interval), 'low_reliability' for 5 ≤ n < 30, else None."""
    if n < MIN_RESPONSES_FOR_INTERVAL:
        return INSUFFICIENT
    if n < MIN_RELIABLE_RESPONSES:
        return LOW_RELIABILITY
    return None


def insufficient_reason(n: int) -> str:
    return (f"fewer than {MIN_RESPONSES_FOR_INTERVAL} responses (n = {n}): "
            "too few for an interval")
