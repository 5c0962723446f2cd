"""The PAR page's figures: stored appraisal tables combined with the units' survey scores."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlmodel import Session

from survey.auth import Scope, visible_organisations
from survey.dashboard import ScoreSource, period_scores
from survey.par import AppraisalRow, AppraisalTable, ParResult, par_index, rank_results
from survey.ranking import Ranking, ranking_of
from survey.storage.appraisals import load_appraisal, units_with_appraisal

SURVEY_DECIMALS = 2  # the survey score enters the index as published, to 2 decimals


def appraisal_table(rows: Sequence[dict], stated_maximum: float | None) -> AppraisalTable:
    """An AppraisalTable from stored or edited rows (missing points count as 0)."""
    def number(value) -> Decimal:
        return Decimal("0") if value is None or value != value else Decimal(str(round(float(value), 4)))

    table_rows = tuple(
        AppraisalRow(line=i + 2, criterion=str(r["criterion"]), maximum=number(r.get("max")),
                     self_score=number(r.get("self")), appraised=number(r.get("appraised")))
        for i, r in enumerate(rows)
    )
    stated = {} if stated_maximum is None else {"max": Decimal(str(stated_maximum))}
    return AppraisalTable(table_rows, stated, ())


def survey_scores_for_year(source: ScoreSource, year: int, *, level: float = 0.95) -> dict[str, float]:
    """Each unit's survey score for the year, rounded as published (2 decimals)."""
    return {unit: round(score.total.score, SURVEY_DECIMALS)
            for unit, score in period_scores(source, str(year), level=level).items()
            if score.total is not None and score.total.score is not None}


def par_results(*, session: Session, scope: Scope, source: ScoreSource, year: int,
                bands=None) -> list[ParResult]:
    """The ranked PAR index of every unit in scope that has an appraisal table and a survey score
    for `year`. Ranks are among those units."""
    surveys = survey_scores_for_year(source, year)
    units = {o.id: o for o in visible_organisations(session=session, scope=scope)}
    results = []
    for unit_id in units_with_appraisal(session=session, year=year):
        unit = units.get(unit_id)
        if unit is None or unit.code not in surveys:
            continue
        rows, stated = load_appraisal(session=session, unit_id=unit_id, year=year)
        options = {} if bands is None else {"bands": bands}
        results.append(par_index(appraisal_table(rows, stated), surveys[unit.code],
                                 survey_max=source.latest.max_points, unit=unit.code, **options))
    ranked = rank_results(results) if results else []
    return sorted(ranked, key=lambda r: (r.rank, r.unit))


def survey_rank_sets(source: ScoreSource, year: int, units: Sequence[str], *,
                     level: float = 0.95) -> Ranking:
    """Rank sets of the survey part (the survey total with its SE) among `units` for the year,
    marginal (SCORING.md, "Rank confidence sets"); units without an SE are left out."""
    scores = period_scores(source, str(year), level=level)
    chosen = [scores[u] for u in units if u in scores]
    versions = {s.version for s in chosen}
    if len(versions) > 1:  # one scale per view: the version with the most responses
        main = max(versions, key=lambda v: sum(s.n for s in chosen if s.version == v))
        chosen = [s for s in chosen if s.version == main]
    return ranking_of(chosen, level)
