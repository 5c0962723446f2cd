"""Unit page: one unit's score by period with its uncertainty, and what changed."""

import pandas as pd
import streamlit as st

from app_ui import (
    ci_label,
    download,
    engine,
    flag_text,
    fmt,
    fmt_interval,
    fmt_p,
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
    show_error,
    t,
)
from survey import admin
from survey.auth import AccessDenied, visible_organisations
from survey.charts import criteria_small_multiples, pareto_chart, responses_chart, trend_chart
from survey.dashboard import (
    ScoreSource,
    index_table,
    load_source,
    office_table,
    unit_report,
    verdict,
)
from survey.db import new_session
from survey.diagnosis import change_sentence, diagnose, groups_display, questions_display
from survey.exports import unit_responses_csv
from survey.periods import parse_period
from survey.planning import slovin_sample_size
from survey.reports import unit_workbook
from survey.single_use import link_response_rates
from survey.storage import StorageError
from survey.storage.transactions import transactions_in
from survey.tables import criteria_frame, scores_frame
from survey.word import unit_document

scope = require_scope()
st.title(t("Điểm khảo sát của đơn vị", "Unit survey score"))

with session() as db:
    units = [o for o in visible_organisations(session=db, scope=scope) if o.kind != "province"]
    if not units:
        st.info(t("Tài khoản này chưa được gán đơn vị nào.", "This account sees no unit."))
        st.stop()
    codes = [u.code for u in units]
    names = {u.code: u.name for u in units}
    left, middle, right = st.columns([3, 2, 2])
    with left:
        wanted = st.query_params.get("unit")
        unit = st.selectbox(t("Đơn vị", "Unit"), codes, format_func=lambda c: f"{c} — {names[c]}",
                            index=codes.index(wanted) if wanted in codes else 0)
    if wanted and wanted not in codes:
        st.error(t(f"Không xem được đơn vị «{plain(wanted)}»: không tồn tại hoặc ngoài phạm vi "
                   "tài khoản.",
                   f"Unit «{plain(wanted)}» does not exist or is outside your scope."))
    with middle:
        family = pick_family(db)
    include_flagged = include_flagged_toggle()
    source = load_source(session=db, family=family, scope=scope, include_flagged=include_flagged)
    unit_rows = source.responses[source.responses["unit"] == unit] if len(source.responses) else source.responses
    with right:
        period = pick_period(ScoreSource(family, unit_rows, source.questionnaires).periods())
    try:
        report = unit_report(session=db, source=source, scope=scope, unit=unit, period=period,
                             level=level())
    except AccessDenied as error:
        show_error(error)
        st.stop()

current = report.current
label = parse_period(period).label(lang())
st.subheader(f"{plain(report.unit_name)} — {label}")
if current is None:
    st.info(t("Không có phiếu trả lời nào trong kỳ này.", "No responses in this period."))
    st.stop()

total = current.total
headline, change_prev, change_year = st.columns(3)
with headline:
    st.metric(t(f"Điểm /{current.maximum:g}", f"Score /{current.maximum:g}"),
              fmt(total.score) if total else "—")
    if total and total.ci:
        st.caption(t(f"{ci_label(short=False)}: {fmt_interval(*total.ci)} · {current.n} phiếu",
                     f"{ci_label(short=False)}: {fmt_interval(*total.ci)} · {current.n} responses"))
    else:
        reason = (total.reason if total else current.reason) or ""
        st.caption(t(f"{current.n} phiếu · không có khoảng tin cậy ({reason})",
                     f"{current.n} responses · no interval ({reason})"))
    if total and total.flags:
        st.warning(t("Lưu ý: ", "Note: ") + flag_text(total.flags))

for column, (name_vi, name_en, change, baseline) in zip(
    (change_prev, change_year),
    [("So với kỳ trước", "Against the previous period", report.change_previous, report.previous),
     ("So với cùng kỳ năm trước", "Against the same period last year", report.change_year_ago,
      report.year_ago)],
    strict=True,
):
    with column:
        delta = change.total if change else None
        if baseline is not None:
            base_label = parse_period(baseline.period).label(lang())
            base_score = fmt(baseline.total.score if baseline.total else None)
            st.metric(f"{t(name_vi, name_en)} ({base_label}: {base_score})",
                      fmt_signed(delta.change) if delta else "—")
        else:
            st.metric(t(name_vi, name_en), "—")
        st.markdown(f"**{verdict(delta, lang=lang())}**" if baseline is not None else
                    t("_Không có số liệu kỳ so sánh._", "_No data for the comparison period._"))
        if change is not None and change.basis == "percent":
            st.caption(t("Hai kỳ dùng hai phiên bản phiếu khác cấu trúc: so sánh theo % điểm tối đa.",
                         "The two periods use questionnaire versions of different structure: "
                         "compared as % of the maximum."))
        if delta and delta.ci:
            st.caption(t(f"{ci_label()} của thay đổi: {fmt_interval(*delta.ci)} · {fmt_p(delta.p_value)}"
                         f" · thay đổi tối thiểu phát hiện được ≈ {fmt(delta.minimum_detectable)}",
                         f"{ci_label(short=False)} of the change: {fmt_interval(*delta.ci)} · "
                         f"{fmt_p(delta.p_value)}"
                         f" · minimum detectable change ≈ {fmt(delta.minimum_detectable)}"))

st.subheader(t("Bảng điểm theo tiêu chí", "Scores by dimension"))
against = st.radio(t("So sánh với", "Compare with"), ["year-ago", "previous"], horizontal=True,
                   format_func=lambda a: {"year-ago": t("Cùng kỳ năm trước", "Same period last year"),
                                          "previous": t("Kỳ trước", "Previous period")}[a])
table = office_table(report, against=against, lang=lang())
baseline_score, _ = report.comparison(against)
baseline_label = parse_period(baseline_score.period).label(lang()) if baseline_score else "—"
shown = pd.DataFrame({
    t("STT", "No."): table["stt"].map(lambda v: "" if pd.isna(v) else str(int(v))),
    t("Tiêu chí", "Dimension"): table["criterion"],
    t("Điểm chuẩn", "Max"): table["max"].map(lambda v: fmt(v)),
    label: table["current"].map(fmt),
    ci_label(): [fmt_interval(lo, hi) for lo, hi in zip(table["current_ci_low"], table["current_ci_high"], strict=True)],
    baseline_label: table["baseline"].map(fmt),
    t("So sánh", "Change"): table["change"].map(fmt_signed),
    t(f"{ci_label()} của thay đổi", f"{ci_label()} of change"): [fmt_interval(lo, hi) for lo, hi in zip(table["change_ci_low"], table["change_ci_high"], strict=True)],
    t("Đánh giá", "Reading"): table["verdict"],
})
st.dataframe(shown, hide_index=True, width="stretch",
             column_config=key_columns(t("Tiêu chí", "Dimension")))
if report.fell_most:
    fell_title = next((c.title.get(lang()) for c in report.questionnaire.criteria
                       if c.code == report.fell_most), report.fell_most)
    st.caption(t(f"Tiêu chí giảm nhiều nhất: {plain(report.fell_most)}. {plain(fell_title)} "
                 "(tô đỏ trên biểu đồ).",
                 f"Dimension that fell most: {plain(report.fell_most)}. {plain(fell_title)} "
                 "(red in the charts)."))

for index in current.indices:
    name = index.index_label.get(lang()) if index.index_label else index.index
    st.subheader(name)
    shares = index_table(report, index.index, against=against, lang=lang())
    overall = shares.iloc[0]
    st.metric(t(f"{name} chung", f"{name}, overall"),
              "—" if pd.isna(overall["share"]) else f"{fmt(100 * overall['share'])} %")
    if pd.notna(overall["ci_low"]):
        st.caption(f"{ci_label(short=False)}: "
                   f"{fmt_interval(100 * overall['ci_low'], 100 * overall['ci_high'])} %")
    elif overall["reason"]:
        st.caption(t("Không có khoảng tin cậy: ", "No interval: ") + overall["reason"])

    def percent(value) -> str:
        return "—" if pd.isna(value) else f"{fmt(100 * value)} %"

    st.dataframe(pd.DataFrame({
        t("Mã", "Code"): shares["code"],
        t("Nội dung", "Item"): shares["label"],
        t("Số phiếu có ý kiến", "Answers with an opinion"): shares["n"],
        name: shares["share"].map(percent),
        ci_label(): [fmt_interval(100 * lo, 100 * hi) if pd.notna(lo) else "—"
                                 for lo, hi in zip(shares["ci_low"], shares["ci_high"], strict=True)],
        baseline_label: shares["baseline"].map(percent),
        t("Thay đổi (điểm %)", "Change (points of %)"): shares["change"].map(
            lambda v: "—" if pd.isna(v) else fmt_signed(100 * v)),
        t("Đánh giá", "Reading"): shares["verdict"],
    }), hide_index=True, width="stretch")

st.subheader(t("Điểm bị mất ở đâu", "Where the points were lost"))
diagnosis = diagnose(source=source, report=report, against=against, lang=lang())
sentence = change_sentence(diagnosis, lang())
if sentence:
    end = "" if sentence.endswith("…") else "."
    st.markdown(t(f"So với {plain(baseline_label)}: {plain(sentence)}{end}",
                  f"Against {plain(baseline_label)}: {plain(sentence)}{end}"))
st.caption(t("Các câu mất nhiều điểm nhất ở trên cùng. Điểm bị mất = điểm chuẩn − điểm đạt; tỷ lệ "
             "mỗi phương án có trọng số theo nhóm người trả lời, kể cả «không có ý kiến».",
             "The questions that cost most are on top. Points lost = points − score; option "
             "shares are weighted by respondent group, \"no opinion\" included."))
st.dataframe(questions_display(diagnosis, lang(), ci_label()), hide_index=True, width="stretch")
st.altair_chart(pareto_chart(diagnosis.questions, lang=lang()), width="stretch")
groups_table = groups_display(diagnosis, lang())
if len(groups_table):
    st.markdown(t("**Theo nhóm người trả lời**", "**By respondent group**"))
    st.caption(t("Điểm đạt của từng câu theo nhóm, với khoảng tin cậy. «Các nhóm khác nhau?»: kiểm "
                 "định Wald về sự bằng nhau của điểm các nhóm, p đã hiệu chỉnh Benjamini–Hochberg "
                 "trên các câu.",
                 "Each question's score by group, with its interval. \"Groups differ?\": Wald "
                 "test of equal group scores, p adjusted (Benjamini–Hochberg) across questions."))
    st.dataframe(groups_table, hide_index=True, width="stretch")

history = scores_frame(report.history)
if len(history) > 1:
    st.subheader(t("Diễn biến theo kỳ", "Over time"))
    st.altair_chart(trend_chart(history, maximum=current.maximum, lang=lang()), width="stretch")
    st.altair_chart(
        criteria_small_multiples(criteria_frame(report.history, source.questionnaires, lang=lang()),
                                 highlight=report.fell_most, lang=lang()),
    )

st.subheader(t("Số phiếu và độ phủ", "Responses and coverage"))
quarter_counts = (unit_rows.groupby("period").size().rename("n").reset_index()
                  if len(unit_rows) else pd.DataFrame(columns=["period", "n"]))
st.altair_chart(responses_chart(quarter_counts, lang=lang()), width="stretch")
quarters = list(parse_period(period).quarters)
with session() as db:
    unit_id = next(u.id for u in units if u.code == unit)
    recorded = transactions_in(session=db, unit_id=unit_id, quarters=quarters)
with st.form("transactions"):
    st.caption(t("Nhập số hồ sơ đã giải quyết trong từng quý để so sánh số phiếu với cỡ mẫu "
                 "Slovin (sai số 5%).",
                 "Enter the files handled in each quarter to compare responses with Slovin's "
                 "sample size (5% margin)."))
    entered = {q: st.number_input(t(f"Hồ sơ giải quyết {parse_period(q).label('vi')}",
                                    f"Files handled {parse_period(q).label('en')}"),
                                  min_value=0, step=1, value=int(recorded.get(q, 0)), key=f"tx-{q}")
               for q in quarters}
    if st.form_submit_button(t("Lưu", "Save")):
        try:
            with session() as db:
                admin.record_transactions(session=db, scope=scope, unit_code=unit,
                                          counts={q: int(v) for q, v in entered.items()})
            recorded = {q: int(v) for q, v in entered.items()}
            st.success(t("Đã lưu số hồ sơ.", "Saved."))
        except (AccessDenied, StorageError) as error:
            show_error(error)
if recorded and sum(recorded.values()) > 0:
    transactions = sum(recorded.values())
    target = slovin_sample_size(transactions)
    share = current.n / target if target else 0.0
    st.metric(t("Số phiếu / cỡ mẫu Slovin", "Responses / Slovin sample size"),
              f"{fmt(current.n, 0)} / {fmt(target, 0)}",
              help=t(f"N = {fmt(transactions, 0)} hồ sơ; n = N / (1 + N·0,05²) = {fmt(target, 0)}",
                     f"N = {fmt(transactions, 0)} files; n = N / (1 + N·0.05²) = {fmt(target, 0)}"))
    if share < 1:
        st.warning(t(f"Mới đạt {fmt(100 * share, 0)}% cỡ mẫu cần thiết.",
                     f"Only {fmt(100 * share, 0)}% of the needed sample."))
    else:
        st.success(t("Đã đủ cỡ mẫu Slovin.", "Slovin's sample size is reached."))

with session() as db:
    link_rates = link_response_rates(session=db, unit_id=unit_id, quarters=quarters,
                                     level=level())
if link_rates:
    st.markdown(t("**Đường dẫn dùng một lần** (mỗi hồ sơ một phiếu): tỷ lệ phản hồi chính xác",
                  "**Single-use links** (one form per case file): the exact response rate"))
    st.dataframe(pd.DataFrame({
        t("Quý", "Quarter"): [parse_period(r.period).label(lang()) for r in link_rates],
        t("Đã phát", "Issued"): [fmt(r.issued, 0) for r in link_rates],
        t("Đã trả lời", "Answered"): [fmt(r.answered, 0) for r in link_rates],
        t("Tỷ lệ phản hồi (%)", "Response rate (%)"): [fmt(100 * r.rate, 1) for r in link_rates],
        f"{ci_label()} (Wilson, %)": [fmt_interval(100 * r.low, 100 * r.high, 1)
                                      for r in link_rates],
    }), hide_index=True)

st.subheader(t("Tải xuống", "Downloads"))
lang_now = lang()
left, right = st.columns(2)
with left:
    st.download_button(
        t("Báo cáo Excel của đơn vị", "Unit report (Excel)"),
        data=download(lambda: unit_workbook(report, against=against, lang=lang_now)),
        file_name=f"bao-cao-{unit}-{period}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/download:", on_click="ignore",
    )
    st.download_button(
        t("Báo cáo Word của đơn vị", "Unit report (Word)"),
        data=download(lambda: unit_document(report, source=source, against=against,
                                            lang=lang_now)),
        file_name=f"bao-cao-{unit}-{period}.docx",
        mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        icon=":material/download:", on_click="ignore",
    )
with right:
    database = engine()

    def responses_csv() -> bytes:
        with new_session(database) as db:
            return unit_responses_csv(session=db, scope=scope, family=family, unit=unit)[0]

    def codebook_csv() -> bytes:
        with new_session(database) as db:
            return unit_responses_csv(session=db, scope=scope, family=family, unit=unit)[1]

    st.download_button(t("Phiếu trả lời (CSV, ẩn danh)", "Responses (CSV, anonymised)"),
                       data=download(responses_csv), file_name=f"phieu-{unit}.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore")
    st.download_button(t("Từ điển dữ liệu (CSV)", "Codebook (CSV)"), data=download(codebook_csv),
                       file_name=f"tu-dien-{family}.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore")
