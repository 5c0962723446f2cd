"""Administration: import typed-in paper forms (CSV or XLSX) within the user's scope."""

import hashlib

import pandas as pd
import streamlit as st

from app_ui import lang, plain, require_scope, session, show_error, t, upload_file
from survey import admin
from survey.auth import AccessDenied, visible_organisations
from survey.importer import MAX_FILE_BYTES, ImportFailed
from survey.storage import StorageError
from survey.storage.questionnaires import (
    default_questionnaire_version,
    get_questionnaire_version_by_id,
    list_questionnaire_versions,
)

FLASH = "admin_import_flash"
ONLY_NEW_ROWS = "import_only_new_rows"
UPLOADS = "admin_import_uploads"  # bumped to empty the uploader after an import
PREVIEW_ROWS = 10

st.title(t("Nhập phiếu giấy", "Import paper forms"))
scope = require_scope()
if not scope.can_manage("imports"):
    st.error(t("Tài khoản của bạn không có quyền nhập phiếu.", "Your account may not import forms."))
    st.stop()
if message := st.session_state.pop(FLASH, None):
    st.success(message)

st.caption(t(
    "Tệp CSV (UTF-8) hoặc XLSX, mỗi dòng một phiếu: cột `unit`, `period` (quý, ví dụ 2024-Q3), "
    "`group` (nếu phiếu có nhóm người trả lời), rồi một cột cho mỗi mã câu hỏi, ô ghi mã phương án "
    "(để trống nếu không trả lời). Chỉ cần một dòng sai là cả tệp không được nhập.",
    "CSV (UTF-8) or XLSX, one row per form: columns `unit`, `period` (a quarter, e.g. 2024-Q3), "
    "`group` (when the questionnaire has respondent groups), then one column per question code, "
    "each cell holding an option code (empty = not answered). One bad row stops the whole file.",
))

with session() as db:
    versions = {row.id: row for row in list_questionnaire_versions(session=db)}
    units = {o.code: o.name for o in visible_organisations(session=db, scope=scope)}
    default = default_questionnaire_version(session=db, unit_ids=scope.unit_ids())

with st.expander(t(f"Mã đơn vị bạn được nhập ({len(units)})", f"Unit codes you may import ({len(units)})")):
    st.dataframe(pd.DataFrame({"unit": list(units), "name": list(units.values())}).rename(
        columns={"unit": t("Mã (cột unit)", "Code (unit column)"), "name": t("Đơn vị", "Unit")}),
        hide_index=True, width="stretch")

if not versions:
    st.info(t("Chưa có phiếu khảo sát nào được đăng ký.", "No questionnaire is registered yet."))
    st.stop()
version_id = st.selectbox(
    t("Phiếu khảo sát", "Questionnaire"), list(versions),
    index=list(versions).index(default.id) if default is not None else len(versions) - 1,
    format_func=lambda i: f"{versions[i].family}@{versions[i].version} — {versions[i].title}",
    key="import_version",
)
create_units, parent_code = False, None
if scope.role in ("admin", "province"):
    create_units = st.checkbox(t("Tạo đơn vị chưa có (đặt tên theo mã)", "Create unknown units (named by code)"),
                               key="import_create_units")
    if create_units:
        parent_code = st.selectbox(t("Trực thuộc (cho đơn vị mới)", "Parent of new units"), list(units),
                                   format_func=lambda c: f"{c} — {units[c]}", key="import_parent")

upload = upload_file(t("Tệp phiếu đã nhập liệu (.csv, .xlsx)", "Typed-in forms (.csv, .xlsx)"),
                     ["csv", "xlsx"], key=f"import_upload_{st.session_state.get(UPLOADS, 0)}",
                     max_mb=MAX_FILE_BYTES // 2**20)
if upload is None:
    st.stop()
if default is not None and version_id == default.id:
    st.caption(t(f"Đang chọn phiếu {default.family}@{default.version}: phiếu được dùng nhiều nhất "
                 "trong phạm vi của bạn, phiên bản mới nhất.",
                 f"Selected: {default.family}@{default.version}, the questionnaire used most in "
                 "your scope, in its latest version."))
content = upload.getvalue()
# The file is read and checked once per (file, questionnaire, options); other interactions on
# the page reuse the result instead of parsing the upload again.
only_new_rows = bool(st.session_state.get(ONLY_NEW_ROWS, False))
preview_key = (hashlib.sha256(content).hexdigest(), version_id, create_units, parent_code,
               only_new_rows)
cached = st.session_state.get("admin_import_preview")
if cached is not None and cached[0] == preview_key:
    inspection = cached[1]
else:
    try:
        with session() as db:
            version = get_questionnaire_version_by_id(session=db, version_id=version_id)
            inspection = admin.preview_paper_forms(
                session=db, scope=scope, content=content, filename=upload.name, version=version,
                create_units=create_units, parent_code=parent_code, only_new_rows=only_new_rows)
    except (AccessDenied, StorageError) as error:
        show_error(error)
        st.stop()
    st.session_state["admin_import_preview"] = (preview_key, inspection)
table, problems, to_create = inspection.table, inspection.problems, inspection.to_create
# Rows already imported are the only problem: the user may leave them out (audited).
if only_new_rows or (problems and all(getattr(p.message, "code", None)
                                      == "import.rows_already_imported" for p in problems)):
    st.checkbox(t("Chỉ nhập các dòng mới (bỏ qua các dòng đã nhập trước đây)",
                  "Import only the new rows (leave out the rows imported before)"),
                key=ONLY_NEW_ROWS)

if not table.empty:
    st.subheader(t(f"Xem trước ({min(len(table), PREVIEW_ROWS)}/{len(table)} dòng đầu)",
                   f"Preview (first {min(len(table), PREVIEW_ROWS)} of {len(table)} rows)"))
    st.dataframe(table.head(PREVIEW_ROWS), hide_index=True, width="stretch")
if problems:
    st.error(t(f"{plain(upload.name)}: {len(problems)} lỗi, chưa nhập gì. Sửa tệp rồi tải lên lại.",
               f"{plain(upload.name)}: {len(problems)} problem(s), nothing imported. Fix the file and upload it again."))
    st.dataframe(
        pd.DataFrame([(p.row, p.column or "", p.text(lang())) for p in problems],
                     columns=[t("Dòng", "Row"), t("Cột", "Column"), t("Lỗi", "Problem")]).astype(
            {t("Dòng", "Row"): "Int64"}),
        hide_index=True, width="stretch",
    )
    st.stop()
if inspection.skipped_rows:
    skipped = inspection.skipped_rows
    listed = ", ".join(map(str, skipped[:20])) + (t(f" … và {len(skipped) - 20} dòng khác",
                                                    f" … and {len(skipped) - 20} more")
                                                  if len(skipped) > 20 else "")
    st.info(t(f"Bỏ qua {len(skipped)} dòng đã nhập trước đây (dòng {listed}; "
              f"{inspection.earlier.get('vi')}).",
              f"{len(skipped)} row(s) imported before will be left out (row {listed}; "
              f"{inspection.earlier.get('en')})."))
if to_create:
    st.info(t(f"Sẽ tạo đơn vị mới: {', '.join(sorted(to_create))}",
              f"New units will be created: {', '.join(sorted(to_create))}"))
if st.button(t(f"Nhập {len(table)} phiếu", f"Import {len(table)} forms"), type="primary",
             key="import_confirm"):
    try:
        with session() as db:
            version = get_questionnaire_version_by_id(session=db, version_id=version_id)
            result = admin.import_paper_forms(
                session=db, scope=scope, content=content, filename=upload.name, version=version,
                create_units=create_units, parent_code=parent_code, only_new_rows=only_new_rows)
    except ImportFailed as error:
        st.error(t(f"{plain(upload.name)}: {len(error.problems)} lỗi, chưa nhập gì.",
                   f"{plain(upload.name)}: {len(error.problems)} problem(s), nothing imported."))
        st.dataframe(pd.DataFrame([(p.row, p.column or "", p.text(lang())) for p in error.problems],
                                  columns=[t("Dòng", "Row"), t("Cột", "Column"), t("Lỗi", "Problem")]),
                     hide_index=True, width="stretch")
    except (AccessDenied, StorageError) as error:
        show_error(error)
    else:
        st.session_state[FLASH] = t(
            f"Đã nhập {result.rows} phiếu từ {result.filename}."
            + (f" Đã bỏ qua {len(result.skipped_rows)} dòng đã nhập trước đây."
               if result.skipped_rows else ""),
            f"{result.rows} forms imported from {result.filename}."
            + (f" {len(result.skipped_rows)} row(s) imported before were left out."
               if result.skipped_rows else ""))
        st.session_state[UPLOADS] = st.session_state.get(UPLOADS, 0) + 1
        st.rerun()
