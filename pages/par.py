"""PAR index page: each unit's appraised table plus its survey score → total, %, class, rank."""

import pandas as pd
import streamlit as st

from app_ui import fmt, lang, require_scope, session, show_error, t
from survey.auth import AccessDenied, require_unit, visible_organisations
from survey.dashboard import load_source, rank_text
from survey.par import ParError, par_index, read_appraisal_table
from survey.par_view import appraisal_table, par_results, survey_rank_sets, survey_scores_for_year
from survey.ranking import distinguishable_sentence
from survey.storage import StorageError
from survey.storage.appraisals import load_appraisal, save_appraisal
from survey.storage.audit import append_audit

FAMILY = "dtxhh-haugiang"

scope = require_scope()
st.title(t("Chỉ số cải cách hành chính (PAR)", "Administrative-reform (PAR) index"))
st.caption(t("Điểm thẩm định các tiêu chí cộng điểm điều tra xã hội học (làm tròn 2 chữ số như "
             "khi công bố), chia cho điểm tối đa áp dụng.",
             "Appraised points plus the survey score (rounded to 2 decimals as published), over "
             "the applicable maximum."))

with session() as db:
    source = load_source(session=db, family=FAMILY, scope=scope)
    years = sorted({int(p) for p in source.periods() if p.isdigit()}, reverse=True)
    if not years:
        st.info(t("Chưa có số liệu khảo sát.", "No survey data yet."))
        st.stop()
    units = [o for o in visible_organisations(session=db, scope=scope) if o.kind != "province"]
    left, right = st.columns(2)
    year = left.selectbox(t("Năm", "Year"), years)
    codes = [u.code for u in units]
    names = {u.code: u.name for u in units}
    unit = right.selectbox(t("Đơn vị", "Unit"), codes, format_func=lambda c: f"{c} — {names[c]}")
    try:
        organisation = require_unit(session=db, scope=scope, code=unit)
    except AccessDenied as error:
        show_error(error)
        st.stop()
    stored_rows, stored_maximum = load_appraisal(session=db, unit_id=organisation.id, year=year)
    survey_scores = survey_scores_for_year(source, year)

st.subheader(t("Bảng điểm thẩm định", "Appraisal table"))
editable = scope.can_manage("par")
upload = st.file_uploader(t("Nhập từ tệp CSV (cột criterion, max, self, appraised)",
                            "Import from CSV (columns criterion, max, self, appraised)"),
                          type=["csv"], disabled=not editable)
rows = stored_rows
stated_maximum = stored_maximum
if upload is not None:
    try:
        imported = read_appraisal_table(upload.getvalue().decode("utf-8-sig"))
    except (ParError, UnicodeDecodeError) as error:
        show_error(error)
    else:
        rows = [{"criterion": r.criterion, "max": float(r.maximum), "self": float(r.self_score),
                 "appraised": float(r.appraised)} for r in imported.rows]
        stated_maximum = float(imported.stated["max"]) if "max" in imported.stated else None
        for warning in imported.warnings:
            st.warning(warning)
if not rows:
    rows = [{"criterion": str(i), "max": 0.0, "self": 0.0, "appraised": 0.0} for i in range(1, 8)]
edited = st.data_editor(
    pd.DataFrame(rows, columns=["criterion", "max", "self", "appraised"]),
    column_config={
        "criterion": st.column_config.TextColumn(t("Tiêu chí", "Criterion"), required=True),
        "max": st.column_config.NumberColumn(t("Điểm chuẩn", "Max"), min_value=0.0, format="%.2f"),
        "self": st.column_config.NumberColumn(t("Tự chấm", "Self-assessed"), min_value=0.0, format="%.2f"),
        "appraised": st.column_config.NumberColumn(t("Thẩm định", "Appraised"), min_value=0.0, format="%.2f"),
    },
    num_rows="dynamic", disabled=not editable, hide_index=True, key=f"par-{unit}-{year}",
)
stated_input = st.number_input(
    t("Tổng điểm chuẩn ghi trên bảng (để trống nếu bằng tổng các dòng)",
      "Stated total maximum (leave empty if it equals the rows' sum)"),
    min_value=0.0, value=stated_maximum, step=0.5, disabled=not editable,
)
table_rows = edited.to_dict("records")

survey_score = survey_scores.get(unit)
if survey_score is None:
    st.warning(t(f"Đơn vị chưa có điểm khảo sát năm {year}.", f"The unit has no survey score for {year}."))
else:
    try:
        result = par_index(appraisal_table(table_rows, stated_input), survey_score,
                           survey_max=source.latest.max_points, unit=unit)
    except ParError as error:
        show_error(error)
    else:
        a, b, c, d = st.columns(4)
        a.metric(t("Điểm thẩm định", "Appraised"), fmt(float(result.appraised)))
        b.metric(t("Điểm khảo sát", "Survey"), fmt(float(result.survey_score)))
        c.metric(t("Tổng / tối đa áp dụng", "Total / applicable max"),
                 f"{fmt(float(result.total))} / {fmt(float(result.applicable_max))}")
        d.metric(t("Tỷ lệ — xếp loại", "Percentage — class"),
                 f"{fmt(float(result.percentage))}% — {result.classification}")
        for warning in result.warnings:
            st.warning(t(f"Bảng điểm chưa nhất quán: {warning}", f"Inconsistent table: {warning}"))

if editable and st.button(t("Lưu bảng điểm", "Save the table"), type="primary"):
    try:
        with session() as db:
            save_appraisal(session=db, unit_id=organisation.id, year=year, rows=table_rows,
                           stated_maximum=stated_input)
            append_audit(session=db, username=scope.username, action="par_saved",
                         target=f"{unit} {year}", detail={"rows": len(table_rows)})
            db.commit()
        st.success(t("Đã lưu.", "Saved."))
    except (StorageError, ValueError, TypeError) as error:
        show_error(error)

st.subheader(t(f"Xếp hạng chỉ số PAR năm {year}", f"PAR ranking {year}"))
with session() as db:
    results = par_results(session=db, scope=scope, source=source, year=year)
if not results:
    st.info(t("Chưa có đơn vị nào có bảng điểm thẩm định cho năm này.",
              "No unit has an appraisal table for this year yet."))
else:
    survey_sets = survey_rank_sets(source, year, [r.unit for r in results])
    survey_places = {u.unit: u for u in survey_sets.units}

    def survey_rank(unit: str) -> str:
        place = survey_places.get(unit)
        if place is None or place.rank is None:
            return "—"
        return rank_text(place.rank, survey_sets.k, place.lower, place.upper, lang())

    st.dataframe(pd.DataFrame({
        t("Hạng", "Rank"): [f"{r.rank}/{r.ranked_units}" for r in results],
        t("Đơn vị", "Unit"): [f"{r.unit} — {names.get(r.unit, r.unit)}" for r in results],
        t("Thẩm định", "Appraised"): [fmt(float(r.appraised)) for r in results],
        t("Khảo sát", "Survey"): [fmt(float(r.survey_score)) for r in results],
        t("Hạng phần khảo sát", "Survey-part rank"): [survey_rank(r.unit) for r in results],
        t("Tổng", "Total"): [fmt(float(r.total)) for r in results],
        t("Tối đa áp dụng", "Applicable max"): [fmt(float(r.applicable_max)) for r in results],
        t("Tỷ lệ %", "Percent"): [fmt(float(r.percentage)) for r in results],
        t("Xếp loại", "Class"): [r.classification for r in results],
        t("Cảnh báo", "Warnings"): [len(r.warnings) for r in results],
    }), hide_index=True, width="stretch")
    st.caption(t("Hạng phần khảo sát kèm khoảng hạng 95% (sai số chọn mẫu của điểm khảo sát). ",
                 "Survey-part rank with its 95% rank interval (the survey score's sampling error). ")
               + distinguishable_sentence(survey_sets, lang()))
