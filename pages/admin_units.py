"""Administration: the unit tree; add, rename, move, deactivate and reactivate units."""

import streamlit as st

from app_ui import plain, require_scope, session, show_error, t
from survey import admin
from survey.auth import AccessDenied
from survey.storage import StorageError

FLASH = "admin_units_flash"

st.title(t("Quản lý đơn vị", "Units"))
scope = require_scope()
if not scope.can_manage("units"):
    st.error(t("Tài khoản của bạn không có quyền quản lý đơn vị.",
               "Your account may not manage units."))
    st.stop()
if message := st.session_state.pop(FLASH, None):
    st.success(plain(message))


def attempt(change, success: str) -> None:
    """Run one change; on success reload the page with a message, else show the error."""
    try:
        with session() as db:
            change(db)
    except (AccessDenied, StorageError) as error:
        show_error(error)
    else:
        st.session_state[FLASH] = success
        st.rerun()


with session() as db:
    tree = admin.unit_tree(session=db, scope=scope)
names = dict(zip(tree["code"], tree["name"], strict=True))
all_codes = list(tree["code"])
active_codes = list(tree.loc[tree["active"], "code"])
inactive_codes = list(tree.loc[~tree["active"], "code"])


def label(code: str) -> str:
    return f"{code} — {names[code]}" if code in names else t("(gốc của cây)", "(root of the tree)")


kinds = {"province": t("Tỉnh", "Province"), "unit": t("Đơn vị", "Unit"),
         "subunit": t("Đơn vị trực thuộc", "Sub-unit")}
st.subheader(t("Cây đơn vị", "Unit tree"))
if tree.empty:
    st.info(t("Chưa có đơn vị nào: thêm đơn vị đầu tiên (tỉnh) bên dưới.",
              "No units yet: add the first one (the province) below."))
else:
    shown = tree if st.toggle(t("Hiện cả đơn vị ngừng hoạt động", "Show deactivated units"),
                              value=True, key="units_show_inactive") else tree[tree["active"]]
    st.dataframe(
        shown.assign(
            kind=shown["kind"].map(kinds),
            active=shown["active"].map({True: t("Hoạt động", "Active"),
                                        False: t("Ngừng hoạt động", "Deactivated")}),
        )[["label", "code", "kind", "active"]].rename(columns={
            "label": t("Đơn vị", "Unit"), "code": t("Mã", "Code"), "kind": t("Loại", "Kind"),
            "active": t("Trạng thái", "Status")}),
        hide_index=True, width="stretch",
    )

add_tab, rename_tab, move_tab, state_tab = st.tabs([
    t("Thêm", "Add"), t("Đổi tên", "Rename"), t("Chuyển", "Move"),
    t("Ngừng / mở lại", "Deactivate / reactivate"),
])

with add_tab, st.form("unit_add", clear_on_submit=True):
    code = st.text_input(t("Mã đơn vị (chữ, số, . - _)", "Unit code (letters, digits, . - _)"),
                         key="unit_add_code")
    name = st.text_input(t("Tên đơn vị", "Unit name"), key="unit_add_name")
    parent = st.selectbox(t("Trực thuộc", "Parent"), [""] + active_codes, format_func=label,
                          key="unit_add_parent")
    if st.form_submit_button(t("Thêm đơn vị", "Add unit"), type="primary", key="unit_add_submit"):
        attempt(lambda db: admin.add_unit(session=db, scope=scope, code=code, name=name,
                                          parent_code=parent or None),
                t(f"Đã thêm đơn vị {code.strip()}.", f"Unit {code.strip()} added."))

with rename_tab, st.form("unit_rename"):
    target = st.selectbox(t("Đơn vị", "Unit"), all_codes, format_func=label, key="unit_rename_code")
    new_name = st.text_input(t("Tên mới", "New name"), key="unit_rename_name")
    if st.form_submit_button(t("Đổi tên", "Rename"), type="primary", disabled=not all_codes,
                             key="unit_rename_submit"):
        attempt(lambda db: admin.rename_unit(session=db, scope=scope, code=target, name=new_name),
                t(f"Đã đổi tên đơn vị {target}.", f"Unit {target} renamed."))

with move_tab, st.form("unit_move"):
    st.caption(t("Đơn vị được chuyển cùng toàn bộ đơn vị trực thuộc; không thể chuyển vào chính nó "
                 "hay đơn vị cấp dưới của nó.",
                 "A unit moves with all its sub-units; it cannot move under itself or below itself."))
    target = st.selectbox(t("Đơn vị", "Unit"), all_codes, format_func=label, key="unit_move_code")
    new_parent = st.selectbox(t("Chuyển vào", "New parent"), [""] + active_codes, format_func=label,
                              key="unit_move_parent")
    if st.form_submit_button(t("Chuyển", "Move"), type="primary", disabled=not all_codes,
                             key="unit_move_submit"):
        attempt(lambda db: admin.move_unit(session=db, scope=scope, code=target,
                                           parent_code=new_parent or None),
                t(f"Đã chuyển đơn vị {target}.", f"Unit {target} moved."))

with state_tab:
    left, right = st.columns(2)
    with left, st.form("unit_deactivate"):
        st.caption(t("Đơn vị ngừng hoạt động được ẩn khỏi danh sách và không nhận phiếu nhập; "
                     "phiếu đã có vẫn được giữ.",
                     "A deactivated unit is hidden from lists and takes no imports; its responses stay."))
        target = st.selectbox(t("Đơn vị", "Unit"), active_codes, format_func=label,
                              key="unit_deactivate_code")
        if st.form_submit_button(t("Ngừng hoạt động", "Deactivate"), disabled=not active_codes,
                                 key="unit_deactivate_submit"):
            attempt(lambda db: admin.deactivate_unit(session=db, scope=scope, code=target),
                    t(f"Đơn vị {target} đã ngừng hoạt động.", f"Unit {target} deactivated."))
    with right, st.form("unit_reactivate"):
        target = st.selectbox(t("Đơn vị ngừng hoạt động", "Deactivated unit"), inactive_codes,
                              format_func=label, key="unit_reactivate_code")
        if st.form_submit_button(t("Mở lại", "Reactivate"), disabled=not inactive_codes,
                                 key="unit_reactivate_submit"):
            attempt(lambda db: admin.reactivate_unit(session=db, scope=scope, code=target),
                    t(f"Đơn vị {target} hoạt động trở lại.", f"Unit {target} reactivated."))
