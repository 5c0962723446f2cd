"""Where the points were lost: question-level diagnosis from the same engine (no Streamlit here).

Per question q of a unit's period (SCORING.md notation):

* p_q, R_q = Y_q / X_q with its linearisation variance and logit-t interval on [0, p_q], and the
  points lost p_q − R_q. The variance is the engine's own: `estimate_domains` is called with every
  question as its own criterion (k(q) = q, P_k = p_q), so C_k = R_q and the criterion's linearised
  value is "one question = its own terms", z_i = w_i a_iq (s_iq − R_q) / X_q, strata = the groups
  of the domain (respondents who left q unanswered count in their stratum with z_i = 0).
* The question's own count n_q (respondents with a scored answer on q) and G_q (their groups):
  df_q = n_q − |G_q|, and n_q < 5 gives no interval (SCORING.md "Small domains", applied to one
  question).
* The share of each answer option, "no opinion" included, weighted by w_i (the group shares),
  among the respondents who chose any option on q; `answered` is their unweighted count.

Against a comparison period (the previous period, or the same period a year earlier):

* A question is compared only when it exists in both versions with the same code, the same
  Vietnamese wording and the same option scores ("same"); otherwise it is shown as "only_current",
  "only_baseline" or "changed" (same code, other wording or scale) and never compared. Equal p_q
  compare in points, different p_q as a percentage of p_q (`basis`). The change, its interval and
  p-value use exactly the dimension test (`survey.changes.change_arrays`: V₁ + V₀,
  Welch–Satterthwaite df, t interval; no interval when a side has fewer than 5 answers).
* Decomposition of ΔT: ΔT = Σ_k ΔC_k (the engine's criterion changes, on the points basis only).
  Within a criterion that is fully answered in both periods with the same questions and points,
  C_k = (P_k / Σ_{q∈k} p_q) · Σ_q R_q on both sides, so ΔC_k = Σ_q (P_k / Σ p_q) · ΔR_q exactly:
  each question's contribution. Elsewhere the criterion is shown without a question breakdown
  and the reason.

By respondent group: R_q per group (a domain per group: weights are constant within it), its
interval, and whether the groups differ. Test: the Wald test of equal means across the groups
whose R_q has a defined variance (> 0, df ≥ 1, n_q ≥ 5); the groups are independent strata, so
W = Σ_g (R_g − R̄)² / V_g with R̄ the precision-weighted mean (Σ R_g/V_g / Σ 1/V_g), referred to
χ² with (groups − 1) degrees of freedom (for two groups W = (R₁ − R₂)² / (V₁ + V₂)). The p-values
are Benjamini–Hochberg adjusted across the questions tested, and "differs" means the adjusted
p-value is below 1 − level.

Everything is vectorised over respondents (one engine call per table); loops run over
questions, groups or units only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats

from survey.changes import POINTS, benjamini_hochberg, change_arrays
from survey.formatting import format_interval, format_number
from survey.intervals import MIN_RESPONSES_FOR_INTERVAL, check_level
from survey.periods import parse_period
from survey.questionnaire import Questionnaire
from survey.scoring import answer_fractions, estimate_domains, estimates_with_intervals
from survey.text import tr

SAME, ONLY_CURRENT, ONLY_BASELINE, CHANGED = "same", "only_current", "only_baseline", "changed"
PERCENT_BASIS = "percent"

QUESTION_COLUMNS = ["criterion", "code", "text", "points", "score", "se", "df", "n", "answered",
                    "ci_low", "ci_high", "lost", "lost_ci_low", "lost_ci_high"]


# --- question scores on arrays ---------------------------------------------------------------


def _weighting(rows: pd.DataFrame, questionnaire: Questionnaire) -> tuple[np.ndarray, np.ndarray,
                                                                            np.ndarray]:
    """(known rows mask, group index per row, group weights), as `score_domains` weights them:
    a response with an unknown group is left out; no groups = one group with W = 1."""
    if questionnaire.groups:
        index = {g.code: i for i, g in enumerate(questionnaire.groups)}
        group = rows["group"].map(index).to_numpy(dtype=float)
        known = ~np.isnan(group)
        return known, np.nan_to_num(group).astype(np.intp), np.array(
            [g.weight for g in questionnaire.groups])
    return np.ones(len(rows), bool), np.zeros(len(rows), np.intp), np.ones(1)


def _sum_into(index: np.ndarray, size: int, values: np.ndarray) -> np.ndarray:
    """Rows of `values` summed by `index` (a sparse indicator product, no Python loop)."""
    indicator = sparse.csr_matrix((np.ones(index.size), (index, np.arange(index.size))),
                                  shape=(size, index.size))
    return np.asarray(indicator @ values.astype(float))


def question_table(rows: pd.DataFrame, questionnaire: Questionnaire, domain: np.ndarray,
                   n_domains: int, *, level: float = 0.95,
                   by_group: bool = False) -> dict[str, np.ndarray]:
    """Per domain × question: R_q, variance, df_q, n_q and the interval (arrays D × Q).

    `rows` are responses of one version; `domain` (len(rows),) their domain index. With
    `by_group`, each domain is further split by group (domain index d·G + g, D·G domains).
    Responses whose group is unknown are left out, as in `score_domains`.
    """
    known, group, weights = _weighting(rows, questionnaire)
    n_groups = weights.size
    kept = np.flatnonzero(known)
    domain = np.asarray(domain, dtype=np.intp)[kept]
    group = group[kept]
    cell = domain * n_groups + group  # weighting cell = variance stratum = domain × group
    cell_weight = np.tile(weights, n_domains)
    if by_group:
        domain, n_domains = cell, n_domains * n_groups
    order = np.argsort(cell, kind="stable")
    fractions = answer_fractions(rows, questionnaire, kept[order])
    points = np.array([q.points for q in questionnaire.questions], dtype=float)
    n_questions = points.size
    result = estimate_domains(fractions, points, np.arange(n_questions), points,
                              domain[order], cell[order], cell_weight, cell[order],
                              n_domains=n_domains)
    scored = ~np.isnan(fractions)
    # n_q and |G_q| per domain: answered counts per (cell) summed into domains.
    cells_total = cell_weight.size
    per_cell = _sum_into(cell[order], cells_total, scored)
    domain_of_cell = np.arange(cells_total) // (1 if by_group else n_groups)
    answered_n = _sum_into(domain_of_cell, n_domains, per_cell)
    groups_present = _sum_into(domain_of_cell, n_domains, per_cell > 0)
    df = answered_n - groups_present
    values = estimates_with_intervals(result.criterion_score, result.criterion_variance,
                                      points[None, :], df, answered_n, level)
    no_df = df < 1
    for key in ("lower", "upper"):
        values[key] = np.where(no_df, np.nan, values[key])
    return {"score": values["score"], "variance": np.where(no_df, np.nan, values["variance"]),
            "df": df, "n": answered_n, "lower": values["lower"], "upper": values["upper"],
            "points": points}


def option_shares(rows: pd.DataFrame, questionnaire: Questionnaire) -> tuple[pd.DataFrame,
                                                                             np.ndarray]:
    """Weighted share of each option (no opinion included) per question among those who chose
    any option, and the unweighted count of those respondents; one row per question."""
    known, group, weights = _weighting(rows, questionnaire)
    counts = np.bincount(group[known], minlength=weights.size)
    w = np.where(known, weights[group] / np.maximum(counts[group], 1), 0.0)
    records, answered = [], []
    for question in questionnaire.questions:
        scale = questionnaire.scale_of(question.code)
        codes = [o.code for o in scale.options]
        if question.code in rows.columns:
            column = rows[question.code].astype(object).to_numpy()
        else:
            column = np.full(len(rows), None, dtype=object)
        position = pd.Categorical(column, categories=codes).codes  # −1 = unanswered
        chose = (position >= 0) & known
        totals = np.bincount(position[chose], weights=w[chose], minlength=len(codes))
        whole = totals.sum()
        records.append({c: (totals[i] / whole if whole > 0 else np.nan)
                        for i, c in enumerate(codes)})
        answered.append(int(chose.sum()))
    return pd.DataFrame(records), np.array(answered)


# --- the diagnosis of one unit ---------------------------------------------------------------


@dataclass(frozen=True)
class Diagnosis:
    unit: str
    unit_name: str
    period: str
    version: str
    level: float
    n: int
    maximum: float
    questions: pd.DataFrame  # sorted by points lost; comparison columns when there is a baseline
    options: dict[str, str]  # option code → label (in the diagnosis's language)
    baseline_period: str | None = None
    baseline_version: str | None = None
    against: str | None = None
    total_change: float | None = None
    basis: str | None = None
    criteria: pd.DataFrame = field(default_factory=pd.DataFrame)  # ΔC_k decomposition
    groups: pd.DataFrame = field(default_factory=pd.DataFrame)  # question × group
    group_tests: pd.DataFrame = field(default_factory=pd.DataFrame)  # per question
    group_labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]

        return {
            "unit": self.unit, "unit_name": self.unit_name, "period": self.period,
            "version": self.version, "level": self.level, "n": self.n, "max": self.maximum,
            "against": self.against, "baseline_period": self.baseline_period,
            "baseline_version": self.baseline_version, "basis": self.basis,
            "total_change": self.total_change, "options": self.options,
            "questions": records(self.questions), "criteria": records(self.criteria),
            "groups": records(self.groups), "group_tests": records(self.group_tests),
            "group_labels": self.group_labels,
        }


def _plain(value):
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA:
        return None
    return value


def _same_question(a: Questionnaire, b: Questionnaire, code: str) -> bool:
    qa, qb = a.question(code), b.question(code)
    if qa is None or qb is None:
        return False
    scores = [tuple((o.code, o.score) for o in v.scale_of(code).options) for v in (a, b)]
    return qa.text.get("vi") == qb.text.get("vi") and scores[0] == scores[1]


def _one_domain(rows: pd.DataFrame, questionnaire: Questionnaire, level: float) -> pd.DataFrame:
    """The question table of one domain (all `rows`), in questionnaire order."""
    values = question_table(rows, questionnaire, np.zeros(len(rows), np.intp), 1, level=level)
    shares, answered = option_shares(rows, questionnaire)
    points = values["points"]
    frame = pd.DataFrame({
        "criterion": [q.criterion for q in questionnaire.questions],
        "code": list(questionnaire.question_codes),
        "points": points,
        "score": values["score"][0],
        "se": np.sqrt(values["variance"][0]),
        "df": values["df"][0],
        "n": values["n"][0].astype(int),
        "answered": answered,
        "ci_low": values["lower"][0],
        "ci_high": values["upper"][0],
    })
    frame["lost"] = frame["points"] - frame["score"]
    frame["lost_ci_low"] = frame["points"] - frame["ci_high"]
    frame["lost_ci_high"] = frame["points"] - frame["ci_low"]
    shares.columns = [f"share_{c}" for c in shares.columns]
    return pd.concat([frame, shares], axis=1)


def diagnose(*, source, report, against: str = "year-ago", lang: str = "vi",
             groups: bool = True) -> Diagnosis | None:
    """The diagnosis of `report`'s unit and period (a `survey.dashboard.UnitReport`) from the
    responses of `source` (its `ScoreSource`), against "previous" or "year-ago"."""
    current = report.current
    if current is None:
        return None
    level = check_level(report.level)
    questionnaire = source.questionnaires[current.version]
    rows = _domain_rows(source.responses, report.unit, current.period, current.version)
    table = _one_domain(rows, questionnaire, level)
    table.insert(2, "text", [q.text.get(lang) for q in questionnaire.questions])
    baseline, change = report.comparison("previous" if against == "previous" else "year-ago")
    options = {o.code: o.label.get(lang) for s in questionnaire.scales.values() for o in s.options}
    diagnosis = Diagnosis(report.unit, report.unit_name, current.period, current.version, level,
                          current.n, current.maximum, table, options, against=against)
    if baseline is not None:
        diagnosis = _compare(diagnosis, source, report.unit, baseline, change, lang)
    else:
        diagnosis = _replace(diagnosis, questions=_sorted(table.assign(status=ONLY_CURRENT)))
    if groups and questionnaire.groups:
        diagnosis = _replace(diagnosis, **_group_view(rows, questionnaire, level, lang))
    return diagnosis


def _replace(diagnosis: Diagnosis, **changes) -> Diagnosis:
    from dataclasses import replace

    return replace(diagnosis, **changes)


def _domain_rows(responses: pd.DataFrame, unit: str, period: str, version: str) -> pd.DataFrame:
    quarters = set(parse_period(period).quarters)
    keep = ((responses["unit"] == unit) & responses["period"].isin(quarters)
            & (responses["version"] == version))
    return responses[keep].reset_index(drop=True)


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    """Most points lost first; questions only in the baseline at the end."""
    return table.sort_values(["lost", "code"], ascending=[False, True], na_position="last",
                             ignore_index=True)


def _compare(diagnosis: Diagnosis, source, unit: str, baseline, change, lang: str) -> Diagnosis:
    current_q = source.questionnaires[diagnosis.version]
    baseline_q = source.questionnaires[baseline.version]
    base_rows = _domain_rows(source.responses, unit, baseline.period, baseline.version)
    base = _one_domain(base_rows, baseline_q, diagnosis.level).set_index("code")
    table = diagnosis.questions.copy()
    status = [SAME if _same_question(current_q, baseline_q, c)
              else (CHANGED if c in base.index else ONLY_CURRENT) for c in table["code"]]
    table["status"] = status
    compared = table["status"] == SAME
    b = base.reindex(table["code"])
    equal_points = b["points"].to_numpy() == table["points"].to_numpy()
    factor_1 = np.where(equal_points, 1.0, 100.0 / table["points"].to_numpy())
    factor_0 = np.where(equal_points, 1.0, 100.0 / b["points"].to_numpy())
    table["basis"] = np.where(compared, np.where(equal_points, POINTS, PERCENT_BASIS), None)
    table["baseline_points"] = b["points"].to_numpy()
    table["baseline_score"] = np.where(compared, b["score"].to_numpy(), np.nan)
    table["baseline_ci_low"] = np.where(compared, b["ci_low"].to_numpy(), np.nan)
    table["baseline_ci_high"] = np.where(compared, b["ci_high"].to_numpy(), np.nan)
    table["baseline_n"] = np.where(compared, b["n"].to_numpy(), np.nan)
    values = change_arrays(table["score"].to_numpy() * factor_1,
                           table["se"].to_numpy() ** 2 * factor_1**2, table["df"].to_numpy(),
                           b["score"].to_numpy() * factor_0,
                           b["se"].to_numpy() ** 2 * factor_0**2, b["df"].to_numpy(),
                           diagnosis.level)
    few = (table["n"].to_numpy() < MIN_RESPONSES_FOR_INTERVAL) | (
        b["n"].to_numpy() < MIN_RESPONSES_FOR_INTERVAL)
    for key, column in (("change", "change"), ("lower", "change_ci_low"),
                        ("upper", "change_ci_high"), ("p_value", "p_value")):
        value = values[key] if key == "change" else np.where(few, np.nan, values[key])
        table[column] = np.where(compared, value, np.nan)
    only_base = [c for c in base.index if current_q.question(c) is None]
    extra = base.loc[only_base].reset_index()
    extra = pd.DataFrame({"criterion": extra["criterion"], "code": extra["code"],
                          "text": [baseline_q.question(c).text.get(lang) for c in only_base],
                          "baseline_points": extra["points"], "baseline_score": extra["score"],
                          "baseline_n": extra["n"], "status": ONLY_BASELINE})
    criteria, contribution = _decompose(table, current_q, change)
    table["contribution"] = table["code"].map(contribution)
    table = _sorted(pd.concat([table, extra], ignore_index=True) if len(extra) else table)
    total = change.total.change if change is not None and change.total is not None else None
    return _replace(diagnosis, questions=table, criteria=criteria,
                    baseline_period=baseline.period, baseline_version=baseline.version,
                    total_change=total, basis=change.basis if change is not None else None)


def _decompose(table: pd.DataFrame, questionnaire: Questionnaire,
               change) -> tuple[pd.DataFrame, dict[str, float]]:
    """ΔC_k per criterion (the engine's) and each question's (P_k / Σ p_q)·ΔR_q where the
    criterion is fully answered in both periods with the same questions and points."""
    rows, contribution = [], {}
    if change is None:
        return pd.DataFrame(), contribution
    by_code = {c.code: c for c in change.criteria}
    indexed = table.set_index("code")
    for criterion in questionnaire.criteria:
        delta = by_code.get(criterion.code)
        codes = [q.code for q in criterion.questions]
        part = indexed.loc[codes]
        reason = None
        if change.basis != POINTS:
            reason = "versions of different structure: compared as a percentage, no breakdown"
        elif not (part["status"] == SAME).all() or not (part["basis"] == POINTS).all():
            reason = "its questions differ between the two versions"
        elif not (np.isfinite(part["score"]).all() and np.isfinite(part["baseline_score"]).all()):
            reason = "not every question has a scored answer in both periods"
        decomposed = reason is None
        if decomposed:
            scale = criterion.points / part["points"].sum()
            for code, value in zip(codes, scale * part["change"].to_numpy(), strict=True):
                contribution[code] = float(value)
        rows.append({
            "criterion": criterion.code,
            "change": delta.change if delta is not None else None,
            "ci_low": delta.ci[0] if delta is not None and delta.ci else None,
            "ci_high": delta.ci[1] if delta is not None and delta.ci else None,
            "p_value": delta.p_value if delta is not None else None,
            "decomposed": decomposed,
            "reason": reason,
        })
    frame = pd.DataFrame(rows)
    frame[["change", "ci_low", "ci_high", "p_value"]] = frame[
        ["change", "ci_low", "ci_high", "p_value"]].astype(float)
    return frame, contribution


def group_test(score: np.ndarray, variance: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray,
                                                                                    np.ndarray]:
    """Wald χ² test of equal means per row (questions × groups): (statistic, p-value); NaN
    where fewer than two groups are usable."""
    use = usable & np.isfinite(score) & np.isfinite(variance) & (variance > 0)
    precision = np.where(use, 1.0 / np.where(use, variance, 1.0), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.sum(precision * np.where(use, score, 0.0), axis=1) / precision.sum(axis=1)
        statistic = np.sum(precision * np.where(use, score - mean[:, None], 0.0) ** 2, axis=1)
    count = use.sum(axis=1)
    statistic = np.where(count >= 2, statistic, np.nan)
    p_value = np.where(count >= 2, stats.chi2.sf(statistic, np.maximum(count - 1, 1)), np.nan)
    return statistic, p_value


def _group_view(rows: pd.DataFrame, questionnaire: Questionnaire, level: float,
                lang: str) -> dict[str, Any]:
    groups = questionnaire.groups
    values = question_table(rows, questionnaire, np.zeros(len(rows), np.intp), 1, level=level,
                            by_group=True)  # domains = groups
    codes = list(questionnaire.question_codes)
    long = pd.DataFrame({
        "code": np.tile(codes, len(groups)),
        "group": np.repeat([g.code for g in groups], len(codes)),
        "points": np.tile(values["points"], len(groups)),
        "score": values["score"].ravel(),
        "se": np.sqrt(values["variance"]).ravel(),
        "n": values["n"].ravel().astype(int),
        "ci_low": values["lower"].ravel(),
        "ci_high": values["upper"].ravel(),
    })
    score, variance = values["score"].T, values["variance"].T  # questions × groups
    usable = (values["n"].T >= MIN_RESPONSES_FOR_INTERVAL) & (values["df"].T >= 1)
    statistic, p_value = group_test(score, variance, usable)
    adjusted = benjamini_hochberg(p_value)
    tests = pd.DataFrame({"code": codes, "statistic": statistic, "groups_tested":
                          np.sum(usable & np.isfinite(variance) & (variance > 0), axis=1),
                          "p_value": p_value, "p_adjusted": adjusted})
    tests["differs"] = [None if not np.isfinite(p) else bool(p < 1 - level) for p in adjusted]
    return {"groups": long, "group_tests": tests,
            "group_labels": {g.code: g.label.get(lang) for g in groups}}


# --- the sentence ----------------------------------------------------------------------------


def change_sentence(diagnosis: Diagnosis, lang: str = "vi", limit: int = 3) -> str | None:
    """'giảm 0,83 điểm: 0,19 ở tiêu chí 1 (câu 1.2 giảm mạnh nhất), …' read off the numbers:
    the criteria that moved in the total's direction, largest first."""
    if diagnosis.total_change is None or diagnosis.criteria.empty:
        return None
    total = diagnosis.total_change
    if diagnosis.basis != POINTS:
        return None
    down = total < 0
    word = tr(lang, "giảm" if down else "tăng", "down" if down else "up")
    head = tr(lang, f"{word} {format_number(abs(total), 2, lang)} điểm",
              f"{word} {format_number(abs(total), 2, lang)} points")
    moved = diagnosis.criteria.dropna(subset=["change"])
    moved = moved[(moved["change"] < 0) if down else (moved["change"] > 0)]
    moved = moved.reindex(moved["change"].abs().sort_values(ascending=False).index)
    questions = diagnosis.questions.dropna(subset=["contribution"]) if (
        "contribution" in diagnosis.questions) else pd.DataFrame()
    parts = []
    for _, row in moved.head(limit).iterrows():
        part = tr(lang, f"{format_number(abs(row['change']), 2, lang)} ở tiêu chí {row['criterion']}",
                  f"{format_number(abs(row['change']), 2, lang)} in dimension {row['criterion']}")
        if row["decomposed"] and len(questions):
            inside = questions[questions["criterion"] == row["criterion"]]
            inside = inside[(inside["contribution"] < 0) if down else (inside["contribution"] > 0)]
            if len(inside):
                top = inside.loc[inside["contribution"].abs().idxmax(), "code"]
                part += tr(lang, f" (câu {top} {word} mạnh nhất)",
                           f" (question {top} {'fell' if down else 'rose'} most)")
        parts.append(part)
    if not parts:
        return head
    more = ", …" if len(moved) > limit else ""
    return f"{head}: {', '.join(parts)}{more}"


# --- the province ----------------------------------------------------------------------------


def province_questions(responses: pd.DataFrame, questionnaire: Questionnaire, period: str,
                       units: Mapping[str, str] | None = None, *, level: float = 0.95,
                       lang: str = "vi") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(unit × question long table, question table across the province) for one version.

    The provincial figure per question is the unit average (each unit counts once, as for the
    total): R̄_q = Σ_u R_uq / U, V = Σ_u V_uq / U², over the units with a defined R_uq; its
    interval is logit-t on [0, p_q] with the df of the units' pooled count (Σ df_uq), and
    points lost = p_q − R̄_q. Sorted by points lost.
    """
    quarters = set(parse_period(period).quarters)
    rows = responses[responses["period"].isin(quarters) & (
        responses["version"] == questionnaire.version)]
    if units is not None:
        rows = rows[rows["unit"].isin(set(units))]
    rows = rows.reset_index(drop=True)
    codes = list(questionnaire.question_codes)
    if rows.empty:
        return pd.DataFrame(), pd.DataFrame()
    domain, keys = pd.factorize(rows["unit"], sort=True)
    values = question_table(rows, questionnaire, domain, len(keys), level=level)
    points = values["points"]
    names = dict(zip(rows["unit"], rows.get("unit_name", rows["unit"]), strict=False))
    long = pd.DataFrame({
        "unit": np.repeat(np.asarray(keys), len(codes)),
        "code": np.tile(codes, len(keys)),
        "points": np.tile(points, len(keys)),
        "score": values["score"].ravel(),
        "n": values["n"].ravel().astype(int),
    })
    long["unit_name"] = long["unit"].map(names)
    long["lost"] = long["points"] - long["score"]
    text = {q.code: q.text.get(lang) for q in questionnaire.questions}
    long["text"] = long["code"].map(text)
    defined = np.isfinite(values["score"])
    count = defined.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(defined, values["score"], 0.0).sum(axis=0) / count
        variance = np.where(defined & np.isfinite(values["variance"]), values["variance"],
                            0.0).sum(axis=0) / count**2
    df = np.where(defined, values["df"], 0.0).sum(axis=0)
    n = values["n"].sum(axis=0)
    interval = estimates_with_intervals(mean, variance, points, df, n, level)
    province = pd.DataFrame({
        "criterion": [q.criterion for q in questionnaire.questions], "code": codes,
        "text": [text[c] for c in codes], "points": points, "score": interval["score"],
        "ci_low": interval["lower"], "ci_high": interval["upper"], "units": count, "n": n,
    })
    province["lost"] = province["points"] - province["score"]
    province["percent_lost"] = 100 * province["lost"] / province["points"]
    return long, _sorted(province)


# --- tables for people (pages and the Word report) -------------------------------------------

STATUS_TEXT = {
    SAME: ("", ""),
    ONLY_CURRENT: ("chỉ có ở phiếu kỳ này", "only in this period's version"),
    ONLY_BASELINE: ("chỉ có ở phiếu kỳ so sánh", "only in the comparison version"),
    CHANGED: ("đổi nội dung, không so sánh", "reworded, not compared"),
}


def _interval(low, high, lang: str) -> str:
    return format_interval(low, high, 2, lang)


def questions_display(diagnosis: Diagnosis, lang: str = "vi", ci: str = "KTC 95%",
                      limit: int | None = None) -> pd.DataFrame:
    """The question table as text, sorted by points lost (Vietnamese number format)."""
    from survey.formatting import format_p, format_signed

    table = diagnosis.questions if limit is None else diagnosis.questions.head(limit)
    options = [c for c in diagnosis.options if f"share_{c}" in table]
    compared = diagnosis.baseline_period is not None
    rows = []
    for _, row in table.iterrows():
        percent = row.get("basis") == PERCENT_BASIS
        out = {
            tr(lang, "Câu", "Question"): row["code"],
            tr(lang, "Nội dung", "Question text"): row["text"],
            tr(lang, "Điểm chuẩn", "Points"): format_number(row.get("points"), 2, lang),
            tr(lang, "Điểm đạt", "Score"): format_number(row.get("score"), 2, lang),
            ci: _interval(row.get("ci_low"), row.get("ci_high"), lang),
            tr(lang, "Điểm bị mất", "Points lost"): format_number(row.get("lost"), 2, lang),
        }
        for code in options:
            value = row.get(f"share_{code}")
            out[f"{diagnosis.options[code]} (%)"] = format_number(
                None if value is None or not np.isfinite(value) else 100 * value, 0, lang)
        out["n"] = format_number(row.get("n"), 0, lang)
        if compared:
            suffix = tr(lang, " (% điểm câu)", " (% of points)") if percent else ""
            out[tr(lang, "Kỳ so sánh", "Comparison")] = format_number(row.get("baseline_score"),
                                                                       2, lang)
            out[tr(lang, "Thay đổi", "Change")] = format_signed(row.get("change"), 2, lang) + suffix
            out[tr(lang, f"{ci} của thay đổi", f"{ci} of change")] = _interval(
                row.get("change_ci_low"), row.get("change_ci_high"), lang)
            out["p"] = format_p(row.get("p_value"), lang)
            out[tr(lang, "Ghi chú", "Note")] = tr(lang, *STATUS_TEXT.get(row.get("status"),
                                                                         ("", "")))
        rows.append(out)
    return pd.DataFrame(rows)


def groups_display(diagnosis: Diagnosis, lang: str = "vi") -> pd.DataFrame:
    """Question × group: score [interval] per group, and whether the groups differ (Wald test,
    Benjamini–Hochberg adjusted across questions)."""
    from survey.formatting import format_p

    if diagnosis.groups.empty:
        return pd.DataFrame()
    order = list(diagnosis.questions["code"])
    groups = diagnosis.groups
    tests = diagnosis.group_tests.set_index("code")
    rows = []
    for code in [c for c in order if c in set(groups["code"])]:
        out = {tr(lang, "Câu", "Question"): code}
        for _, g in groups[groups["code"] == code].iterrows():
            label = diagnosis.group_labels.get(g["group"], g["group"])
            out[label] = (f"{format_number(g['score'], 2, lang)} "
                          f"{_interval(g['ci_low'], g['ci_high'], lang)} · n={int(g['n'])}")
        test = tests.loc[code]
        out[tr(lang, "p (hiệu chỉnh)", "p (adjusted)")] = format_p(test["p_adjusted"], lang)
        out[tr(lang, "Các nhóm khác nhau?", "Groups differ?")] = (
            "—" if test["differs"] is None else
            tr(lang, "có", "yes") if test["differs"] else tr(lang, "không", "no"))
        rows.append(out)
    return pd.DataFrame(rows)
