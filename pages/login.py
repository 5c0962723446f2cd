"""Sign in (staff only; citizens answer through QR links without an account).

Staff sign in on the light page /dang-nhap: it sets a server-side session cookie, so they
stay signed in across reloads and tabs until they sign out or stay idle too long. This
page links there. The form in the expander below is kept as a fallback that signs in
this browser tab only (same checks, delays, hashing bound and audit, and a server-side
session that ends exactly like the cookie's): it works where the cookie cannot reach the
app (a proxy that drops it, cookies blocked).
"""

from urllib.parse import quote

import streamlit as st

from app_ui import client_address, lang, plain, session, sign_in, t
from survey.auth import LoginRefused, WeakPassword, authenticate, set_password
from survey.login_guard import HashingBusy
from survey.storage import StorageError
from survey.storage.users import get_user, list_users

LOGIN_URL = "/dang-nhap"
LOGOUT_URL = "/dang-xuat"
LINK_STYLE = ("display:inline-block;padding:.6rem 1.6rem;border-radius:.5rem;background:#1f5f8b;"
              "color:#fff;text-decoration:none;font-weight:600")
requested = st.session_state.get("requested_page")  # a deep link opened while signed out
query = "?" + "&".join((["lang=en"] if lang() == "en" else [])
                       + ([f"next={quote('/' + requested, safe='/')}"] if requested else []))
query = "" if query == "?" else query

st.title(t("Đăng nhập", "Sign in"))
if requested:
    st.info(t("Vui lòng đăng nhập để mở trang này; sau khi đăng nhập bạn sẽ trở lại đúng trang.",
              "Please sign in to open this page; you will come back to it after signing in."))
reason = st.session_state.pop("signed_out_reason", None)
if reason == "signed_out":
    st.success(t("Bạn đã đăng xuất.", "You have signed out."))
    # Let /dang-xuat drop the session cookie (the session itself is already revoked).
    out = "?lang=en" if lang() == "en" else ""
    st.html(f"<script>window.location.replace('{LOGOUT_URL}{out}')</script>",
            unsafe_allow_javascript=True)
elif reason == "expired":
    st.info(t("Phiên làm việc đã hết hạn, vui lòng đăng nhập lại.",
              "Your session expired: please sign in again."))

st.markdown(
    f'<a href="{LOGIN_URL}{query}" target="_self" id="staff-login-link" style="{LINK_STYLE}">'
    f'{t("Đăng nhập", "Sign in")}</a>',
    unsafe_allow_html=True,
)
st.caption(t("Bạn vẫn đăng nhập khi tải lại trang hay mở thêm thẻ, cho tới khi đăng xuất hoặc "
             "không thao tác quá lâu.",
             "You stay signed in across reloads and tabs until you sign out or stay idle "
             "too long."))

with session() as db:
    has_users = bool(list_users(session=db))
if not has_users:
    st.warning(t(
        "Chưa có tài khoản nào. Quản trị viên tạo tài khoản đầu tiên trên máy chủ bằng lệnh:",
        "There is no account yet. The administrator creates the first one on the server with:",
    ))
    st.code("survey user add admin --role admin", language="bash")

pending = st.session_state.get("password_change_for")
if pending:
    st.info(t("Đây là lần đăng nhập đầu tiên với mật khẩu dùng một lần: hãy đặt mật khẩu mới.",
              "First sign-in with a one-time password: choose a new password."))
    with st.form("new_password"):
        first = st.text_input(t("Mật khẩu mới (ít nhất 10 ký tự)", "New password (10+ characters)"),
                              type="password")
        second = st.text_input(t("Nhập lại mật khẩu mới", "Repeat the new password"), type="password")
        if st.form_submit_button(t("Lưu mật khẩu", "Save password"), type="primary"):
            if first != second:
                st.error(t("Hai mật khẩu không khớp.", "The two passwords differ."))
            else:
                try:
                    with session() as db:
                        user = get_user(session=db, username=pending)
                        set_password(session=db, user=user, password=first, actor=pending)
                        db.commit()
                except WeakPassword as weak:
                    st.error(weak.text(lang()))
                except StorageError as error:
                    st.error(plain(error))
                else:
                    del st.session_state["password_change_for"]
                    sign_in(pending)
                    st.rerun()
    st.stop()

fallback = st.expander(t("Đăng nhập chỉ trong thẻ này (không giữ khi tải lại trang)",
                         "Sign in for this tab only (lost when the page reloads)"))
with fallback, st.form("login"):
    username = st.text_input(t("Tên đăng nhập", "Username"))
    password = st.text_input(t("Mật khẩu", "Password"), type="password")
    submitted = st.form_submit_button(t("Đăng nhập", "Sign in"), type="primary")
if submitted:
    try:
        with session() as db:
            user = authenticate(session=db, username=username, password=password,
                                address=client_address() or "streamlit")
    except HashingBusy:
        st.error(t("Đang có nhiều lượt đăng nhập cùng lúc. Vui lòng đợi vài giây rồi thử lại.",
                   "Too many sign-ins are being checked at this moment. Please wait a few "
                   "seconds and try again."))
    except LoginRefused as refused:
        if refused.retry_after:
            st.error(t(f"Đăng nhập sai nhiều lần. Vui lòng thử lại sau {refused.retry_after:.0f} giây.",
                       f"Too many failed attempts. Try again in {refused.retry_after:.0f} s."))
        else:
            st.error(t("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."))
    else:
        if user.must_change_password:
            st.session_state["password_change_for"] = user.username
        else:
            sign_in(user.username)
        st.rerun()
