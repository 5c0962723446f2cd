"""What the unit and provincial pages show, computed from the engine (no Streamlit here).

`load_source` reads one questionnaire family's responses within the caller's scope;
`unit_report` and `province_report` score them and assemble the office's tables. Every
figure on a page comes from here, so tests compare pages against these objects.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sqlalchemy import func, text
from sqlmodel import Session, select

from survey.aggregate import ProvinceScore, unit_average
from survey.auth import Scope, require_unit, visible_organisations
from survey.changes import Change, ChangeEstimate, compare_scores, compare_units
from survey.formatting import format_number
from survey.models import Response
from survey.periods import Period, parse_period
from survey.questionnaire import Questionnaire
from survey.ranking import Ranking, ranking_of
from survey.scoring import DomainScore, score_domains
from survey.storage.questionnaires import list_questionnaire_versions, questionnaire_of
from survey.storage.responses import append_responses, load_responses
from survey.text import tr

CHANGE_TOLERANCE = 0.005  # changes smaller than this show as "no change" (2-decimal display)


@dataclass(frozen=True)
class ScoreSource:
    """One family's responses within a scope, with its questionnaire versions."""

    family: str
    responses: pd.DataFrame
    questionnaires: dict[str, Questionnaire]
    # False when the scope is part of a province (a unit account): its averages and ranks are
    # then "the units in view", never labelled as the province's (see README, Roles).
    whole_province: bool = True

    @property
    def latest(self) -> Questionnaire:
        return self.questionnaires[max(self.questionnaires, key=_version_key)]

    def quarters(self) -> list[str]:
        return sorted(self.responses["period"].unique()) if len(self.responses) else []

    def periods(self) -> list[str]:
        """Every quarter, half-year and year with responses, newest first."""
        found: set[Period] = set()
        for quarter in self.quarters():
            q = parse_period(quarter)
            found |= {q, Period(q.year, "H", (q.index + 1) // 2), Period(q.year, "Y", 0)}
        return [str(p) for p in sorted(found, key=lambda p: (p.year, "YHQ".index(p.kind), p.index),
                                        reverse=True)]


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in version.replace("-", ".").split("."))


def data_version(*, session: Session) -> tuple[int, int, int]:
    """A cheap fingerprint of the responses (count, highest id, flagged): caches keyed on it are
    invalidated by any new, imported or re-flagged response."""
    # Three small queries, each answered from an index or a short scan (one aggregate of all
    # three scanned the whole table: 0.28 s at a million responses, on every page view).
    count = session.exec(select(func.count()).select_from(Response)).one()
    highest = session.exec(select(func.max(Response.id))).one()
    # Spelled as the partial index's own condition, so both databases count its few entries.
    flagged = session.connection().execute(
        text("SELECT count(*) FROM response WHERE flagged")).scalar_one()
    return int(count or 0), int(highest or 0), int(flagged or 0)


_SOURCE_CACHE: dict[tuple, tuple[tuple[int, int, int], ScoreSource]] = {}
_SOURCE_LOCK = threading.Lock()


def _full_source(*, session: Session, family: str, include_flagged: bool) -> ScoreSource:
    """Every response of `family`, memoised per database until the responses change.

    New responses (ids above the cached ones, nothing else changed) are read and appended;
    any other change (a response flagged or removed) re-reads everything.
    """
    key = (str(session.get_bind().url), family, include_flagged)
    fingerprint = data_version(session=session)
    with _SOURCE_LOCK:
        cached = _SOURCE_CACHE.get(key)
        if cached and cached[0] == fingerprint:
            return cached[1]
        versions = {row.version: questionnaire_of(row)
                    for row in list_questionnaire_versions(session=session, family=family)}
        appended = None
        if cached and fingerprint[2] == cached[0][2] and fingerprint[1] > cached[0][1]:
            new = load_responses(session=session, family=family, include_flagged=include_flagged,
                                 after_id=cached[0][1])
            added = fingerprint[0] - cached[0][0]
            if _new_rows_since(session, cached[0][1]) == added:
                old = cached[1].responses
                appended = append_responses(old, new)
        responses = appended if appended is not None else load_responses(
            session=session, family=family, include_flagged=include_flagged)
        source = ScoreSource(family, responses, versions)
        _SOURCE_CACHE[key] = (fingerprint, source)
        return source


def _new_rows_since(session: Session, last_id: int) -> int:
    """Responses (of any family) stored after `last_id`."""
    return int(session.exec(select(func.count(Response.id)).where(Response.id > last_id)).one())


def load_source(
    *, session: Session, family: str, scope: Scope, include_flagged: bool = True
) -> ScoreSource:
    """The responses of `family` that `scope` may see, and every registered version of it.

    The family's responses are read once and kept in memory until any response is added,
    imported or re-flagged (see `data_version`); each call filters them to the scope.
    """
    source = _full_source(session=session, family=family, include_flagged=include_flagged)
    if scope.sees_everything or source.responses.empty:
        return source
    visible = visible_organisations(session=session, scope=scope)
    codes = {o.code for o in visible}
    return ScoreSource(family, source.responses[source.responses["unit"].isin(codes)],
                       source.questionnaires,
                       whole_province=any(o.kind == "province" for o in visible))


def warm_cache(*, session: Session) -> None:
    """Read every family's responses once (at server start), so the first page view is fast."""
    for family in sorted({row.family for row in list_questionnaire_versions(session=session)}):
        _full_source(session=session, family=family, include_flagged=True)


def _within(responses: pd.DataFrame, period: str, units: Iterable[str] | None = None) -> pd.DataFrame:
    quarters = set(parse_period(period).quarters)
    keep = responses["period"].isin(quarters)
    if units is not None:
        keep &= responses["unit"].isin(set(units))
    return responses[keep]


def _main_versions(scores: list[DomainScore]) -> dict[str, DomainScore]:
    """One score per unit: the version with the most responses when a period mixes versions."""
    chosen: dict[str, DomainScore] = {}
    for score in scores:
        if score.unit not in chosen or score.n > chosen[score.unit].n:
            chosen[score.unit] = score
    return chosen


def period_scores(source: ScoreSource, period: str, *, level: float,
                  units: Iterable[str] | None = None) -> dict[str, DomainScore]:
    """Each unit's score for `period` (a quarter, half-year or year), keyed by unit code."""
    if source.responses.empty:
        return {}
    rows = _within(source.responses, period, units)
    if rows.empty:
        return {}
    return _main_versions(score_domains(rows, source.questionnaires, periods=[period], level=level))


def history_periods(period: str, available: Iterable[str]) -> list[str]:
    """Periods of the same kind as `period` that have responses, oldest first."""
    kind = parse_period(period).kind
    return sorted((p for p in available if parse_period(p).kind == kind), key=parse_period)


def verdict(change: ChangeEstimate | None, *, unit_label: str = "điểm", lang: str = "vi") -> str:
    """A plain-language reading of a change: its size and whether the interval excludes zero."""
    if change is None or change.change is None:
        return tr(lang, "chưa đủ dữ liệu để so sánh", "not enough data to compare")
    size = abs(change.change)
    amount = format_number(size, 2, lang)
    if size < CHANGE_TOLERANCE:
        return tr(lang, "không đổi", "no change")
    up = change.change > 0
    word = tr(lang, "tăng" if up else "giảm", "up" if up else "down")
    points = unit_label if lang == "vi" else "points"
    if change.ci is None:
        return tr(lang, f"{word} {amount} {points} — không tính được khoảng tin cậy (quá ít phiếu)",
                  f"{word} {amount} {points} — no interval (too few responses)")
    if change.ci[0] > 0 or change.ci[1] < 0:
        return tr(lang, f"{word} {amount} {points} — {word} có ý nghĩa thống kê",
                  f"{word} {amount} {points} — a statistically significant "
                  f"{'rise' if up else 'fall'}")
    return tr(lang, f"{word} {amount} {points} — chưa đủ bằng chứng là {word} thật",
              f"{word} {amount} {points} — not enough evidence of a real {'rise' if up else 'fall'}")


def is_significant(change: ChangeEstimate | None, adjusted: bool = False,
                   level: float = 0.95) -> bool | None:
    """Whether the change is significant at the report's level (None when it cannot be told)."""
    if change is None:
        return None
    if adjusted:
        return None if change.p_adjusted is None else change.p_adjusted < 1 - level
    if change.ci is None:
        return None
    return change.ci[0] > 0 or change.ci[1] < 0


@dataclass(frozen=True)
class UnitReport:
    unit: str
    unit_name: str
    period: str
    level: float
    current: DomainScore | None
    previous: DomainScore | None
    year_ago: DomainScore | None
    change_previous: Change | None
    change_year_ago: Change | None
    history: tuple[DomainScore, ...]
    questionnaire: Questionnaire | None
    fell_most: str | None = None

    def comparison(self, against: str) -> tuple[DomainScore | None, Change | None]:
        if against == "previous":
            return self.previous, self.change_previous
        return self.year_ago, self.change_year_ago


def unit_report(*, session: Session, source: ScoreSource, scope: Scope, unit: str, period: str,
                level: float = 0.95) -> UnitReport:
    """One unit's score for `period`, its previous and same-period-last-year comparisons and its
    history. The unit must be inside `scope` (AccessDenied otherwise)."""
    organisation = require_unit(session=session, scope=scope, code=unit)
    target = parse_period(period)
    current = period_scores(source, str(target), level=level, units=[unit]).get(unit)
    previous = period_scores(source, str(target.previous()), level=level, units=[unit]).get(unit)
    year_ago = period_scores(source, str(target.year_ago()), level=level, units=[unit]).get(unit)
    change_previous = compare_scores(current, previous, level) if current and previous else None
    change_year_ago = compare_scores(current, year_ago, level) if current and year_ago else None
    history = []
    unit_rows = source.responses[source.responses["unit"] == unit] if len(source.responses) else None
    if unit_rows is not None and len(unit_rows):
        periods = history_periods(str(target), ScoreSource(source.family, unit_rows,
                                                           source.questionnaires).periods())
        scores = score_domains(unit_rows, source.questionnaires, periods=periods, level=level)
        by_period: dict[str, list[DomainScore]] = {}
        for score in scores:
            by_period.setdefault(score.period, []).append(score)
        history = [max(found, key=lambda s: s.n) for _, found in sorted(
            by_period.items(), key=lambda item: parse_period(item[0]))]
    fell_most = _fell_most(change_previous) or _fell_most(change_year_ago)
    questionnaire = source.questionnaires.get(current.version) if current else None
    return UnitReport(unit, organisation.name, str(target), level, current, previous, year_ago,
                      change_previous, change_year_ago, tuple(history), questionnaire, fell_most)


def _fell_most(change: Change | None) -> str | None:
    """The criterion with the largest fall (as % of its maximum when the basis is points)."""
    if change is None:
        return None
    falls = [(c.change, c.code) for c in change.criteria if c.change is not None and c.change < 0]
    return min(falls)[1] if falls else None


def office_table(report: UnitReport, *, against: str = "year-ago", lang: str = "vi") -> pd.DataFrame:
    """The office's table: STT, criterion, maximum, this period, comparison period, change,
    the change's interval and significance, with a total row. Numbers stay numbers."""
    baseline, change = report.comparison("previous" if against == "previous" else "year-ago")
    current = report.current
    if current is None or report.questionnaire is None:
        return pd.DataFrame()
    titles = {c.code: c.title.get(lang) for c in report.questionnaire.criteria}
    changes = {c.code: c for c in change.criteria} if change else {}
    rows = []
    entries = [(i + 1, e.code, titles.get(e.code, e.code), e) for i, e in enumerate(current.criteria)]
    entries.append((None, None, tr(lang, "Tổng cộng", "Total"), current.total))
    for number, code, title, estimate in entries:
        base = (baseline.criterion(code) if code else baseline.total) if baseline else None
        delta = changes.get(code) if code else (change.total if change else None)
        rows.append({
            "stt": number,
            "code": code or "",
            "criterion": title,
            "max": estimate.maximum if estimate else current.maximum,
            "current": estimate.score if estimate else None,
            "current_ci_low": estimate.ci[0] if estimate and estimate.ci else None,
            "current_ci_high": estimate.ci[1] if estimate and estimate.ci else None,
            "baseline": base.score if base else None,
            "change": delta.change if delta else None,
            "change_ci_low": delta.ci[0] if delta and delta.ci else None,
            "change_ci_high": delta.ci[1] if delta and delta.ci else None,
            "p_value": delta.p_value if delta else None,
            "verdict": verdict(delta, lang=lang) if baseline else "",
        })
    table = pd.DataFrame(rows)
    numeric = ["max", "current", "current_ci_low", "current_ci_high", "baseline", "change",
               "change_ci_low", "change_ci_high", "p_value"]
    table[numeric] = table[numeric].astype(float)
    return table


def _in_percent_points(change: ChangeEstimate) -> ChangeEstimate:
    """A change of shares (0..1) in percentage points, for `verdict`."""
    return replace(change, change=None if change.change is None else 100.0 * change.change,
                   ci=None if change.ci is None else (100.0 * change.ci[0], 100.0 * change.ci[1]))


def index_table(report: UnitReport, code: str, *, against: str = "year-ago",
                lang: str = "vi") -> pd.DataFrame:
    """An index's shares (0..1) overall, per criterion and per question, with intervals and the
    change against the comparison period (same tests as the points). Empty if undefined."""
    current = report.current.index_score(code) if report.current else None
    if current is None or report.questionnaire is None:
        return pd.DataFrame()
    baseline_scores, change = report.comparison("previous" if against == "previous" else "year-ago")
    baseline = baseline_scores.index_score(code) if baseline_scores else None
    index_change = change.index_change(code) if change else None
    changes = {c.code: c for c in index_change.criteria} if index_change else {}
    titles = {c.code: c.title.get(lang) for c in report.questionnaire.criteria}
    texts = {q.code: q.text.get(lang) for q in report.questionnaire.questions}
    rows = [("total", None, "Chung" if lang == "vi" else "Overall", current.total,
             baseline.total if baseline else None,
             index_change.total if index_change else None)]
    for criterion in current.criteria:
        rows.append(("criterion", criterion.code, titles.get(criterion.code, criterion.code),
                     criterion, baseline.criterion(criterion.code) if baseline else None,
                     changes.get(criterion.code)))
    for question in current.questions:
        rows.append(("question", question.code, texts.get(question.code, question.code),
                     question, None, None))
    table = pd.DataFrame([{
        "level": level, "code": code_ or "", "label": label,
        "share": estimate.score if estimate else None,
        "ci_low": estimate.ci[0] if estimate and estimate.ci else None,
        "ci_high": estimate.ci[1] if estimate and estimate.ci else None,
        "n": estimate.n if estimate and estimate.n is not None else current.n,
        "baseline": base.score if base else None,
        "change": delta.change if delta else None,
        "change_ci_low": delta.ci[0] if delta and delta.ci else None,
        "change_ci_high": delta.ci[1] if delta and delta.ci else None,
        "p_value": delta.p_value if delta else None,
        "verdict": verdict(_in_percent_points(delta), unit_label="điểm %", lang=lang)
        if delta else "",
        "reason": (estimate.reason if estimate else current.reason) or "",
    } for level, code_, label, estimate, base, delta in rows])
    numeric = ["share", "ci_low", "ci_high", "baseline", "change", "change_ci_low",
               "change_ci_high", "p_value"]
    table[numeric] = table[numeric].astype(float)
    return table


# --- the provincial view ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvinceReport:
    period: str
    against: str
    level: float
    ranking: pd.DataFrame
    scores: dict[str, DomainScore]
    changes: dict[str, Change]
    aggregate: ProvinceScore | None
    questionnaire: Questionnaire | None
    left_out: tuple[str, ...] = field(default=())
    whole_province: bool = True  # False: the average and ranks are over the units in view only
    rank_sets: Ranking | None = None  # marginal rank sets of the main version's units
    rank_sets_simultaneous: Ranking | None = None
    index_rank_sets: dict[str, Ranking] = field(default_factory=dict)


def rank_text(rank, count, low, high, lang: str = "vi") -> str:
    """'8/12 (khoảng 5–11)': the point rank and its rank set; '—' without a rank."""
    if rank is None or pd.isna(rank):
        return "—"
    text = f"{int(rank)}/{int(count)}"
    if low is None or pd.isna(low):
        return text
    word = "khoảng" if lang == "vi" else "range"
    return f"{text} ({word} {int(low)}–{int(high)})"


def rank_labels(scores: pd.Series) -> pd.Series:
    """Competition ranks ("1/12", ties share a rank) by descending score; NaN scores get no rank."""
    ranked = scores.rank(method="min", ascending=False)
    count = int(scores.notna().sum())
    return ranked.map(lambda r: f"{int(r)}/{count}" if np.isfinite(r) else "—")


def province_report(*, source: ScoreSource, period: str, against: str = "previous",
                    level: float = 0.95, classify=None) -> ProvinceReport:
    """Every unit of the source for `period`: ranked, with change against the previous period (or
    the same period a year earlier) and Benjamini–Hochberg adjusted p-values across units, plus
    the unit-average provincial aggregate. `classify(percent)` names a class (optional)."""
    target = parse_period(period)
    baseline_period = target.previous() if against == "previous" else target.year_ago()
    current = period_scores(source, str(target), level=level)
    baseline = period_scores(source, str(baseline_period), level=level)
    changes = {c.unit: c for c in compare_units(list(current.values()), list(baseline.values()),
                                                level)} if current and baseline else {}
    rows = []
    for code, score in sorted(current.items()):
        total = score.total
        change = changes.get(code)
        delta = change.total if change else None
        rows.append({
            "unit": code,
            "unit_name": score.unit_name or code,
            "n": score.n,
            "score": total.score if total else None,
            "percent": total.percent if total else None,
            "ci_low": total.ci[0] if total and total.ci else None,
            "ci_high": total.ci[1] if total and total.ci else None,
            "flags": ", ".join(total.flags) if total else score.reason or "",
            "change": delta.change if delta else None,
            "change_ci_low": delta.ci[0] if delta and delta.ci else None,
            "change_ci_high": delta.ci[1] if delta and delta.ci else None,
            "p_value": delta.p_value if delta else None,
            "p_adjusted": delta.p_adjusted if delta else None,
        })
    ranking = pd.DataFrame(rows, columns=["unit", "unit_name", "n", "score", "percent", "ci_low",
                                          "ci_high", "flags", "change", "change_ci_low",
                                          "change_ci_high", "p_value", "p_adjusted"])
    numeric = ["score", "percent", "ci_low", "ci_high", "change", "change_ci_low",
               "change_ci_high", "p_value", "p_adjusted"]
    ranking[numeric] = ranking[numeric].astype(float)
    responses_of_version = Counter()
    for score in current.values():
        responses_of_version[score.version] += score.n
    main_version = max((s.version for s in current.values()), default=None,
                       key=responses_of_version.__getitem__)
    same_version = [s for s in current.values() if s.version == main_version]
    questionnaire = source.questionnaires.get(main_version) if main_version else None
    # Rank sets (SCORING.md): among the main version's units with a defined SE; the point rank
    # shown with them is the rank among those K units.
    marginal = ranking_of(same_version, level) if same_version else None
    simultaneous = ranking_of(same_version, level, simultaneous=True) if same_version else None
    for column, sets in (("", marginal), ("_all", simultaneous)):
        places = {u.unit: u for u in sets.units} if sets else {}
        for name in ("rank", "lower", "upper"):
            key = {"rank": "set_rank", "lower": "rank_low", "upper": "rank_high"}[name] + column
            ranking[key] = [getattr(places[u], name) if u in places and
                            getattr(places[u], name) is not None else np.nan
                            for u in ranking["unit"]]
    ranking["rank_count"] = marginal.k if marginal else 0
    index_sets: dict[str, Ranking] = {}
    for index in questionnaire.indices if questionnaire else ():
        sets = ranking_of(same_version, level, index=index.code)
        index_sets[index.code] = sets
        places = {u.unit: u for u in sets.units}
        shares = {s.unit: s.index_score(index.code) for s in same_version}
        prefix = f"index:{index.code}:"
        ranking[prefix + "share"] = [
            shares[u].total.score if u in shares and shares[u] and shares[u].total else np.nan
            for u in ranking["unit"]]
        for position, bound in ((0, "ci_low"), (1, "ci_high")):
            ranking[prefix + bound] = [
                shares[u].total.ci[position] if u in shares and shares[u] and shares[u].total
                and shares[u].total.ci else np.nan for u in ranking["unit"]]
        index_changes = {u: c.index_change(index.code) for u, c in changes.items()}
        ranking[prefix + "change"] = [
            index_changes[u].total.change if index_changes.get(u) and index_changes[u].total
            else np.nan for u in ranking["unit"]]
        ranking[prefix + "rank_label"] = [
            rank_text(places[u].rank, sets.k, places[u].lower, places[u].upper)
            if u in places else "—" for u in ranking["unit"]]
    ranking["rank"] = ranking["score"].rank(method="min", ascending=False)
    # The label: the rank among the K units with a rank set, and the set ("8/12 (khoảng 5–11)");
    # a unit without one (no SE, or another questionnaire version) is not ranked ("—").
    for column, language in (("rank_label", "vi"), ("rank_label_en", "en")):
        ranking[column] = [rank_text(r, ranking["rank_count"].iloc[0], low, high, language)
                           for r, low, high in zip(ranking["set_rank"], ranking["rank_low"],
                                                   ranking["rank_high"], strict=True)]
    ranking["significant"] = ranking["p_adjusted"].map(
        lambda p: None if pd.isna(p) else bool(p < 1 - level))
    if classify is not None:
        ranking["class"] = ranking["percent"].map(lambda p: classify(p) if pd.notna(p) else "")
    ranking = ranking.sort_values(["rank", "unit"], na_position="last", ignore_index=True)
    aggregates = unit_average(same_version, level=level, province="province") if same_version else []
    left_out = tuple(sorted(code for code, s in current.items() if s.version != main_version))
    return ProvinceReport(str(target), against, level, ranking, current, changes,
                          aggregates[0] if aggregates else None, questionnaire, left_out,
                          source.whole_province, marginal, simultaneous, index_sets)
