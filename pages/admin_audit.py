"""Administration: the audit log (who did what, when), filtered by user, action and days."""

import datetime as dt

import streamlit as st

from app_ui import lang, require_scope, session, show_error, t
from survey import admin
from survey.auth import AccessDenied
from survey.text import printable

st.title(t("Nhật ký hệ thống", "Audit log"))
scope = require_scope()
if not scope.can_manage("audit"):
    st.error(t("Tài khoản của bạn không có quyền xem nhật ký.", "Your account may not read the audit log."))
    st.stop()

ALL = ""
with session() as db:
    usernames, actions = admin.audit_choices(session=db, scope=scope)
today = dt.datetime.now(admin.LOCAL_TIME).date()
left, middle, right = st.columns(3)
username = left.selectbox(t("Người thực hiện", "User"), [ALL, *usernames],
                          format_func=lambda u: printable(u) or t("(tất cả)", "(all)"), key="audit_user")
action = middle.selectbox(t("Thao tác", "Action"), [ALL, *actions],
                          format_func=lambda a: admin.audit_action_label(a, lang()) if a
                          else t("(tất cả)", "(all)"), key="audit_action")
days = right.date_input(t("Từ ngày – đến ngày", "From – to"),
                        value=(today - dt.timedelta(days=30), today), format="DD/MM/YYYY",
                        key="audit_days")
start, end = (tuple(days) + (None, None))[:2] if isinstance(days, tuple | list) else (days, None)

try:
    with session() as db:
        entries = admin.audit_log(session=db, scope=scope, username=username or None,
                                  action=action or None, start=start, end=end or start)
except AccessDenied as error:
    show_error(error)
    st.stop()
st.caption(t(f"{len(entries)} mục (mới nhất trước, giờ Việt Nam; tối đa 1.000).",
             f"{len(entries)} entries (newest first, Vietnam time; at most 1,000)."))
readable = admin.readable_audit(entries, lang())
shown = readable.assign(  # stored text shown with its control characters escaped
    at=readable["at"].dt.strftime("%d/%m/%Y %H:%M:%S"),
    **{column: readable[column].fillna("").astype(str).map(printable)
       for column in ("username", "action", "target", "detail")},
)
st.dataframe(
    shown[
        ["at", "username", "action", "target", "detail"]].rename(columns={
            "at": t("Thời điểm", "When"), "username": t("Người thực hiện", "User"),
            "action": t("Thao tác", "Action"), "target": t("Đối tượng", "Target"),
            "detail": t("Chi tiết", "Detail")}),
    hide_index=True, width="stretch",
)
