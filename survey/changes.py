"""Change of a score between two periods, with its sampling error (SCORING.md, "Change").

The two periods are independent samples:

    D = T₁ − T₀,   V_D = V₁ + V₀,   df = V_D² / (V₁²/df₁ + V₀²/df₀)   (Welch–Satterthwaite)
    CI = D ± t_{1−α/2, df} · √V_D,   p = 2 · P(t_df > |D| / √V_D)

A change is tested only when both sides have a defined SE > 0 (SCORING.md, "Small domains"): a
side with V = 0 (every answer alike) or an undefined V (df < 1) makes D an untested difference,
shown with no SE, df, CI, p-value or MDC, and the reason. (`welch_satterthwaite_df` on its own still
lets a side with V = 0 add nothing to the denominator.)

Minimum detectable change (MDC): the smallest true change a two-sided test at level α detects with
the given power, MDC = (z_{1−α/2} + z_{power}) · √V_D; for 95 % and 80 % power the multiplier is
1.959964 + 0.841621 = 2.801585 (normal quantiles, not t: it is a planning figure).

Basis: versions with the same criteria and maxima (`Questionnaire.structure()`) compare in points.
Otherwise both sides are put on the percentage of their maximum (100 · T / M, variance scaled by
(100 / M)²) and `basis` says "percent"; criteria are then compared where the code exists in both.

Decisions where SCORING.md is silent:
* If either side has fewer than 5 responses (for a criterion: its own n_k) the change gets no CI,
  p-value or MDC ("insufficient"); if either side has fewer than 30, the flag "low_reliability".
* The MDC is given only where the test is.
* A criterion change carries the flag "partial" when the criterion is partial on either side.
* Benjamini–Hochberg adjusted p-values (`compare_units`) are computed across the units of one
  view, separately for the total and for each criterion code, over the units that have a p-value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from math import isfinite
from typing import Any

import numpy as np
from scipy import special

from survey.intervals import (
    INSUFFICIENT,
    LOW_RELIABILITY,
    MIN_RELIABLE_RESPONSES,
    MIN_RESPONSES_FOR_INTERVAL,
    check_level,
    t_quantile,
)
from survey.scoring import PARTIAL, DomainScore, Estimate, json_number

POINTS, PERCENT = "points", "percent"
DEFAULT_POWER = 0.8


def welch_satterthwaite_df(variance_1, df_1, variance_0, df_0) -> np.ndarray:
    """Welch–Satterthwaite df of V₁ + V₀; NaN when V₁ + V₀ = 0."""
    variance_1, df_1, variance_0, df_0 = (np.asarray(v, dtype=float)
                                          for v in (variance_1, df_1, variance_0, df_0))
    with np.errstate(divide="ignore", invalid="ignore"):
        term_1 = np.where(variance_1 > 0, variance_1**2 / df_1, 0.0)
        term_0 = np.where(variance_0 > 0, variance_0**2 / df_0, 0.0)
        total = variance_1 + variance_0
        return np.where(total > 0, total**2 / (term_1 + term_0), np.nan)


def minimum_detectable_change(se, level: float = 0.95, power: float = DEFAULT_POWER) -> np.ndarray:
    """(z_{1−α/2} + z_{power}) · SE of the difference (2.80 · SE at 95 % and 80 % power)."""
    multiplier = special.ndtri(0.5 + check_level(level) / 2.0) + special.ndtri(check_level(power))
    return multiplier * np.asarray(se, dtype=float)


def change_arrays(score_1, variance_1, df_1, score_0, variance_0, df_0,
                  level: float = 0.95, power: float = DEFAULT_POWER) -> dict[str, np.ndarray]:
    """Element-wise D, V_D, Welch df, CI bounds, two-sided p-value and MDC (NaN where undefined)."""
    score_1, variance_1, score_0, variance_0 = (np.asarray(v, dtype=float)
                                                for v in (score_1, variance_1, score_0, variance_0))
    change = score_1 - score_0
    tested = (variance_1 > 0) & (variance_0 > 0) & np.isfinite(change)  # both SE defined, > 0
    variance = np.where(tested, variance_1 + variance_0, np.nan)
    df = np.where(tested, welch_satterthwaite_df(variance_1, df_1, variance_0, df_0), np.nan)
    se = np.sqrt(variance)
    usable = tested & (df >= 1)
    quantile = t_quantile(level, np.where(usable, df, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = np.where(usable, 2.0 * special.stdtr(np.where(usable, df, 1), -(np.abs(change) / se)),
                           np.nan)
    return {
        "change": change,
        "variance": variance,
        "df": df,
        "lower": np.where(usable, change - quantile * se, np.nan),
        "upper": np.where(usable, change + quantile * se, np.nan),
        "p_value": p_value,
        "mdc": np.where(usable, minimum_detectable_change(se, level, power), np.nan),
    }


def benjamini_hochberg(p_values) -> np.ndarray:
    """BH-adjusted p-values over the finite entries: p_(i) · m / i for the i-th smallest of m,
    then the running minimum from the largest down, capped at 1 (as R's p.adjust("BH") and
    scipy.stats.false_discovery_control, whose steps these are)."""
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full(p_values.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p_values))
    if finite.size == 1:
        adjusted[finite] = p_values[finite]
    elif finite.size:
        order = np.argsort(p_values[finite], kind="stable")
        m = finite.size
        ranked = p_values[finite][order] * (m / np.arange(1, m + 1))
        np.minimum.accumulate(ranked[::-1], out=ranked[::-1])
        adjusted[finite[order]] = np.clip(ranked, 0.0, 1.0)
    return adjusted


@dataclass(frozen=True)
class ChangeEstimate:
    """The change of one measure (the total when `code` is None) between two periods."""

    code: str | None
    current: float | None
    baseline: float | None
    change: float | None
    variance: float | None
    df: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    minimum_detectable: float | None
    flags: tuple[str, ...] = ()
    reason: str | None = None
    p_adjusted: float | None = None

    @property
    def se(self) -> float | None:
        return None if self.variance is None else float(np.sqrt(self.variance))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.code is None else {"code": self.code}
        out.update(current=self.current, baseline=self.baseline, change=self.change, se=self.se,
                   df=json_number(self.df), ci=list(self.ci) if self.ci else None,
                   p_value=self.p_value, p_adjusted=self.p_adjusted,
                   mdc=self.minimum_detectable, flags=list(self.flags))
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Change:
    """Current period against a baseline period for one unit (or the province)."""

    unit: str
    questionnaire: str
    period: str
    baseline_period: str
    version: str
    baseline_version: str
    basis: str
    n: int
    baseline_n: int
    level: float
    power: float
    total: ChangeEstimate | None
    criteria: tuple[ChangeEstimate, ...]
    reason: str | None = None
    index: str | None = None  # set on the change of an index's shares
    indices: tuple[Change, ...] = ()  # the changes of the questionnaire's indices

    def index_change(self, code: str) -> Change | None:
        return next((i for i in self.indices if i.index == code), None)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "unit": self.unit, "questionnaire": self.questionnaire, "period": self.period,
            "baseline_period": self.baseline_period, "version": self.version,
            "baseline_version": self.baseline_version, "basis": self.basis, "n": self.n,
            "baseline_n": self.baseline_n, "level": self.level, "power": self.power,
            "total": None if self.total is None else self.total.to_dict(),
        }
        if self.total is None:
            out["reason"] = self.reason
        out["criteria"] = [c.to_dict() for c in self.criteria]
        if self.indices:
            out["indices"] = {i.index: i.to_dict() for i in self.indices}
        return out


def comparison_basis(current: DomainScore, baseline: DomainScore) -> str:
    """'points' when both versions have the same criterion codes and maxima, else 'percent'."""
    return POINTS if tuple(current.structure) == tuple(baseline.structure) else PERCENT


def _on_basis(estimate: Estimate | None, basis: str) -> tuple[float, float, float]:
    """(score, variance, df) on the comparison basis; NaN when undefined."""
    if estimate is None or estimate.score is None:
        return np.nan, np.nan, np.nan
    factor = 1.0 if basis == POINTS else 100.0 / estimate.maximum
    variance = np.nan if estimate.variance is None else estimate.variance * factor**2
    return estimate.score * factor, variance, np.nan if estimate.df is None else estimate.df


def _pairs(current: DomainScore, baseline: DomainScore):
    """(code, current estimate, baseline estimate) for the total and the shared criteria."""
    yield None, current.total, baseline.total
    for criterion in current.criteria:
        yield criterion.code, criterion, baseline.criterion(criterion.code)


def _reliability(n_current: int, n_baseline: int) -> tuple[str, ...]:
    smaller = min(n_current, n_baseline)
    if smaller < MIN_RESPONSES_FOR_INTERVAL:
        return (INSUFFICIENT,)
    return (LOW_RELIABILITY,) if smaller < MIN_RELIABLE_RESPONSES else ()


def _missing_reason(values: dict[str, float], side: np.ndarray, index: int,
                    flags: tuple[str, ...]) -> str | None:
    """Why a change has no test; `side` holds (score, variance, df) current then baseline."""
    if not np.isfinite(values["change"][index]):
        return "the score is undefined in one of the two periods"
    if INSUFFICIENT in flags:
        return (f"fewer than {MIN_RESPONSES_FOR_INTERVAL} responses in one of the two periods: "
                "no interval, no test and no minimum detectable change")
    for variance, period in ((side[1], "current"), (side[4], "baseline")):
        if np.isnan(variance):
            return (f"the standard error is undefined in the {period} period (fewer than 1 "
                    "degree of freedom): the difference is not tested (no interval, p-value or "
                    "minimum detectable change)")
    for variance, period in ((side[1], "current"), (side[4], "baseline")):
        if not variance > 0:
            return (f"the standard error is 0 in the {period} period (every answer alike): the "
                    "difference is not tested (no interval, p-value or minimum detectable change)")
    return "no interval: fewer than 1 degree of freedom for the change"


def _counts(pair: tuple[DomainScore, DomainScore], current: Estimate | None,
            baseline: Estimate | None) -> tuple[int, int]:
    """The n each side's flags use: a criterion's own n_k where known, else the domain's n."""
    def count(estimate: Estimate | None, score: DomainScore) -> int:
        return score.n if estimate is None or estimate.n is None else estimate.n
    return count(current, pair[0]), count(baseline, pair[1])


def compare_many(
    pairs: Sequence[tuple[DomainScore, DomainScore]], level: float | None = None,
    power: float = DEFAULT_POWER, adjust: bool = False,
) -> list[Change]:
    """Changes for many (current, baseline) pairs at once, vectorised over units and measures.

    With `adjust`, Benjamini–Hochberg adjusted p-values across the pairs, per measure.
    """
    if not pairs:
        return []
    level = check_level(level if level is not None else pairs[0][0].level)
    basis_of = [comparison_basis(current, baseline) for current, baseline in pairs]
    rows = [(p, code, current_estimate, baseline_estimate)
            for p, (current, baseline) in enumerate(pairs)
            for code, current_estimate, baseline_estimate in _pairs(current, baseline)]
    sides = np.array([_on_basis(c, basis_of[p]) + _on_basis(b, basis_of[p])
                      for p, _, c, b in rows], dtype=float).reshape(-1, 6)
    values = change_arrays(sides[:, 0], sides[:, 1], sides[:, 2], sides[:, 3], sides[:, 4],
                           sides[:, 5], level, power)
    few = np.array([_reliability(*_counts(pairs[p], c, b)) == (INSUFFICIENT,)
                    for p, _, c, b in rows])
    for key in ("lower", "upper", "p_value", "mdc"):
        values[key] = np.where(few, np.nan, values[key])
    adjusted = np.full(len(rows), np.nan)
    if adjust:
        codes = np.array(["" if code is None else f"k:{code}" for _, code, _, _ in rows])
        for code in np.unique(codes):
            where = codes == code
            adjusted[where] = benjamini_hochberg(values["p_value"][where])

    listed = {key: np.asarray(values[key], dtype=float).tolist()
              for key in ("lower", "upper", "change", "variance", "df", "p_value", "mdc")}

    def number(key: str, i: int) -> float | None:
        value = listed[key][i]
        return value if isfinite(value) else None

    changes: list[Change] = []
    by_pair: dict[int, list[ChangeEstimate]] = {}
    for i, (p, code, current_estimate, baseline_estimate) in enumerate(rows):
        flags = _reliability(*_counts(pairs[p], current_estimate, baseline_estimate))
        if code is not None and any(e is not None and PARTIAL in e.flags
                                    for e in (current_estimate, baseline_estimate)):
            flags = (PARTIAL, *flags)
        lower, upper = number("lower", i), number("upper", i)
        by_pair.setdefault(p, []).append(ChangeEstimate(
            code=code,
            current=None if np.isnan(sides[i, 0]) else float(sides[i, 0]),
            baseline=None if np.isnan(sides[i, 3]) else float(sides[i, 3]),
            change=number("change", i), variance=number("variance", i), df=number("df", i),
            ci=None if lower is None or upper is None else (lower, upper),
            p_value=number("p_value", i), minimum_detectable=number("mdc", i), flags=flags,
            reason=_missing_reason(values, sides[i], i, flags) if lower is None else None,
            p_adjusted=float(adjusted[i]) if np.isfinite(adjusted[i]) else None,
        ))
    for p, (current, baseline) in enumerate(pairs):
        total, *criteria = by_pair[p]
        reason = None
        if total.change is None:
            total, reason = None, total.reason
        changes.append(Change(
            unit=current.unit, questionnaire=current.questionnaire, period=current.period,
            baseline_period=baseline.period, version=current.version,
            baseline_version=baseline.version, basis=basis_of[p], n=current.n,
            baseline_n=baseline.n, level=level, power=power, total=total,
            criteria=tuple(criteria), reason=reason, index=current.index,
        ))
    # Indices: the same tests on the shares, for the indices both sides define.
    codes = sorted({i.index for current, _ in pairs for i in current.indices})
    for code in codes:
        where = [p for p, (current, baseline) in enumerate(pairs)
                 if current.index_score(code) is not None
                 and baseline.index_score(code) is not None]
        index_changes = compare_many(
            [(pairs[p][0].index_score(code), pairs[p][1].index_score(code)) for p in where],
            level, power, adjust)
        for p, index_change in zip(where, index_changes, strict=True):
            changes[p] = replace(changes[p], indices=(*changes[p].indices, index_change))
    return changes


def compare_scores(current: DomainScore, baseline: DomainScore, level: float | None = None,
                   power: float = DEFAULT_POWER) -> Change:
    """The change of one domain's scores from `baseline` to `current` (no p-value adjustment)."""
    return compare_many([(current, baseline)], level, power)[0]


def compare_units(current: Sequence[DomainScore], baseline: Sequence[DomainScore],
                  level: float | None = None, power: float = DEFAULT_POWER) -> list[Change]:
    """Provincial view: every unit present in both lists, with BH-adjusted p-values across units.

    Units are matched by code; each list should hold one domain per unit (one period, one
    version), else ValueError.
    """
    def by_unit(scores: Sequence[DomainScore], side: str) -> dict[str, DomainScore]:
        found: dict[str, DomainScore] = {}
        for score in scores:
            if score.unit in found:
                raise ValueError(f"unit {score.unit} appears twice in the {side} scores "
                                 "(one period and one version per side)")
            found[score.unit] = score
        return found

    current_by_unit, baseline_by_unit = by_unit(current, "current"), by_unit(baseline, "baseline")
    pairs = [(current_by_unit[u], baseline_by_unit[u])
             for u in sorted(current_by_unit) if u in baseline_by_unit]
    return compare_many(pairs, level, power, adjust=True)
