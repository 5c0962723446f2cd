"""Tidy tables of scores (one row per domain, or per domain × criterion) for pages, charts, exports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from survey.questionnaire import Questionnaire
from survey.scoring import DomainScore

SCORE_COLUMNS = ["unit", "unit_name", "period", "version", "n", "score", "max", "percent", "se",
                 "df", "ci_low", "ci_high", "flags", "reason"]
CRITERION_COLUMNS = ["unit", "unit_name", "period", "version", "n", "code", "title", "score", "max",
                     "percent", "se", "ci_low", "ci_high", "flags", "reason"]


def scores_frame(scores: Iterable[DomainScore]) -> pd.DataFrame:
    """One row per domain: the total with its interval (NaN where undefined)."""
    rows = []
    for score in scores:
        total = score.total
        rows.append({
            "unit": score.unit,
            "unit_name": score.unit_name or score.unit,
            "period": score.period,
            "version": score.version,
            "n": score.n,
            "score": total.score if total else None,
            "max": score.maximum,
            "percent": total.percent if total else None,
            "se": total.se if total else None,
            "df": total.df if total else None,
            "ci_low": total.ci[0] if total and total.ci else None,
            "ci_high": total.ci[1] if total and total.ci else None,
            "flags": ", ".join(total.flags) if total else "",
            "reason": (total.reason if total else score.reason) or "",
        })
    frame = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    numeric = ["score", "max", "percent", "se", "df", "ci_low", "ci_high"]
    frame[numeric] = frame[numeric].astype(float)
    return frame


def criteria_frame(
    scores: Iterable[DomainScore], questionnaires: Mapping[str, Questionnaire], lang: str = "vi"
) -> pd.DataFrame:
    """One row per domain × criterion, with the criterion's title in `lang`."""
    rows = []
    for score in scores:
        titles = {c.code: c.title.get(lang) for c in questionnaires[score.version].criteria}
        for criterion in score.criteria:
            rows.append({
                "unit": score.unit,
                "unit_name": score.unit_name or score.unit,
                "period": score.period,
                "version": score.version,
                "n": score.n,
                "code": criterion.code,
                "title": titles.get(criterion.code, criterion.code),
                "score": criterion.score,
                "max": criterion.maximum,
                "percent": criterion.percent,
                "se": criterion.se,
                "ci_low": criterion.ci[0] if criterion.ci else None,
                "ci_high": criterion.ci[1] if criterion.ci else None,
                "flags": ", ".join(criterion.flags),
                "reason": criterion.reason or "",
            })
    frame = pd.DataFrame(rows, columns=CRITERION_COLUMNS)
    numeric = ["score", "max", "percent", "se", "ci_low", "ci_high"]
    frame[numeric] = frame[numeric].astype(float)
    return frame
