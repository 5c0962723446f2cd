"""Score commands: `survey score`, `survey compare`, `survey rank`, `survey par`.

`score` and `compare` print, with --json, full-precision numbers (null where there is no value, with
a "reason"); without it, a readable table in the Vietnamese number format.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlmodel import Session

from survey.aggregate import respondent_pooled, unit_average
from survey.changes import DEFAULT_POWER, Change, compare_many, compare_units
from survey.cli.common import CliError, print_json, session_scope
from survey.config import settings
from survey.formatting import format_number
from survey.intervals import check_level
from survey.par import (
    HAU_GIANG_BANDS,
    ParError,
    par_index,
    parse_bands,
    rank_results,
    read_appraisal_table,
)
from survey.periods import Period, parse_period
from survey.questionnaire import Questionnaire
from survey.ranking import Ranking, distinguishable_sentence, ranking_of
from survey.scoring import DomainScore, Estimate, score_domains
from survey.storage.organisations import get_organisation, list_organisations
from survey.storage.questionnaires import (
    get_questionnaire_version,
    list_questionnaire_versions,
    questionnaire_of,
)
from survey.storage.responses import load_responses

AGAINST = {"previous": Period.previous, "year-ago": Period.year_ago}


# --- shared ------------------------------------------------------------------------------------


def _level(value: str | None) -> float:
    try:
        return check_level(settings().confidence_level if value is None else float(value))
    except ValueError as exc:
        raise CliError(f"--level: {exc}") from None


def _questionnaires(session: Session, reference: str) -> tuple[str, str | None, dict[str, Questionnaire]]:
    """(family, version or None, every registered version of the family by version)."""
    family, _, version = reference.partition("@")
    get_questionnaire_version(session=session, reference=reference)  # clear error if unknown
    versions = {row.version: questionnaire_of(row)
                for row in list_questionnaire_versions(session=session, family=family)}
    return family, version or None, versions


def _responses(session: Session, family: str, version: str | None, unit: str | None,
               quarters: Sequence[str] | None, exclude_flagged: bool) -> pd.DataFrame:
    unit_ids = None
    if unit is not None:
        organisation = get_organisation(session=session, code=unit)
        if organisation is None:
            raise CliError(f"unit {unit} does not exist")
        unit_ids = [organisation.id]
    responses = load_responses(session=session, family=family, unit_ids=unit_ids,
                               quarters=quarters, include_flagged=not exclude_flagged)
    if version is not None and not responses.empty:
        responses = responses[responses["version"] == version].reset_index(drop=True)
    return responses


def _scored(call, *args, **kwargs):
    """Run a scoring function, turning its ValueErrors (bad data, bad options) into user errors."""
    try:
        return call(*args, **kwargs)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _estimate_line(label: str, estimate: Estimate | None, reason: str | None = None) -> str:
    if estimate is None or estimate.score is None:
        return f"  {label:<8} {'—':>8}  {(estimate.reason if estimate else reason) or ''}"
    maximum = format_number(estimate.maximum, 2)
    ci = (f"[{format_number(estimate.ci[0])}; {format_number(estimate.ci[1])}]"
          if estimate.ci else "—")
    notes = ", ".join(estimate.flags + ((estimate.reason,) if estimate.reason else ()))
    return (f"  {label:<8} {format_number(estimate.score):>8} / {maximum:<6} "
            f"SE {format_number(estimate.se, 3):>6}  KTC {ci:<18} {notes}").rstrip()


# --- survey score ------------------------------------------------------------------------------


def _print_scores(scores: Sequence[DomainScore]) -> None:
    if not scores:
        print("no responses")
    for score in scores:
        name = f" {score.unit_name}" if score.unit_name else ""
        excluded = f", {score.excluded} left out (unknown group)" if score.excluded else ""
        print(f"{score.unit}{name} · {score.period} · {score.questionnaire}@{score.version} · "
              f"n = {score.n}{excluded}")
        for criterion in score.criteria:
            print(_estimate_line(criterion.code or "", criterion))
        print(_estimate_line("Tổng", score.total, score.reason))
        for index in score.indices:
            print(f"  {index.index_label or index.index} (%):")
            for criterion in index.criteria:
                print(_share_line(criterion.code or "", criterion))
            print(_share_line("Chung", index.total, index.reason))


def _share_line(label: str, estimate: Estimate | None, reason: str | None = None) -> str:
    if estimate is None or estimate.score is None:
        return f"    {label:<8} {'—':>8}  {(estimate.reason if estimate else reason) or ''}"
    ci = (f"[{format_number(100 * estimate.ci[0])}; {format_number(100 * estimate.ci[1])}]"
          if estimate.ci else "—")
    notes = ", ".join(estimate.flags + ((estimate.reason,) if estimate.reason else ()))
    return (f"    {label:<8} {format_number(100 * estimate.score):>8} %  KTC {ci:<18} "
            f"{notes}").rstrip()


def _province_label(session: Session) -> str:
    provinces = [o.code for o in list_organisations(session=session) if o.kind == "province"]
    return provinces[0] if len(provinces) == 1 else "province"


def _score(args: argparse.Namespace) -> int:
    level = _level(args.level)
    period = parse_period(args.period) if args.period else None
    if args.province and args.unit:
        raise CliError("--province scores the whole province: leave out --unit")
    with session_scope() as session:
        family, version, questionnaires = _questionnaires(session, args.questionnaire)
        responses = _responses(session, family, version, args.unit,
                               period.quarters if period else None, args.exclude_flagged)
        province = _province_label(session)
    periods = [str(period)] if period else None
    if args.province == "pooled":
        results: Sequence[Any] = _scored(respondent_pooled, responses, questionnaires,
                                         periods=periods, province=province, level=level)
    else:
        results = _scored(score_domains, responses, questionnaires, periods=periods, level=level)
        if args.province == "average":
            results = _scored(unit_average, results, province=province, level=level)
    if args.json:
        print_json([r.to_dict() for r in results])
    elif args.province:
        for result in results:
            print(f"{result.province} · {result.period} · {result.questionnaire}@{result.version}"
                  f" · {result.method} · {result.units} units, n = {result.n}")
            for criterion in result.criteria:
                print(_estimate_line(criterion.code or "", criterion))
            print(_estimate_line("Tổng", result.total, result.reason))
            if getattr(result, "left_out", ()):
                print("  left out: " + "; ".join(
                    f"{name} — {reason}" for name, (_, reason) in
                    zip(result.left_out_named(), result.left_out, strict=True)))
            for index in getattr(result, "indices", ()):
                print(f"  {index.index} (%):")
                print(_share_line("Chung", index.total, index.reason))
    else:
        _print_scores(results)
    return 0


# --- survey compare ----------------------------------------------------------------------------


def _one_per_unit(scores: Sequence[DomainScore], preferred: str | None,
                  notes: list[str]) -> dict[str, DomainScore]:
    """One domain per unit: the preferred version if present, else the one with most responses.

    A period that mixes versions is scored per version; when a unit has several, the choice is
    reported in `notes` (never silent).
    """
    by_unit: dict[str, list[DomainScore]] = {}
    for score in scores:
        by_unit.setdefault(score.unit, []).append(score)
    chosen = {}
    for unit, found in by_unit.items():
        pick = next((s for s in found if s.version == preferred), None) or max(found, key=lambda s: s.n)
        if len(found) > 1 or (preferred is not None and pick.version != preferred):
            versions = ", ".join(f"{s.version} (n = {s.n})" for s in found)
            notes.append(f"{unit} {pick.period}: responses in version(s) {versions}; "
                         f"compared version {pick.version}")
        chosen[unit] = pick
    return chosen


def _print_change(change: Change, against: str) -> None:
    print(f"{change.unit} · {change.period} vs {change.baseline_period} ({against}) · "
          f"basis {change.basis} · n = {change.n} / {change.baseline_n}")
    for estimate in (*change.criteria, change.total):
        label = "Tổng" if estimate is None or estimate.code is None else estimate.code
        if estimate is None or estimate.change is None:
            print(f"  {label:<8} —  {(estimate.reason if estimate else change.reason) or ''}")
            continue
        ci = (f"[{format_number(estimate.ci[0])}; {format_number(estimate.ci[1])}]"
              if estimate.ci else "—")
        p = format_number(estimate.p_value, 3) if estimate.p_value is not None else "—"
        print(f"  {label:<8} {format_number(estimate.current)} ← {format_number(estimate.baseline)}"
              f"  Δ {format_number(estimate.change):>6}  KTC {ci:<18} p {p}"
              f"  {', '.join(estimate.flags)}".rstrip())


def _compare(args: argparse.Namespace) -> int:
    level = _level(args.level)
    power = float(DEFAULT_POWER if args.power is None else args.power)
    if not 0 < power < 1:
        raise CliError("--power must be between 0 and 1 (e.g. 0.8)")
    current_period = parse_period(args.period)
    baseline_period = AGAINST[args.against](current_period)
    with session_scope() as session:
        family, version, questionnaires = _questionnaires(session, args.questionnaire)
        quarters = current_period.quarters + baseline_period.quarters
        responses = _responses(session, family, None, args.unit, quarters, args.exclude_flagged)
    scores = _scored(score_domains, responses, questionnaires,
                     periods=[str(current_period), str(baseline_period)], level=level)
    notes: list[str] = []
    current = _one_per_unit([s for s in scores if s.period == str(current_period)], version, notes)
    baseline = _one_per_unit([s for s in scores if s.period == str(baseline_period)],
                             version, notes)
    if args.unit:
        for period, side in ((current_period, current), (baseline_period, baseline)):
            if args.unit not in side:
                raise CliError(f"unit {args.unit} has no {family} responses in {period}")
        pair = [(current[args.unit], baseline[args.unit])]
        changes = _scored(compare_many, pair, level, power)
    else:
        changes = _scored(compare_units, list(current.values()), list(baseline.values()),
                          level, power)
        missing = sorted(set(current) ^ set(baseline))
        if missing:
            notes.append(f"units with responses in only one of the two periods: {', '.join(missing)}")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        documents = [{**c.to_dict(), "against": args.against} for c in changes]
        if args.unit:
            print_json({**documents[0], "notes": notes})
        else:
            print_json(documents)
    else:
        if not changes:
            print("no unit has responses in both periods")
        for change in changes:
            _print_change(change, args.against)
    return 0


# --- survey rank -------------------------------------------------------------------------------


def _ranking_document(ranking: Ranking) -> dict[str, Any]:
    return {**ranking.to_dict(),
            "distinguishable": [list(pair) for pair in ranking.distinguishable()],
            "summary": distinguishable_sentence(ranking)}


def _rank(args: argparse.Namespace) -> int:
    level = _level(args.level)
    period = parse_period(args.period)
    with session_scope() as session:
        family, version, questionnaires = _questionnaires(session, args.questionnaire)
        responses = _responses(session, family, version, None, period.quarters,
                               args.exclude_flagged)
    scores = _scored(score_domains, responses, questionnaires, periods=[str(period)], level=level)
    notes: list[str] = []
    by_version: dict[str, list[DomainScore]] = {}
    for score in scores:
        by_version.setdefault(score.version, []).append(score)
    if not by_version:
        raise CliError(f"no {family} responses in {period}")
    chosen = max(by_version, key=lambda v: (sum(s.n for s in by_version[v]), v))
    if len(by_version) > 1:
        notes.append(f"{period} mixes versions {', '.join(sorted(by_version))}: ranked version "
                     f"{chosen} (most responses); give --questionnaire {family}@VERSION to choose")
    view = by_version[chosen]
    ranking = ranking_of(view, level, args.simultaneous)
    questionnaire = questionnaires[chosen]
    document = {"questionnaire": family, "version": chosen, "period": str(period),
                **_ranking_document(ranking),
                "indices": {index.code: _ranking_document(
                    ranking_of(view, level, args.simultaneous, index=index.code))
                    for index in questionnaire.indices},
                "notes": notes}
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print_json(document)
        return 0
    print(f"{family}@{chosen} · {period} · {ranking.kind} · K = {ranking.k}")
    for unit in ranking.units:
        name = f" {unit.unit_name}" if unit.unit_name else ""
        if unit.rank is None:
            print(f"  —      {unit.unit}{name}  ({unit.reason})")
            continue
        print(f"  {unit.rank}/{ranking.k} ({unit.lower}–{unit.upper})  {unit.unit}{name}  "
              f"{format_number(unit.score)}")
    print(distinguishable_sentence(ranking))
    return 0


# --- survey par --------------------------------------------------------------------------------


def _par(args: argparse.Namespace) -> int:
    tables, scores = args.tables, args.survey_score
    if len(scores) != len(tables):
        raise CliError(f"give one --survey-score per table ({len(tables)} tables, "
                       f"{len(scores)} scores)")
    stated = args.stated_total or []
    if stated and len(stated) != len(tables):
        raise CliError("give one --stated-total per table, or none")
    try:
        bands = parse_bands(args.bands) if args.bands else HAU_GIANG_BANDS
        results = []
        for i, path in enumerate(tables):
            table = read_appraisal_table(path)
            results.append(par_index(
                table, scores[i], survey_max=args.survey_max,
                stated_total=stated[i] if stated else None, bands=bands,
                unit=path.rsplit("/", 1)[-1].rsplit(".", 1)[0] if len(tables) > 1 else None))
    except (ParError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if len(results) > 1:
        results = rank_results(results)
    if args.json:
        documents = [r.to_dict() for r in results]
        print_json(documents[0] if len(documents) == 1 else documents)
        return 0
    for result in results:
        rank = f" · hạng {result.rank}/{result.ranked_units}" if result.rank else ""
        print(f"{result.unit or ''}{' · ' if result.unit else ''}"
              f"thẩm định {format_number(float(result.appraised))} + ĐTXHH "
              f"{format_number(float(result.survey_score))} = {format_number(float(result.total))}"
              f" / {format_number(float(result.applicable_max))} → "
              f"{format_number(float(result.percentage))} % · {result.classification}{rank}")
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
            if getattr(warning, "code", "") == "par.stated_max_differs.total_row":
                rows = warning.params["rows"]
                print(f"hint: pass --stated-total to choose the maximum (--stated-total {rows} "
                      "for the row sum)", file=sys.stderr)
    return 0


# --- registration ------------------------------------------------------------------------------
