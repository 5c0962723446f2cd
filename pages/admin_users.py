"""Administration: staff accounts within the signed-in user's scope."""

import streamlit as st

from app_ui import plain, require_scope, session, show_error, t
from survey import admin
from survey.auth import AccessDenied, visible_organisations
from survey.storage import StorageError

FLASH = "admin_users_flash"

st.title(t("Quản lý tài khoản", "Accounts"))
scope = require_scope()
if not scope.can_manage("users"):
    st.error(t("Tài khoản của bạn không có quyền quản lý tài khoản.",
               "Your account may not manage accounts."))
    st.stop()

ROLE_NAMES = {"admin": t("Quản trị hệ thống", "Administrator"),
              "province": t("Cấp tỉnh", "Province"), "unit": t("Cấp đơn vị", "Unit")}
if flash := st.session_state.pop(FLASH, None):
    message, password = flash
    st.success(plain(message))
    if password:
        st.warning(t("Mật khẩu dùng một lần — chỉ hiện một lần; hãy trao cho người dùng, họ sẽ phải "
                     "đổi ở lần đăng nhập đầu tiên:",
                     "One-time password — shown only once; hand it over, it must be changed at "
                     "first sign-in:"))
        st.code(password, language=None)


def attempt(change, success: str) -> None:
    """Run one change; on success reload with a message (and a one-time password), else
    show the error."""
    try:
        with session() as db:
            password = change(db)
    except (AccessDenied, StorageError) as error:
        show_error(error)
    else:
        st.session_state[FLASH] = (success, password if isinstance(password, str) else None)
        st.rerun()


with session() as db:
    users = admin.users_table(session=db, scope=scope)
    units = {o.code: o.name for o in visible_organisations(session=db, scope=scope)}
roles = ["province", "unit"] if scope.role != "admin" else ["admin", "province", "unit"]
unit_codes = list(units)


def unit_label(code: str) -> str:
    return f"{code} — {units[code]}"


st.subheader(t("Tài khoản", "Accounts"))
st.dataframe(
    users.assign(
        role=users["role"].map(ROLE_NAMES),
        active=users["active"].map({True: t("Hoạt động", "Active"), False: t("Đã khoá", "Deactivated")}),
        must_change_password=users["must_change_password"].map({True: t("Chưa đổi", "Not yet"),
                                                                False: ""}),
    )[["username", "role", "unit", "unit_name", "active", "must_change_password"]].rename(columns={
        "username": t("Tên đăng nhập", "Username"), "role": t("Vai trò", "Role"),
        "unit": t("Mã đơn vị", "Unit code"), "unit_name": t("Đơn vị", "Unit"),
        "active": t("Trạng thái", "Status"),
        "must_change_password": t("Mật khẩu một lần", "One-time password")}),
    hide_index=True, width="stretch",
)

create_tab, manage_tab = st.tabs([t("Tạo tài khoản", "New account"),
                                  t("Sửa tài khoản", "Edit an account")])

with create_tab, st.form("user_create", clear_on_submit=True):
    username = st.text_input(t("Tên đăng nhập", "Username"), key="user_create_name")
    role = st.selectbox(t("Vai trò", "Role"), roles, index=len(roles) - 1,
                        format_func=ROLE_NAMES.get, key="user_create_role")
    # No unit is chosen for the admin: the first in the list is the province, and an account
    # left on it would see the whole province whatever its role.
    unit = st.selectbox(t("Đơn vị (không dùng cho quản trị hệ thống)",
                          "Unit (not used for an administrator)"),
                        unit_codes, index=None, format_func=unit_label, key="user_create_unit",
                        placeholder=t("Chọn đơn vị của tài khoản", "Choose the account's unit"))
    st.caption(t("Một mật khẩu dùng một lần được tạo và hiện một lần sau khi lưu.",
                 "A one-time password is generated and shown once after saving."))
    if st.form_submit_button(t("Tạo tài khoản", "Create account"), type="primary",
                             key="user_create_submit"):
        attempt(lambda db: admin.create_account(session=db, scope=scope, username=username,
                                                role=role, unit_code=unit)[1],
                t(f"Đã tạo tài khoản {username.strip()}.", f"Account {username.strip()} created."))

with manage_tab:
    usernames = list(users["username"])
    if not usernames:
        st.info(t("Chưa có tài khoản nào trong phạm vi của bạn.", "No account within your scope."))
        st.stop()
    chosen = st.selectbox(t("Tài khoản", "Account"), usernames, key="user_manage_name")
    current = users.set_index("username").loc[chosen]
    left, right = st.columns(2)
    with left:
        if st.button(t("Cấp lại mật khẩu dùng một lần", "Reset with a one-time password"),
                     key="user_reset"):
            attempt(lambda db: admin.reset_password(session=db, scope=scope, username=chosen),
                    t(f"Đã cấp lại mật khẩu cho {chosen}.", f"Password of {chosen} reset."))
    with right:
        if current["active"]:
            if st.button(t("Khoá tài khoản", "Deactivate"), key="user_deactivate"):
                attempt(lambda db: admin.deactivate_user(session=db, scope=scope, username=chosen),
                        t(f"Đã khoá tài khoản {chosen}.", f"Account {chosen} deactivated."))
        elif st.button(t("Mở khoá tài khoản", "Reactivate"), key="user_reactivate"):
            attempt(lambda db: admin.reactivate_user(session=db, scope=scope, username=chosen),
                    t(f"Đã mở khoá tài khoản {chosen}.", f"Account {chosen} reactivated."))
    with st.form("user_role"):
        new_role = st.selectbox(
            t("Vai trò mới", "New role"), roles, format_func=ROLE_NAMES.get, key=f"user_role_role_{chosen}",
            index=roles.index(current["role"]) if current["role"] in roles else 0)
        new_unit = st.selectbox(
            t("Đơn vị mới (không dùng cho quản trị hệ thống)", "New unit (not for an administrator)"),
            unit_codes, format_func=unit_label, key=f"user_role_unit_{chosen}",
            index=unit_codes.index(current["unit"]) if current["unit"] in unit_codes else 0)
        if st.form_submit_button(t("Đổi vai trò và đơn vị", "Change role and unit"),
                                 type="primary", key="user_role_submit"):
            attempt(lambda db: admin.change_role(session=db, scope=scope, username=chosen,
                                                 role=new_role, unit_code=new_unit),
                    t(f"Đã đổi vai trò của {chosen}.", f"Role of {chosen} changed."))
