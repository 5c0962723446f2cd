"""Rank confidence sets for a league table of units (SCORING.md, "Rank confidence sets").

In a view of K units with totals T_u and defined standard errors SE_u (rank 1 = the highest T), for
each unit j and every other unit k:

    D_jk = T_k − T_j,   s_jk = √(SE_j² + SE_k²)
    better_j = #{k ≠ j : D_jk − c·s_jk > 0},   worse_j = #{k ≠ j : −D_jk − c·s_jk > 0}
    rank set of j = [1 + better_j, K − worse_j]

with, at level 1 − α (standard normal Φ):

* marginal sets (each unit on its own): c = Φ⁻¹(1 − α / (2(K − 1))), Bonferroni over j's K − 1
  comparisons;
* simultaneous sets (all K units at once): c = Φ⁻¹(1 − α / (K(K − 1))).

Units without a defined total or SE get no rank set and are not counted in K; they are listed as
left out. Vectorised: one K × K array of differences.

Decisions where SCORING.md is silent:

* The point rank is the competition rank among the K units ("1224": tied totals share the best
  rank they cover), so it always lies in the rank set.
* K = 1: the single unit's set is [1, 1] (no comparison, c undefined).
* A domain's score in the view is its total in points (or an index's share, `ranking_of` with
  `index`): units of one view must share one questionnaire version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from survey.intervals import check_level

MARGINAL, SIMULTANEOUS = "marginal", "simultaneous"


def rank_critical_value(k: int, level: float = 0.95, simultaneous: bool = False) -> float:
    """c of SCORING.md for K = `k` units (NaN for K < 2)."""
    if k < 2:
        return float("nan")
    alpha = 1.0 - check_level(level)
    tail = alpha / (k * (k - 1)) if simultaneous else alpha / (2 * (k - 1))
    return float(-special.ndtri(tail))  # Φ⁻¹(1 − tail), as scipy.stats.norm.isf


def rank_sets(totals, standard_errors, level: float = 0.95,
              simultaneous: bool = False) -> dict[str, np.ndarray]:
    """Point ranks and rank sets (lower, upper) for every unit; NaN for units with no defined SE.

    Returns arrays `rank`, `lower`, `upper` (float, NaN where undefined), `better`, `worse`
    (counts, −1 where undefined), and the scalars `k` and `c` (as 0-d arrays).

    >>> sets = rank_sets([10.0, 8.0, 7.9], [0.1, 0.1, 0.1])
    >>> sets["lower"].tolist(), sets["upper"].tolist()
    ([1.0, 2.0, 2.0], [1.0, 3.0, 3.0])
    """
    totals = np.asarray(totals, dtype=float)
    standard_errors = np.asarray(standard_errors, dtype=float)
    if totals.shape != standard_errors.shape or totals.ndim != 1:
        raise ValueError("totals and standard_errors must be two 1-d arrays of the same length")
    defined = np.isfinite(totals) & np.isfinite(standard_errors) & (standard_errors >= 0)
    t, se = totals[defined], standard_errors[defined]
    k = t.size
    c = rank_critical_value(k, level, simultaneous)
    difference = t[None, :] - t[:, None]  # D_jk = T_k − T_j (row j, column k)
    spread = np.sqrt(se[:, None] ** 2 + se[None, :] ** 2)  # s_jk
    off_diagonal = ~np.eye(k, dtype=bool)
    if k >= 2:
        better = np.sum(((difference - c * spread) > 0) & off_diagonal, axis=1)
        worse = np.sum(((-difference - c * spread) > 0) & off_diagonal, axis=1)
    else:
        better = worse = np.zeros(k, dtype=np.intp)
    point = 1 + np.sum((difference > 0) & off_diagonal, axis=1)
    out = {name: np.full(totals.shape, np.nan) for name in ("rank", "lower", "upper")}
    out["rank"][defined] = point
    out["lower"][defined] = 1 + better
    out["upper"][defined] = k - worse
    for name, values in (("better", better), ("worse", worse)):
        out[name] = np.full(totals.shape, -1, dtype=np.intp)
        out[name][defined] = values
    out["k"] = np.asarray(k)
    out["c"] = np.asarray(c)
    ahead = (((-difference - c * spread) > 0) & off_diagonal) if k >= 2 else np.zeros((k, k), bool)
    positions = np.flatnonzero(defined)
    out["ahead"] = np.column_stack([positions[i] for i in np.nonzero(ahead)]) if k else (
        np.zeros((0, 2), dtype=np.intp))  # rows (j, k) in the caller's positions
    return out


@dataclass(frozen=True)
class UnitRank:
    """One unit's place in a view: its score, point rank and rank set (None when left out)."""

    unit: str
    unit_name: str | None
    score: float | None
    se: float | None
    rank: int | None
    lower: int | None
    upper: int | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"unit": self.unit, "unit_name": self.unit_name, "score": self.score, "se": self.se,
               "rank": self.rank, "lower": self.lower, "upper": self.upper,
               "rank_set": None if self.lower is None else [self.lower, self.upper]}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Ranking:
    """The rank sets of one view (one period, one questionnaire version)."""

    kind: str  # "marginal" or "simultaneous"
    level: float
    k: int
    critical_value: float | None
    units: tuple[UnitRank, ...]  # ranked units by rank, then left-out units
    index: str | None = None
    ahead: tuple[tuple[str, str], ...] = ()  # (j, k): T_j − T_k − c·s_jk > 0


    @property
    def left_out(self) -> tuple[UnitRank, ...]:
        return tuple(u for u in self.units if u.rank is None)

    def distinguishable(self) -> list[tuple[str, str]]:
        """Pairs (higher, lower): the comparisons behind the rank sets that separate two units."""
        return list(self.ahead)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "level": self.level, "k": self.k,
                "critical_value": self.critical_value, "index": self.index,
                "units": [u.to_dict() for u in self.units if u.rank is not None],
                "left_out": [u.to_dict() for u in self.left_out]}


def ranking_of(scores: Sequence, level: float | None = None, simultaneous: bool = False,
               index: str | None = None) -> Ranking:
    """The ranking of unit scores (`DomainScore`s of one view) by total, or by index share.

    Units whose total or SE is undefined are listed last with the reason, without a rank.
    """
    if index is not None:
        scores = [s.index_score(index) for s in scores if s.index_score(index) is not None]
    level = check_level(level if level is not None else (scores[0].level if scores else 0.95))

    def value(score, name: str) -> float:
        found = None if score.total is None else getattr(score.total, name)
        return np.nan if found is None else float(found)

    totals = np.array([value(s, "score") for s in scores], dtype=float)
    errors = np.array([value(s, "se") for s in scores], dtype=float)
    sets = rank_sets(totals, errors, level, simultaneous)

    def number(name: str, i: int) -> int | None:
        return None if np.isnan(sets[name][i]) else int(sets[name][i])

    units = []
    for i, score in enumerate(scores):
        reason = None
        if np.isnan(sets["rank"][i]):
            reason = (score.reason if score.total is None
                      else score.total.reason or "the standard error is undefined")
        units.append(UnitRank(
            unit=score.unit, unit_name=score.unit_name,
            score=None if np.isnan(totals[i]) else float(totals[i]),
            se=None if np.isnan(errors[i]) else float(errors[i]),
            rank=number("rank", i), lower=number("lower", i), upper=number("upper", i),
            reason=reason))
    order = sorted(range(len(units)), key=lambda i: (units[i].rank is None, units[i].rank or 0,
                                                     -(units[i].score or 0), units[i].unit))
    rank_position = {i: p for p, i in enumerate(order)}
    ahead = sorted(((int(j), int(k)) for j, k in sets["ahead"]),
                   key=lambda pair: (rank_position[pair[0]], rank_position[pair[1]]))
    c = float(sets["c"])
    return Ranking(kind=SIMULTANEOUS if simultaneous else MARGINAL, level=level, k=int(sets["k"]),
                   critical_value=None if np.isnan(c) else c,
                   units=tuple(units[i] for i in order), index=index,
                   ahead=tuple((scores[j].unit, scores[k].unit) for j, k in ahead))


def distinguishable_sentence(ranking: Ranking, lang: str = "vi") -> str:
    """A plain-language line saying which units are distinguishable from which (by unit code).

    A pair is distinguishable when the comparison behind the rank sets separates it:
    |T_j − T_k| > c·s_jk with the view's c (so at the view's level, corrected for multiple
    comparisons as the sets are).
    """
    ranked = [u for u in ranking.units if u.rank is not None]
    pairs = ranking.distinguishable()
    total = len(ranked) * (len(ranked) - 1) // 2
    if len(ranked) < 2:
        return ("Chưa đủ đơn vị có sai số chuẩn để so sánh thứ hạng." if lang == "vi"
                else "Too few units with a standard error to compare ranks.")
    level = f"{100 * ranking.level:g}"
    if not pairs:
        return (f"Không cặp nào trong {total} cặp đơn vị khác nhau rõ ràng (mức tin cậy {level}%): "
                "chưa thể nói đơn vị nào hơn đơn vị nào." if lang == "vi" else
                f"None of the {total} pairs of units differ clearly ({level}% level): no unit "
                "can be said to be ahead of another.")
    above: dict[str, list[str]] = {}
    for higher, lower in pairs:
        above.setdefault(higher, []).append(lower)
    if lang == "vi":
        parts = [f"{h} cao hơn {', '.join(lows)}" for h, lows in above.items()]
        return (f"{len(pairs)} trong {total} cặp đơn vị khác nhau rõ ràng (mức tin cậy {level}%, đã "
                f"tính đến việc so sánh nhiều cặp): " + "; ".join(parts)
                + ". Các cặp còn lại chưa phân biệt được.")
    parts = [f"{h} above {', '.join(lows)}" for h, lows in above.items()]
    return (f"{len(pairs)} of {total} pairs of units differ clearly ({level}% level, allowing for "
            "the many comparisons): " + "; ".join(parts) + ". The other pairs cannot be told apart.")
