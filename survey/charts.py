"""Altair charts of scores with their uncertainty; pages only display them.

Every chart takes a tidy frame from `survey.tables` (or a simple count frame) and the
interface language; Vietnamese charts use the Vietnamese number format (15,43).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from survey.formatting import format_period
from survey.periods import parse_period
from survey.text import tr

VI_LOCALE = {"number": {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["", " ₫"]}}
FALL_COLOR = "#c0392b"
MAIN_COLOR = "#1f5f8b"
BAND_COLOR = "#9ecae1"


def _labels(lang: str, vi: str, en: str) -> str:
    return tr(lang, vi, en)


def _with_period_labels(data: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, list[str]]:
    """The frame with `period_label` ('Quý 4/2024', as in the selectors) and the labels in
    chronological order, for the x axis."""
    order = sorted(data["period"].unique(), key=lambda p: parse_period(p)) if len(data) else []
    labels = {p: format_period(p, lang) for p in order}
    return data.assign(period_label=data["period"].map(labels)), [labels[p] for p in order]


# On a phone (a chart narrower than this) the long axis labels are cut shorter and the numbers
# inside heatmap cells are left out, so the cells keep their width; evaluated by Vega in the
# browser against the chart's own container (`containerSize()`), so one chart serves both.
NARROW_WIDTH = 520
_NARROW = f"containerSize()[0] < {NARROW_WIDTH}"


def _narrow_or(narrow, wide) -> alt.ExprRef:
    """`narrow` on a phone, `wide` otherwise (a Vega expression on the container's width)."""
    return alt.ExprRef(f"{_NARROW} ? {narrow} : {wide}")


def _title(text: str, subtitle: str | None = None) -> alt.TitleParams:
    """A chart title that wraps rather than being cut at 390 px: a short title and, below it,
    what the numbers are, each within the chart's width."""
    return alt.TitleParams(text=text, subtitle=subtitle or "", anchor="start")


UNIT_LABEL_LIMIT = _narrow_or(110, 260)  # pixels of a unit's name on an axis


def _localised(chart: alt.TopLevelMixin, lang: str) -> alt.TopLevelMixin:
    return chart.configure(locale=VI_LOCALE) if lang == "vi" else chart


def _short_title(title: str, limit: int = 38) -> str:
    """A panel title cut at a word boundary ('…' when shortened), never mid-word."""
    if len(title) <= limit:
        return title
    return title[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def trend_chart(history: pd.DataFrame, *, maximum: float, lang: str = "vi") -> alt.TopLevelMixin:
    """Score per period with its confidence band (history: period, score, ci_low, ci_high, n)."""
    data, order = _with_period_labels(history.dropna(subset=["score"]), lang)
    x = alt.X("period_label:O", title=_labels(lang, "Kỳ", "Period"), sort=order)
    tooltip = [
        alt.Tooltip("period_label:N", title=_labels(lang, "Kỳ", "Period")),
        alt.Tooltip("score:Q", title=_labels(lang, "Điểm", "Score"), format=".2f"),
        alt.Tooltip("ci_low:Q", title=_labels(lang, "CI dưới", "CI low"), format=".2f"),
        alt.Tooltip("ci_high:Q", title=_labels(lang, "CI trên", "CI high"), format=".2f"),
        alt.Tooltip("n:Q", title=_labels(lang, "Số phiếu", "Responses")),
    ]
    scale = alt.Scale(domain=[0, maximum], zero=True)
    band = alt.Chart(data).mark_area(opacity=0.35, color=BAND_COLOR).encode(
        x=x, y=alt.Y("ci_low:Q", scale=scale, title=_labels(lang, f"Điểm (tối đa {maximum:g})",
                                                            f"Score (max {maximum:g})")),
        y2="ci_high:Q",
    )
    line = alt.Chart(data).mark_line(point=True, color=MAIN_COLOR).encode(
        x=x, y=alt.Y("score:Q", scale=scale), tooltip=tooltip
    )
    chart = (band + line).properties(height=300, title=_labels(
        lang, "Điểm khảo sát theo kỳ, với khoảng tin cậy", "Survey score by period, with confidence band"))
    return _localised(chart, lang)


def criteria_small_multiples(
    criteria: pd.DataFrame, *, highlight: str | None = None, lang: str = "vi", columns: int = 4
) -> alt.TopLevelMixin:
    """One small panel per dimension: % of maximum per period with its band; `highlight` is the
    dimension that fell most (drawn red)."""
    data = criteria.dropna(subset=["score"]).assign(
        pct_low=lambda f: 100 * f["ci_low"] / f["max"],
        pct_high=lambda f: 100 * f["ci_high"] / f["max"],
        fell_most=lambda f: f["code"] == highlight,
        panel=lambda f: f["code"] + ". " + f["title"].map(_short_title),
    )
    data, order = _with_period_labels(data, lang)
    x = alt.X("period_label:O", title=None, sort=order)
    y_scale = alt.Scale(domain=[0, 100])
    color = alt.condition("datum.fell_most", alt.value(FALL_COLOR), alt.value(MAIN_COLOR))
    base = alt.Chart(data)
    band = base.mark_area(opacity=0.3, color=BAND_COLOR).encode(
        x=x, y=alt.Y("pct_low:Q", scale=y_scale, title="% " + _labels(lang, "tối đa", "of max")),
        y2="pct_high:Q",
    )
    line = base.mark_line(point=True).encode(
        x=x, y=alt.Y("percent:Q", scale=y_scale), color=color,
        tooltip=[alt.Tooltip("period_label:N"), alt.Tooltip("score:Q", format=".2f"),
                 alt.Tooltip("percent:Q", format=".1f")],
    )
    chart = alt.layer(band, line).properties(width=170, height=120).facet(
        facet=alt.Facet("panel:N", title=None, header=alt.Header(labelFontSize=10)), columns=columns
    ).resolve_axis(x="independent")  # each panel its own period axis: none under an empty cell
    return _localised(chart, lang)


def responses_chart(counts: pd.DataFrame, *, lang: str = "vi") -> alt.TopLevelMixin:
    """Responses per period (counts: period, n)."""
    counts, order = _with_period_labels(counts, lang)
    chart = alt.Chart(counts).mark_bar(color=MAIN_COLOR).encode(
        x=alt.X("period_label:O", title=_labels(lang, "Kỳ", "Period"), sort=order),
        y=alt.Y("n:Q", title=_labels(lang, "Số phiếu", "Responses")),
        tooltip=["period_label:N", "n:Q"],
    ).properties(height=200)
    return _localised(chart, lang)


CRITERION_AXIS_LIMIT = 40  # characters of a criterion's name on a heatmap axis
UNIT_AXIS_LIMIT = 32  # characters of a unit's name on an axis
QUESTION_AXIS_LIMIT = 30  # characters of a question's text on a heatmap axis


def _axis_names(codes: pd.Series, names: pd.Series, limit: int,
                prefix_code: bool = False) -> pd.Series:
    """Short axis labels of names cut at a word boundary ('code name' when `prefix_code`, or
    when two names would shorten alike), so a heatmap's axis reads as names, not codes."""
    short = names.astype(str).map(lambda name: _short_title(name, limit))
    distinct = dict(zip(codes, short, strict=True))
    if prefix_code or len(set(distinct.values())) < len(distinct):
        return codes.astype(str) + " " + short
    return short


def _unit_names(data: pd.DataFrame) -> pd.Series:
    """Each row's unit as its name on an axis (shortened at a word boundary; 'code name' when
    two names would read alike), its code when it has no name."""
    names = data["unit_name"].where(data["unit_name"].notna(), data["unit"]) \
        if "unit_name" in data.columns else data["unit"]
    return _axis_names(data["unit"], names, UNIT_AXIS_LIMIT)


def heatmap(criteria: pd.DataFrame, *, lang: str = "vi") -> alt.TopLevelMixin:
    """Units × criteria, coloured by % of maximum (criteria: unit, unit_name, code, title,
    percent, score); the criteria axis shows their names (shortened at a word boundary, the
    full name in the tooltip), in the questionnaire's order."""
    data = criteria.assign(label=lambda f: f["percent"].round(0),
                           name=lambda f: _axis_names(f["code"], f["title"], CRITERION_AXIS_LIMIT),
                           unit_label=lambda f: _unit_names(f))
    base = alt.Chart(data).encode(
        # upright names: every criterion's name shows (slanted ones overlapped and Vega hid
        # all but the first and last)
        # (no axis title: the chart's title names the dimensions, and a title under upright
        # names was drawn over them)
        x=alt.X("name:N", title=None, sort=list(dict.fromkeys(data["name"])),
                axis=alt.Axis(labelAngle=-90, labelLimit=220)),
        y=alt.Y("unit_label:O", title=_labels(lang, "Đơn vị", "Unit"),
                sort=list(dict.fromkeys(data["unit_label"])),
                axis=alt.Axis(labelLimit=UNIT_LABEL_LIMIT)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("percent:Q", title="% " + _labels(lang, "tối đa", "of max"),
                        scale=alt.Scale(scheme="redyellowgreen", domain=[40, 100])),
        tooltip=[alt.Tooltip("unit_name:N", title=_labels(lang, "Đơn vị", "Unit")),
                 alt.Tooltip("title:N", title=_labels(lang, "Tiêu chí", "Dimension")),
                 alt.Tooltip("score:Q", format=".2f"), alt.Tooltip("percent:Q", format=".1f")],
    )
    text = base.mark_text(fontSize=10, opacity=_narrow_or(0, 1)).encode(
        text=alt.Text("label:Q", format=".0f"))
    chart = (cells + text).properties(height=alt.Step(24), title=_title(
        _labels(lang, "Tỷ lệ điểm đạt theo tiêu chí", "Score by dimension"),
        _labels(lang, "% điểm tối đa của tiêu chí", "% of the dimension's maximum")))
    return _localised(chart, lang)


def caterpillar(scores: pd.DataFrame, *, maximum: float, lang: str = "vi") -> alt.TopLevelMixin:
    """Units ranked by score with their intervals, so that overlapping ranks show
    (scores: unit, unit_name, score, ci_low, ci_high, rank_label)."""
    data = scores.dropna(subset=["score"]).sort_values("score", ascending=False)
    data = data.assign(unit_label=_unit_names(data))
    y = alt.Y("unit_label:N", sort=list(data["unit_label"]), title=_labels(lang, "Đơn vị", "Unit"),
              axis=alt.Axis(labelLimit=UNIT_LABEL_LIMIT))
    scale = alt.Scale(zero=False)
    rules = alt.Chart(data).mark_rule(color=BAND_COLOR, strokeWidth=3).encode(
        y=y, x=alt.X("ci_low:Q", scale=scale, title=_labels(
            lang, f"Điểm (tối đa {maximum:g}) và khoảng tin cậy", f"Score (max {maximum:g}) and interval")),
        x2="ci_high:Q",
    )
    points = alt.Chart(data).mark_point(filled=True, size=70, color=MAIN_COLOR).encode(
        y=y, x=alt.X("score:Q", scale=scale),
        tooltip=[alt.Tooltip("unit_name:N"), alt.Tooltip("score:Q", format=".2f"),
                 alt.Tooltip("ci_low:Q", format=".2f"), alt.Tooltip("ci_high:Q", format=".2f"),
                 alt.Tooltip("rank_label:N", title=_labels(lang, "Hạng", "Rank"))],
    )
    chart = (rules + points).properties(height=alt.Step(26), title=_title(
        _labels(lang, "Xếp hạng với khoảng tin cậy", "Ranking with intervals"),
        _labels(lang, "Khoảng chồng nhau: thứ hạng chưa chắc chắn",
                "Overlapping intervals: the order is uncertain")))
    return _localised(chart, lang)


def rank_sets_chart(ranking: pd.DataFrame, *, lang: str = "vi") -> alt.TopLevelMixin:
    """Each unit's rank set: a thick bar for the marginal set, a thin one for the simultaneous
    set, a dot at the point rank (ranking: unit, unit_name, set_rank, rank_low, rank_high,
    rank_low_all, rank_high_all, rank_label). Units without a rank set are not drawn."""
    data = ranking.dropna(subset=["rank_low"]).sort_values(["set_rank", "unit"])
    data = data.assign(unit_label=_unit_names(data))  # names, as on the other unit axes
    order = list(data["unit_label"])
    count = int(data["rank_high"].max()) if len(data) else 1
    y = alt.Y("unit_label:N", sort=order, title=_labels(lang, "Đơn vị", "Unit"),
              axis=alt.Axis(labelLimit=UNIT_LABEL_LIMIT))
    scale = alt.Scale(domain=[0.5, count + 0.5], reverse=False)
    x_title = _labels(lang, "Hạng (1 = cao nhất)", "Rank (1 = highest)")
    tooltip = [alt.Tooltip("unit_name:N", title=_labels(lang, "Đơn vị", "Unit")),
               alt.Tooltip("rank_label:N", title=_labels(lang, "Hạng", "Rank")),
               alt.Tooltip("rank_low_all:Q", title=_labels(lang, "Đồng thời: từ", "All at once: from")),
               alt.Tooltip("rank_high_all:Q", title=_labels(lang, "Đồng thời: đến", "All at once: to"))]
    simultaneous = alt.Chart(data).mark_rule(color=BAND_COLOR, strokeWidth=2).encode(
        y=y, x=alt.X("rank_low_all:Q", scale=scale, title=x_title,
                     axis=alt.Axis(tickMinStep=1, format="d")),
        x2="rank_high_all:Q", tooltip=tooltip)
    marginal = alt.Chart(data).mark_bar(color=MAIN_COLOR, opacity=0.35, height=12).encode(
        y=y, x=alt.X("rank_low_minus:Q", scale=scale), x2="rank_high_plus:Q", tooltip=tooltip)
    points = alt.Chart(data).mark_point(filled=True, size=60, color=MAIN_COLOR).encode(
        y=y, x=alt.X("set_rank:Q", scale=scale), tooltip=tooltip)
    chart = (simultaneous + marginal + points).transform_calculate(
        rank_low_minus="datum.rank_low - 0.4", rank_high_plus="datum.rank_high + 0.4",
    ).properties(height=alt.Step(26), title=_labels(
        lang, "Khoảng hạng của từng đơn vị", "Each unit's rank interval"))
    return _localised(chart, lang)


def pareto_chart(questions: pd.DataFrame, *, lang: str = "vi", top: int | None = None
                 ) -> alt.TopLevelMixin:
    """Points lost per question, most first, with the cumulative share of all points lost
    (questions: code, lost, points, from `survey.diagnosis`)."""
    data = questions.dropna(subset=["lost"]).sort_values("lost", ascending=False)
    data = data.assign(cumulative=100 * data["lost"].cumsum() / data["lost"].sum())
    if top:
        data = data.head(top)
    order = list(data["code"])
    x = alt.X("code:N", sort=order, title=_labels(lang, "Câu hỏi", "Question"),
              axis=alt.Axis(labelAngle=-90))
    bars = alt.Chart(data).mark_bar(color=FALL_COLOR).encode(
        x=x, y=alt.Y("lost:Q", title=_labels(lang, "Điểm bị mất", "Points lost")),
        tooltip=[alt.Tooltip("code:N", title=_labels(lang, "Câu", "Question")),
                 alt.Tooltip("points:Q", title=_labels(lang, "Điểm chuẩn", "Points"), format=".2f"),
                 alt.Tooltip("lost:Q", title=_labels(lang, "Mất", "Lost"), format=".2f"),
                 alt.Tooltip("cumulative:Q", title=_labels(lang, "Lũy kế %", "Cumulative %"),
                             format=".0f")],
    )
    line = alt.Chart(data).mark_line(point=True, color=MAIN_COLOR).encode(
        x=x, y=alt.Y("cumulative:Q", scale=alt.Scale(domain=[0, 100]),
                     title=_labels(lang, "Lũy kế (% điểm bị mất)", "Cumulative (% of points lost)")),
    )
    chart = alt.layer(bars, line).resolve_scale(y="independent").properties(
        height=260, title=_labels(lang, "Điểm bị mất theo câu hỏi (Pareto)",
                                  "Points lost by question (Pareto)"))
    return _localised(chart, lang)


def lost_heatmap(long: pd.DataFrame, *, lang: str = "vi") -> alt.TopLevelMixin:
    """Units × questions, coloured by the share of the question's points lost (long: unit,
    unit_name, code, text, points, lost, from `survey.diagnosis.province_questions`); the
    question axis shows each question's code and its text shortened at a word boundary (the
    full text in the tooltip), in the questionnaire's order."""
    data = long.dropna(subset=["lost"]).assign(
        pct=lambda f: 100 * f["lost"] / f["points"],
        name=lambda f: _axis_names(f["code"], f["text"], QUESTION_AXIS_LIMIT, prefix_code=True),
        unit_label=lambda f: _unit_names(f))
    chart = alt.Chart(data).mark_rect().encode(
        x=alt.X("name:N", title=_labels(lang, "Câu hỏi", "Question"),
                sort=list(dict.fromkeys(data["name"])),
                axis=alt.Axis(labelAngle=-90, labelLimit=220)),
        y=alt.Y("unit_label:O", title=_labels(lang, "Đơn vị", "Unit"),
                axis=alt.Axis(labelLimit=UNIT_LABEL_LIMIT)),
        color=alt.Color("pct:Q", title="% " + _labels(lang, "điểm bị mất", "points lost"),
                        scale=alt.Scale(scheme="reds")),
        tooltip=[alt.Tooltip("unit_name:N", title=_labels(lang, "Đơn vị", "Unit")),
                 alt.Tooltip("code:N", title=_labels(lang, "Câu", "Question")),
                 alt.Tooltip("text:N", title=_labels(lang, "Nội dung", "Question text")),
                 alt.Tooltip("lost:Q", title=_labels(lang, "Điểm bị mất", "Points lost"),
                             format=".2f"),
                 alt.Tooltip("pct:Q", format=".0f")],
    ).properties(height=alt.Step(24), title=_title(  # rows tall enough for every unit's name
        _labels(lang, "Điểm bị mất theo đơn vị và câu hỏi", "Points lost by unit and question"),
        _labels(lang, "% điểm chuẩn của câu", "% of the question's points")))
    return _localised(chart, lang)
