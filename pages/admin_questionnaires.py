"""Administration: questionnaire versions; check, preview and register a questionnaire file."""

import pandas as pd
import streamlit as st

from app_ui import lang, plain, require_scope, session, show_error, t, upload_file
from survey import admin
from survey.auth import AccessDenied
from survey.questionnaire import Questionnaire, QuestionnaireError
from survey.storage import StorageError
from survey.text import render_notice

FLASH = "admin_questionnaires_flash"
UPLOADS = "admin_questionnaires_uploads"  # bumped to empty the uploader after registering

st.title(t("Phiếu khảo sát", "Questionnaires"))
scope = require_scope()
if not scope.can_manage("questionnaires"):
    st.error(t("Tài khoản của bạn không có quyền quản lý phiếu khảo sát.",
               "Your account may not manage questionnaires."))
    st.stop()
if message := st.session_state.pop(FLASH, None):
    st.success(plain(message))

with session() as db:
    versions = admin.questionnaire_versions_table(session=db, scope=scope)
st.subheader(t("Các phiên bản đã đăng ký", "Registered versions"))
st.dataframe(
    versions.assign(read_only=versions["read_only"].map(
        {True: t("Chỉ đọc (đã có phiếu)", "Read-only (has responses)"), False: ""}))
    [["family", "version", "title", "responses", "read_only"]].rename(columns={
        "family": t("Mã phiếu", "Id"), "version": t("Phiên bản", "Version"),
        "title": t("Tên phiếu", "Title"), "responses": t("Số phiếu", "Responses"),
        "read_only": t("Sửa đổi", "Changes")}),
    hide_index=True, width="stretch",
)
st.caption(t("Phiên bản đã có phiếu trả lời thì giữ nguyên nội dung: muốn sửa, hãy đăng ký một "
             "phiên bản mới (đổi `version`).",
             "A version with responses keeps its content: to revise it, register a new version "
             "(change `version`)."))


def show_preview(questionnaire: Questionnaire) -> None:
    """The form as a citizen sees it, with every answer disabled."""
    language = lang()
    with st.container(border=True):
        st.markdown(f"### {plain(questionnaire.title.get(language))}")
        if questionnaire.description:
            st.text(questionnaire.description.get(language))
        if questionnaire.groups:
            st.radio(t("Ông/Bà trả lời phiếu với tư cách là:", "You are answering as:"),
                     [plain(g.label.get(language)) for g in questionnaire.groups], index=None,
                     disabled=True, key="preview_group")
        count = len(questionnaire.criteria)
        number = 0
        for part, criterion in enumerate(questionnaire.criteria, start=1):
            st.markdown(f"#### {t('Phần', 'Part')} {part}/{count}. "
                        f"{plain(criterion.title.get(language))}")
            for question in criterion.questions:
                number += 1
                scale = questionnaire.scales[question.scale]
                st.radio(
                    f"{t('Câu', 'Question')} {number}. {plain(question.text.get(language))}",
                    [plain(o.label.get(language)) for o in scale.options], index=None, disabled=True,
                    help=plain(question.help.get(language)) if question.help else None,
                    key=f"preview_{question.code}",
                )


st.subheader(t("Đăng ký phiếu từ tệp YAML", "Register a questionnaire file (YAML)"))
upload = upload_file(t("Tệp phiếu khảo sát (.yaml)", "Questionnaire file (.yaml)"),
                     ["yaml", "yml"], key=f"questionnaire_upload_{st.session_state.get(UPLOADS, 0)}")
if upload is None:
    st.stop()
content = upload.getvalue()
try:
    questionnaire = admin.read_questionnaire_upload(content, upload.name)
except QuestionnaireError as error:
    st.error(t(f"Tệp {plain(upload.name)} có {len(error.problems)} lỗi; chưa đăng ký gì. "
               "Đường dẫn chỉ vị trí khoá bị sai (chỉ số đếm từ 0).",
               f"{plain(upload.name)} has {len(error.problems)} problem(s); nothing was registered. "
               "The path shows where the bad key is (indices count from 0)."))
    problems = [(path, render_notice(message, lang())) for path, message in error.problems]
    st.dataframe(pd.DataFrame(problems, columns=[t("Đường dẫn", "Path"), t("Lỗi", "Problem")]),
                 hide_index=True, width="stretch")
    st.stop()

with session() as db:
    check = admin.check_registration(session=db, questionnaire=questionnaire)
st.write(t(f"**{plain(questionnaire.key)}** — {len(questionnaire.criteria)} tiêu chí, "
           f"{len(questionnaire.questions)} câu hỏi, {questionnaire.max_points:g} điểm.",
           f"**{plain(questionnaire.key)}** — {len(questionnaire.criteria)} criteria, "
           f"{len(questionnaire.questions)} questions, {questionnaire.max_points:g} points."))
if check.read_only:
    st.warning(t(f"Phiên bản {plain(questionnaire.key)} đã có {check.responses} phiếu trả lời nên chỉ đọc: "
                 "không thể thay nội dung. Hãy đăng ký dưới một phiên bản mới.",
                 f"Version {plain(questionnaire.key)} already has {check.responses} responses and is "
                 "read-only: its content cannot change. Register it under a new version."))
elif check.registered and check.same_content:
    st.info(t("Tệp này giống hệt phiên bản đã đăng ký.", "This file is identical to the registered version."))
elif check.registered:
    st.info(t("Phiên bản này đã đăng ký nhưng chưa có phiếu: đăng ký sẽ thay nội dung cũ.",
              "This version is registered but has no responses: registering replaces its content."))

st.subheader(t("Xem trước (như người dân thấy)", "Preview (as a citizen sees it)"))
show_preview(questionnaire)

outcomes = {"added": t("đã đăng ký", "registered"), "updated": t("đã cập nhật", "updated"),
            "unchanged": t("không thay đổi", "unchanged")}
if st.button(t("Đăng ký phiếu", "Register"), type="primary", key="questionnaire_register",
             disabled=check.read_only or (check.registered and check.same_content)):
    try:
        with session() as db:
            _row, outcome = admin.register_questionnaire_upload(
                session=db, scope=scope, content=content, filename=upload.name)
    except (AccessDenied, StorageError, QuestionnaireError) as error:
        show_error(error)
    else:
        st.session_state[FLASH] = t(f"Phiếu {questionnaire.key}: {outcomes[outcome]}.",
                                    f"Questionnaire {questionnaire.key}: {outcomes[outcome]}.")
        st.session_state[UPLOADS] = st.session_state.get(UPLOADS, 0) + 1
        st.rerun()
