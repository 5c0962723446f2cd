"""PAR index page: each unit's appraised table plus its survey score → total, %, class, rank."""

import pandas as pd
import streamlit as st

from app_ui import (
    fmt,
    key_columns,
    lang,
    level,
    plain,
    require_scope,
    session,
    show_error,
    t,
    upload_file,
)
from survey.auth import AccessDenied, require_unit, visible_organisations
from survey.dashboard import load_source, period_scores, rank_text
from survey.formatting import parse_number
from survey.par import ParError, par_index, read_appraisal_table
from survey.par_view import appraisal_table, par_results, survey_rank_sets, survey_scores_for_year
from survey.ranking import distinguishable_sentence
from survey.storage import StorageError
from survey.storage.appraisals import load_appraisal, save_appraisal
from survey.storage.audit import append_audit
from survey.text import render_notice

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
    year_scores = period_scores(source, str(year), level=level(), units=[unit])

st.subheader(t("Bảng điểm thẩm định", "Appraisal table"))
editable = scope.can_manage("par")
upload = upload_file(t("Nhập từ tệp CSV (cột criterion, max, self, appraised)",
                       "Import from CSV (columns criterion, max, self, appraised)"),
                     ["csv"], key="par_upload", disabled=not editable)
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
            st.warning(plain(render_notice(warning, lang())))
if not rows:
    rows = [{"criterion": str(i), "max": 0.0, "self": 0.0, "appraised": 0.0} for i in range(1, 8)]
POINTS = ("max", "self", "appraised")
shown_rows = pd.DataFrame(
    [{"criterion": r["criterion"], **{k: fmt(r[k]) for k in POINTS}} for r in rows],
    columns=["criterion", *POINTS])
edited = st.data_editor(  # points shown the Vietnamese way (14,00); typed as 14,5 or 14.5
    shown_rows,
    column_config={
        "criterion": st.column_config.TextColumn(t("Tiêu chí", "Criterion"), required=True),
        "max": st.column_config.TextColumn(t("Điểm chuẩn", "Max")),
        "self": st.column_config.TextColumn(t("Tự chấm", "Self-assessed")),
        "appraised": st.column_config.TextColumn(t("Thẩm định", "Appraised")),
    },
    num_rows="dynamic", disabled=not editable, hide_index=True, key=f"par-{unit}-{year}",
)
stated_text = st.text_input(  # written and read the Vietnamese way (51,50), like the table
    t("Tổng điểm chuẩn ghi trên bảng (để trống nếu bằng tổng các dòng)",
      "Stated total maximum (leave empty if it equals the rows' sum)"),
    value="" if stated_maximum is None else fmt(float(stated_maximum)), disabled=not editable,
    key=f"par-stated-{unit}-{year}",
)
stated_input = None
if stated_text.strip():
    try:
        stated_input = parse_number(stated_text, lang())
    except ValueError:
        stated_input = -1.0
    if stated_input < 0:
        st.error(t(f"Tổng điểm chuẩn “{stated_text}” không phải là một số không âm (ghi như 51,5).",
                   f"The stated total '{stated_text}' is not a non-negative number (e.g. 51.5)."))
        stated_input = None
table_rows, unreadable = [], []
for number, record in enumerate(edited.to_dict("records"), start=1):
    row = {"criterion": "" if record["criterion"] is None else str(record["criterion"])}
    for key in POINTS:
        try:
            row[key] = parse_number(record[key], lang())
        except ValueError:
            unreadable.append(t(f"dòng {number}, cột {key}: “{record[key]}”",
                                f"row {number}, column {key}: '{record[key]}'"))
            row[key] = 0.0
    table_rows.append(row)
if unreadable:
    st.error(t("Các ô sau không phải là số (ghi như 14,5): ", "These cells are not numbers: ")
             + "; ".join(unreadable))

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
                 f"{fmt(float(result.percentage))}%")
        d.markdown(f"**{result.classification}**")  # the class in full, never cut
        for warning in result.warnings:
            st.warning(t("Bảng điểm chưa nhất quán: ", "Inconsistent table: ")
                       + plain(render_notice(warning, lang())))
            if getattr(warning, "code", "").startswith("par.stated_max_differs"):
                st.caption(t("Muốn dùng tổng các dòng, hãy xoá ô “Tổng điểm chuẩn ghi trên bảng” "
                             "hoặc ghi đúng tổng vào đó.",
                             "To use the rows' sum, empty the “Stated total maximum” box or "
                             "type the right total in it."))
        year_score = year_scores.get(unit)
        if year_score is not None and year_score.n < 30:
            st.warning(t(f"Điểm khảo sát năm {year} chỉ dựa trên {year_score.n} phiếu (dưới 30): "
                         "độ tin cậy thấp.",
                         f"The {year} survey score rests on {year_score.n} responses (under 30): "
                         "low reliability."))

if editable and st.button(t("Lưu bảng điểm", "Save the table"), type="primary",
                          disabled=bool(unreadable)):
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

st.subheader(t(f"Xếp hạng chỉ số PAR năm {year}", f"PAR ranking {year}") if source.whole_province
             else t(f"Xếp hạng chỉ số PAR năm {year} trong các đơn vị được xem (không phải toàn tỉnh)",
                    f"PAR ranking {year} among the units in view (not the province)"))
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
        (t("Hạng", "Rank") if source.whole_province
         else t("Hạng (trong phạm vi xem)", "Rank (in view)")): [f"{r.rank}/{r.ranked_units}"
                                                                for r in results],
        t("Đơn vị", "Unit"): [f"{r.unit} — {names.get(r.unit, r.unit)}" for r in results],
        t("Thẩm định", "Appraised"): [fmt(float(r.appraised)) for r in results],
        t("Khảo sát", "Survey"): [fmt(float(r.survey_score)) for r in results],
        t("Hạng phần khảo sát", "Survey-part rank"): [survey_rank(r.unit) for r in results],
        t("Tổng", "Total"): [fmt(float(r.total)) for r in results],
        t("Tối đa áp dụng", "Applicable max"): [fmt(float(r.applicable_max)) for r in results],
        t("Tỷ lệ %", "Percent"): [fmt(float(r.percentage)) for r in results],
        t("Xếp loại", "Class"): [r.classification for r in results],
        t("Cảnh báo", "Warnings"): [len(r.warnings) for r in results],
    }), hide_index=True, width="stretch", column_config=key_columns(t("Đơn vị", "Unit")))
    st.caption(t("Hạng phần khảo sát kèm khoảng hạng 95% (sai số chọn mẫu của điểm khảo sát). ",
                 "Survey-part rank with its 95% rank interval (the survey score's sampling error). ")
               + distinguishable_sentence(survey_sets, lang()))
