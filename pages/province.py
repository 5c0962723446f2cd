"""Provincial page: every unit for a period, ranked with its uncertainty."""

import pandas as pd
import streamlit as st

from app_ui import (
    ci_label,
    download,
    flag_text,
    fmt,
    fmt_interval,
    fmt_signed,
    include_flagged_toggle,
    key_columns,
    lang,
    level,
    pick_family,
    pick_period,
    plain,
    require_scope,
    session,
    t,
)
from survey.charts import caterpillar, heatmap, lost_heatmap, rank_sets_chart
from survey.dashboard import load_source, province_report
from survey.diagnosis import province_questions
from survey.formatting import format_p
from survey.par import classify
from survey.periods import parse_period
from survey.ranking import distinguishable_sentence
from survey.reports import province_workbook
from survey.tables import criteria_frame
from survey.word import province_document

scope = require_scope()
title = st.empty()

with session() as db:
    left, middle, right = st.columns([2, 2, 2])
    with left:
        family = pick_family(db)
    with right:
        against = st.radio(t("So sánh với", "Compare with"), ["previous", "year-ago"], horizontal=True,
                           format_func=lambda a: {"previous": t("Kỳ trước", "Previous period"),
                                                  "year-ago": t("Cùng kỳ năm trước", "Same period last year")}[a])
    include_flagged = include_flagged_toggle()
    source = load_source(session=db, family=family, scope=scope, include_flagged=include_flagged)
    with middle:
        period = pick_period(source.periods())

report = province_report(source=source, period=period, against=against, level=level(),
                         classify=classify)
whole = report.whole_province  # False for a unit account: never labelled "toàn tỉnh"
title.title(t("Tổng hợp toàn tỉnh", "Province overview") if whole
            else t("Tổng hợp các đơn vị được xem", "Overview of the units in view"))
if not whole:
    st.info(t("Tài khoản của bạn xem được một phần của tỉnh: bình quân và thứ hạng dưới đây chỉ "
              "tính trên các đơn vị trong phạm vi tài khoản, không phải toàn tỉnh.",
              "Your account sees part of the province: the average and ranks below are over the "
              "units within your account's scope only, not the province."))
ranking = report.ranking
label = parse_period(period).label(lang())
if ranking.empty:
    st.info(t("Không có phiếu trả lời nào trong kỳ này.", "No responses in this period."))
    st.stop()

aggregate = report.aggregate
maximum = report.questionnaire.max_points if report.questionnaire else 22.0
head_left, head_mid, head_right = st.columns(3)
average_label = (t(f"Điểm bình quân toàn tỉnh /{maximum:g}", f"Province average /{maximum:g}")
                 if whole else t(f"Bình quân các đơn vị được xem /{maximum:g}",
                                 f"Average of the units in view /{maximum:g}"))
head_left.metric(average_label, fmt(aggregate.total.score) if aggregate and aggregate.total else "—")
if aggregate and aggregate.total and aggregate.total.ci:
    head_left.caption(t(f"{ci_label()}: {fmt_interval(*aggregate.total.ci)} · {aggregate.units} đơn vị",
                        f"{ci_label()}: {fmt_interval(*aggregate.total.ci)} · {aggregate.units} units"))
head_mid.metric(t("Số đơn vị", "Units"), fmt(len(ranking), 0))
head_right.metric(t("Tổng số phiếu", "Responses"), fmt(int(ranking["n"].sum()), 0))
significant = ranking["significant"].fillna(False).astype(bool)
if significant.any():
    st.warning(t(
        f"{int(significant.sum())} đơn vị thay đổi có ý nghĩa thống kê (sau hiệu chỉnh nhiều so sánh): "
        + ", ".join(ranking.loc[significant, "unit"]),
        f"{int(significant.sum())} unit(s) changed significantly (after multiple-comparison "
        "adjustment): " + ", ".join(ranking.loc[significant, "unit"])))
else:
    st.info(t("Không đơn vị nào thay đổi có ý nghĩa thống kê sau hiệu chỉnh nhiều so sánh.",
              "No unit changed significantly after multiple-comparison adjustment."))
if aggregate and aggregate.left_out:
    st.caption(t("Không tính vào bình quân (không ước lượng được sai số chuẩn): "
                 + ", ".join(aggregate.left_out_named()),
                 "Left out of the average (no standard error can be estimated): "
                 + ", ".join(aggregate.left_out_named())))
indices = report.questionnaire.indices if report.questionnaire else ()
for index in indices:
    share = aggregate.index_score(index.code) if aggregate else None
    share_total = share.total if share else None
    head_left.metric(t(f"{index.label.vi} toàn tỉnh", f"Province {index.label.get('en').lower()}"),
                     f"{fmt(100 * share_total.score, 2)} %" if share_total else "—")
    if share_total and share_total.ci:
        head_left.caption(f"{ci_label()}: "
                          f"{fmt_interval(100 * share_total.ci[0], 100 * share_total.ci[1])} %")
if report.left_out:
    left_out = plain(", ".join(report.left_out))
    st.caption(t(f"Không tính vào bình quân (phiên bản phiếu khác): {left_out}",
                 f"Left out of the average (another questionnaire version): {left_out}"))

st.subheader(t(f"Xếp hạng — {label}", f"Ranking — {label}") if whole
             else t(f"Xếp hạng trong các đơn vị được xem — {label}",
                    f"Ranking among the units in view — {label}"))


def significance_text(value) -> str:
    if value is None or pd.isna(value):
        return "—"
    return t("có", "yes") if value else t("không", "no")


def percent(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{fmt(100 * value)} %"


columns = {
    (t("Hạng", "Rank") if whole else t("Hạng (trong phạm vi xem)", "Rank (in view)")):
        ranking["rank_label"] if lang() == "vi" else ranking["rank_label_en"],
    t("Mã", "Code"): ranking["unit"],
    t("Đơn vị", "Unit"): ranking["unit_name"],
    t("Số phiếu", "Responses"): ranking["n"],
    t("Điểm", "Score"): ranking["score"].map(fmt),
    ci_label(): [fmt_interval(lo, hi) for lo, hi in zip(ranking["ci_low"], ranking["ci_high"], strict=True)],
    t("Xếp loại", "Class"): ranking["class"],
    t("Thay đổi", "Change"): ranking["change"].map(fmt_signed),
    t("p (BH)", "p (BH)"): ranking["p_adjusted"].map(lambda p: format_p(p, lang())),
    t("Có ý nghĩa", "Significant"): ranking["significant"].map(significance_text),
    t("Lưu ý", "Notes"): ranking["flags"].map(flag_text),
}
for index in indices:
    prefix = f"index:{index.code}:"
    name = index.label.get(lang())
    columns[name] = ranking[prefix + "share"].map(percent)
    columns[f"{ci_label()} {name.lower()}"] = [
        fmt_interval(100 * lo, 100 * hi) for lo, hi in
        zip(ranking[prefix + "ci_low"], ranking[prefix + "ci_high"], strict=True)]
    columns[t(f"Hạng theo {name.lower()}", f"Rank by {name.lower()}")] = ranking[prefix + "rank_label"]
shown = pd.DataFrame(columns)
event = st.dataframe(shown, hide_index=True, width="stretch", on_select="rerun",
                     selection_mode="single-row", key="ranking",
                     column_config=key_columns(t("Đơn vị", "Unit")))
selected = event.selection.rows if event and event.selection else []
if selected:
    unit = ranking.iloc[selected[0]]["unit"]
    st.switch_page("pages/unit.py", query_params={"unit": unit, "period": period, "q": family})
st.caption(t("Chọn một dòng để xem chi tiết đơn vị. Thứ hạng của các đơn vị có khoảng tin cậy chồng "
             "nhau chưa khác nhau thật sự.",
             "Select a row to open the unit. Units whose intervals overlap are not really apart."))

if report.rank_sets is not None:
    st.markdown(distinguishable_sentence(report.rank_sets, lang()))
    unranked = [u for u in report.rank_sets.units if u.rank is None]
    if unranked:
        st.caption(t("Không xếp khoảng hạng (không ước lượng được sai số chuẩn): ",
                     "No rank interval (no standard error can be estimated): ")
                   + ", ".join(f"{u.unit_name or u.unit} ({u.unit})" for u in unranked))
    st.altair_chart(rank_sets_chart(ranking, lang=lang()), width="stretch")
    st.caption(t("Khoảng hạng 95%: thanh đậm cho từng đơn vị riêng lẻ, vạch mảnh cho cả bảng cùng "
                 "lúc. Hai đơn vị có khoảng hạng chồng nhau thì chưa thể nói đơn vị nào hơn.",
                 "95% rank intervals: the bar holds for each unit on its own, the thin line for "
                 "the whole table at once. Units whose rank intervals overlap cannot be told apart."))
st.altair_chart(caterpillar(ranking, maximum=maximum, lang=lang()), width="stretch")
if report.questionnaire is not None:
    scores = [s for s in report.scores.values() if s.version == report.questionnaire.version]
    criteria = criteria_frame(scores, {report.questionnaire.version: report.questionnaire}, lang=lang())
    st.altair_chart(heatmap(criteria, lang=lang()), width="stretch")

if report.questionnaire is not None:
    st.subheader(t("Câu hỏi yếu chung", "Shared weak questions"))
    long, weakest = province_questions(source.responses, report.questionnaire, period,
                                       units=set(ranking["unit"]), level=level(), lang=lang())
    if len(weakest):
        st.caption(t("Các câu mất nhiều điểm nhất, tính bình quân các đơn vị (mỗi đơn vị tính như "
                     "nhau), với khoảng tin cậy.",
                     "The questions that lose most points on the units' average (each unit counts "
                     "once), with intervals."))
        st.dataframe(pd.DataFrame({
            t("Câu", "Question"): weakest["code"],
            t("Nội dung", "Question text"): weakest["text"],
            t("Điểm chuẩn", "Points"): weakest["points"].map(fmt),
            t("Điểm đạt (bình quân)", "Score (average)"): weakest["score"].map(fmt),
            ci_label(): [fmt_interval(lo, hi) for lo, hi in
                         zip(weakest["ci_low"], weakest["ci_high"], strict=True)],
            t("Điểm bị mất", "Points lost"): weakest["lost"].map(fmt),
            t("% điểm bị mất", "% lost"): weakest["percent_lost"].map(lambda v: fmt(v, 0)),
        }).head(10), hide_index=True, width="stretch")
        st.altair_chart(lost_heatmap(long, lang=lang()), width="stretch")

lang_now = lang()
st.download_button(
    t("Tải bảng xếp hạng (Excel)", "Download the ranking (Excel)"),
    data=download(lambda: province_workbook(report, lang=lang_now)),
    file_name=f"xep-hang-{family}-{period}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    icon=":material/download:", on_click="ignore",
)
st.download_button(
    t("Báo cáo Word toàn tỉnh" if whole else "Báo cáo Word các đơn vị được xem",
      "Word report (province)" if whole else "Word report (units in view)"),
    data=download(lambda: province_document(report, source=source, lang=lang_now)),
    file_name=f"bao-cao-{family}-{period}.docx",
    mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    icon=":material/download:", on_click="ignore",
)
