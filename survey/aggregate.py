"""Provincial scores from the units' scores (SCORING.md, "Provincial aggregate").

Unit-average (the default): each unit counts once, or by a configured size W_u,

    T_P = Σ_u W_u T_u / Σ_u W_u,    V_P = Σ_u W_u² V_u / (Σ_u W_u)²

(units are independent samples). Criteria the same way, over the same units.

Degrees of freedom (SCORING.md is silent): Welch–Satterthwaite over units,

    df_P = V_P² / Σ_u (a_u² V_u)² / df_u,    a_u = W_u / Σ W_u

(units with V_u = 0 add nothing). The interval is the logit-t interval of `survey.intervals` on
[0, M] with that df: an average of scores in [0, M] is itself in [0, M]. The reliability flags use
the province's respondents n = Σ_u n_u. Only units with a defined SE are averaged (SCORING.md,
"Small domains"): a unit whose total or its SE is undefined (df < 1) is left out of the total and
of every criterion and listed in `left_out` with the reason, and by name in `left_out_names` (its
respondents are not counted in n). A criterion averages the units kept for the total whose own
criterion SE is defined (a criterion answered by one respondent in a unit leaves that unit out of
that criterion only; the criteria then need not add up to the total). Units are averaged only
within one period and one questionnaire version. A questionnaire's indices are averaged the same
way (`ProvinceScore.indices`).

Respondent-pooled (optional): the estimator of `survey.scoring` on all the province's respondents,
domain = province × period, weights W_g / n_{g,province}, strata = unit × group; see
`respondent_pooled`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from survey.intervals import check_level
from survey.periods import parse_period
from survey.questionnaire import Questionnaire
from survey.scoring import (
    DomainScore,
    Estimate,
    estimates_with_intervals,
    make_estimate,
    score_domains,
)

UNIT_AVERAGE = "unit-average"
RESPONDENT_POOLED = "respondent-pooled"


@dataclass(frozen=True)
class ProvinceScore:
    """A province's score in one period with one questionnaire version."""

    province: str
    period: str
    questionnaire: str
    version: str
    method: str
    units: int
    n: int
    level: float
    total: Estimate | None
    criteria: tuple[Estimate, ...]
    left_out: tuple[tuple[str, str], ...] = ()
    reason: str | None = None
    left_out_names: tuple[tuple[str, str | None], ...] = ()  # (unit code, unit name)
    index: str | None = None  # set on an index's average (shares)
    indices: tuple[ProvinceScore, ...] = ()

    def index_score(self, code: str) -> ProvinceScore | None:
        return next((i for i in self.indices if i.index == code), None)

    def left_out_named(self) -> list[str]:
        """The left-out units as "name (code)" (or the code when no name is known)."""
        names = dict(self.left_out_names)
        return [f"{names[unit]} ({unit})" if names.get(unit) else unit for unit, _ in self.left_out]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "province": self.province, "period": self.period, "questionnaire": self.questionnaire,
            "version": self.version, "method": self.method, "units": self.units, "n": self.n,
            "level": self.level, "total": None if self.total is None else self.total.to_dict(),
        }
        if self.total is None:
            out["reason"] = self.reason
        names = dict(self.left_out_names)
        out["left_out"] = [{"unit": unit, "unit_name": names.get(unit), "reason": reason}
                           for unit, reason in self.left_out]
        out["criteria"] = [c.to_dict() for c in self.criteria]
        if self.indices:
            out["indices"] = {i.index: i.index_dict() for i in self.indices}
        return out

    def index_dict(self) -> dict[str, Any]:
        """An index's average as shares (overall and per criterion), like `DomainScore`'s."""
        out: dict[str, Any] = {"code": self.index, "method": self.method, "units": self.units,
                               "n": self.n}
        out.update(Estimate.total_share_dict(self.total, self.reason))
        names = dict(self.left_out_names)
        out["left_out"] = [{"unit": unit, "unit_name": names.get(unit), "reason": reason}
                           for unit, reason in self.left_out]
        out["criteria"] = [c.share_dict() for c in self.criteria]
        return out


def satterthwaite_df(coefficient: np.ndarray, variance: np.ndarray, df: np.ndarray,
                     group: np.ndarray, n_groups: int) -> np.ndarray:
    """df of Σ_u a_u² V_u per group: (Σ a_u² V_u)² / Σ (a_u² V_u)² / df_u; NaN when it is 0."""
    part = coefficient**2 * variance
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(part > 0, part**2 / df, 0.0)
        numerator = np.bincount(group, weights=part, minlength=n_groups) ** 2
        denominator = np.bincount(group, weights=term, minlength=n_groups)
        return np.where(denominator > 0, numerator / denominator, np.nan)


def _arrays(estimates: Sequence[Estimate | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, variance, df) arrays, NaN where an estimate or a value is missing."""
    def value(estimate: Estimate | None, name: str) -> float:
        found = None if estimate is None else getattr(estimate, name)
        return np.nan if found is None else float(found)
    return tuple(np.array([value(e, name) for e in estimates], dtype=float)
                 for name in ("score", "variance", "df"))


def unit_average(
    unit_scores: Sequence[DomainScore],
    *,
    sizes: Mapping[str, float] | None = None,
    province: str = "province",
    level: float | None = None,
) -> list[ProvinceScore]:
    """Unit-average provincial score per period × version (formulas in the module docstring).

    sizes : W_u by unit code (default 1 for every unit); a unit missing from `sizes` is an error.
    Vectorised over units and groups (numpy.bincount by period × version).
    """
    if not unit_scores:
        return []
    level = check_level(level if level is not None else unit_scores[0].level)
    group, group_keys = pd.MultiIndex.from_tuples(
        [(s.period, s.questionnaire, s.version) for s in unit_scores]).factorize()
    n_groups = len(group_keys)
    first_of_group = [unit_scores[i] for i in np.unique(group, return_index=True)[1]]
    defined = np.array([s.total is not None and s.total.variance is not None
                        for s in unit_scores])
    if sizes is None:
        size = np.ones(len(unit_scores))
    else:
        missing = sorted({s.unit for s in unit_scores} - set(sizes))
        if missing:
            raise ValueError(f"no size for unit {', '.join(missing)}")
        size = np.array([float(sizes[s.unit]) for s in unit_scores])
        if np.any(size <= 0):
            raise ValueError("unit sizes must be positive")
    has_units = np.bincount(group, weights=defined, minlength=n_groups) > 0
    respondents = np.array([s.n for s in unit_scores], dtype=float)

    def average(estimates: Sequence[Estimate | None], maximum: np.ndarray):
        scores, variances, dfs = _arrays(estimates)
        kept = defined & np.isfinite(variances)  # the units with a defined SE for this measure
        weight = np.where(kept, size, 0.0)
        weight_sum = np.bincount(group, weights=weight, minlength=n_groups)
        coefficient = np.divide(weight, weight_sum[group], out=np.zeros_like(weight),
                                where=weight_sum[group] > 0)  # a_u = W_u / Σ W_u
        scores, variances = np.where(kept, scores, 0.0), np.where(kept, variances, 0.0)
        mean = np.bincount(group, weights=coefficient * scores, minlength=n_groups)
        variance = np.bincount(group, weights=coefficient**2 * variances, minlength=n_groups)
        df = satterthwaite_df(coefficient, variances, dfs, group, n_groups)
        n = np.bincount(group, weights=np.where(kept, respondents, 0.0),
                        minlength=n_groups).astype(int)  # respondents of the averaged units
        measured = weight_sum > 0
        values = estimates_with_intervals(np.where(measured, mean, np.nan),
                                          np.where(measured, variance, np.nan), maximum, df, n,
                                          level)
        return values, df, n

    maxima = np.array([first.maximum for first in first_of_group])
    totals, total_df, n = average([s.total for s in unit_scores], maxima)
    criteria_values = {}
    for code in sorted({c.code for s in unit_scores for c in s.criteria}):
        points = np.array([c.maximum if (c := first.criterion(code)) else np.nan
                           for first in first_of_group])
        criteria_values[code] = average([s.criterion(code) for s in unit_scores], points)

    results = []
    for g, (period, questionnaire, version) in enumerate(group_keys):
        members = [s for s, g_of in zip(unit_scores, group, strict=True) if g_of == g]
        left_out = tuple((s.unit, _left_out_reason(s)) for s in members
                         if s.total is None or s.total.variance is None)
        total, criteria, reason = None, (), "no unit has a defined total with a standard error"
        if has_units[g]:
            total = make_estimate(totals, g, float(maxima[g]), float(total_df[g]), int(n[g]))
            reason = None
            criteria = tuple(
                make_estimate(criteria_values[c.code][0], g, float(c.maximum),
                              float(criteria_values[c.code][1][g]),
                              int(criteria_values[c.code][2][g]), code=c.code)
                for c in first_of_group[g].criteria)
        results.append(ProvinceScore(
            province=province, period=str(period), questionnaire=str(questionnaire),
            version=str(version), method=UNIT_AVERAGE, units=len(members) - len(left_out),
            n=int(n[g]), level=level, total=total, criteria=criteria, left_out=left_out,
            reason=reason,
            left_out_names=tuple((s.unit, s.unit_name) for s in members
                                 if s.total is None or s.total.variance is None),
            index=first_of_group[g].index,
        ))
    # Indices: the same average of the units' shares.
    for code in sorted({i.index for s in unit_scores for i in s.indices}):
        members = [s for s in unit_scores if s.index_score(code) is not None]
        for average_of_index in unit_average([s.index_score(code) for s in members],
                                             sizes=sizes, province=province, level=level):
            for r, result in enumerate(results):
                if (result.period, result.questionnaire, result.version) == (
                        average_of_index.period, average_of_index.questionnaire,
                        average_of_index.version):
                    results[r] = replace(result, indices=(*result.indices, average_of_index))
    return results


def _left_out_reason(score: DomainScore) -> str:
    if score.total is None:
        return score.reason or "the total is undefined"
    return score.total.reason or "the standard error is undefined"


def respondent_pooled(
    responses: pd.DataFrame,
    questionnaires_by_version: Mapping[str, Questionnaire],
    *,
    periods: Iterable[str] | None = None,
    province: str = "province",
    level: float = 0.95,
) -> list[ProvinceScore]:
    """Respondent-pooled provincial score: `score_domains(by="province")` as `ProvinceScore`s."""
    pooled = score_domains(responses, questionnaires_by_version, by="province", periods=periods,
                           level=level, province=province)
    return [
        ProvinceScore(
            province=province, period=s.period, questionnaire=s.questionnaire, version=s.version,
            method=RESPONDENT_POOLED, units=_units_in(responses, s.version, s.period), n=s.n,
            level=s.level, total=s.total, criteria=s.criteria, reason=s.reason,
        )
        for s in pooled
    ]


def _units_in(responses: pd.DataFrame, version: str, period: str) -> int:
    """Units with a response of `version` in the quarters `period` pools."""
    quarters = parse_period(period).quarters
    rows = responses[(responses["version"] == version) & responses["period"].isin(quarters)]
    return int(rows["unit"].nunique())
