"""Home: the province's units, questionnaire versions and responses per quarter."""

import streamlit as st

from app_ui import fmt, key_columns, lang, require_scope, session, t
from survey.formatting import format_period
from survey.overview import questionnaires_table, responses_by_quarter, units_table

st.title(t("Khảo sát sự hài lòng và chỉ số cải cách hành chính",
           "Satisfaction survey and administrative-reform index"))
st.caption(t(
    "Người dân trả lời qua mã QR; đơn vị theo dõi điểm từng quý với khoảng tin cậy; "
    "tỉnh tổng hợp, xếp hạng và báo cáo.",
    "Citizens answer through QR links; units follow their quarterly scores with confidence "
    "intervals; the province aggregates, ranks and reports.",
))

scope = require_scope()
with session() as db:
    units = units_table(session=db, scope=scope)
    questionnaires = questionnaires_table(session=db, scope=scope)
    counts = responses_by_quarter(session=db, scope=scope)

kind_names = {"province": t("Tỉnh", "Province"), "unit": t("Đơn vị", "Unit"),
              "subunit": t("Đơn vị trực thuộc", "Sub-unit")}
left, middle, right = st.columns(3)
left.metric(t("Đơn vị", "Units"), fmt(int((units["kind"] != "province").sum()), 0))
middle.metric(t("Phiên bản phiếu", "Questionnaire versions"), fmt(len(questionnaires), 0))
right.metric(t("Phiếu đã nhận", "Responses received"),
             fmt(int(questionnaires["responses"].sum()), 0))

st.subheader(t("Số phiếu theo quý", "Responses per quarter"))
if counts.empty:
    st.info(t("Chưa có phiếu trả lời nào. Mở đợt khảo sát và in mã QR để bắt đầu.",
              "No responses yet. Open a campaign and print its QR code to start."))
else:
    st.dataframe(
        # periods as people read them ("Quý 4/2024"), as in the selectors and on the charts
        counts.rename(columns={"unit": t("Mã", "Code"), "name": t("Đơn vị", "Unit")}).rename(
            columns=lambda column: format_period(column, lang())),
        hide_index=True,
        width="stretch",
        column_config=key_columns(t("Đơn vị", "Unit")),
    )

st.subheader(t("Đơn vị", "Units"))
if units.empty:
    st.info(t("Chưa có đơn vị. Quản trị viên thêm đơn vị ở trang «Đơn vị».",
              "No units yet. An administrator adds them on the «Units» page."))
else:
    st.dataframe(
        units.assign(kind=units["kind"].map(kind_names)).rename(columns={
            "code": t("Mã", "Code"), "name": t("Tên", "Name"), "kind": t("Loại", "Kind"),
            "parent": t("Trực thuộc", "Parent")}),
        hide_index=True,
        width="stretch",
    )

st.subheader(t("Phiếu khảo sát", "Questionnaires"))
st.dataframe(
    questionnaires.rename(columns={
        "family": t("Mã phiếu", "Id"), "version": t("Phiên bản", "Version"),
        "title": t("Tên phiếu", "Title"), "responses": t("Số phiếu", "Responses")}),
    hide_index=True,
    width="stretch",
)
