"""The one thin helper between Streamlit pages and the `survey` package."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from survey.auth import Scope, scope_of
from survey.bootstrap import initialise
from survey.config import SettingsError, settings
from survey.db import new_session, shared_engine
from survey.sessions import COOKIE_NAME as SESSION_COOKIE
from survey.sessions import end_session, resume_session, token_status
from survey.storage.sessions import revoke_staff_session
from survey.storage.users import get_user
from survey.text import Text, render_error


@dataclass(frozen=True)
class PageSpec:
    path: str
    vi: str
    en: str
    url: str
    icon: str
    section: str  # "report" or "admin"
    right: str | None = None  # a Scope.can_manage right, None = every signed-in user


PAGES = (
    PageSpec("pages/home.py", "Tổng quan", "Overview", "tong-quan", ":material/home:", "report"),
    PageSpec("pages/unit.py", "Điểm đơn vị", "Unit score", "diem-don-vi", ":material/monitoring:", "report"),
    PageSpec("pages/province.py", "Toàn tỉnh", "Province", "toan-tinh", ":material/leaderboard:", "report"),
    PageSpec("pages/par.py", "Chỉ số PAR", "PAR index", "chi-so-par", ":material/workspace_premium:", "report"),
    PageSpec("pages/qr.py", "Mã QR & áp phích", "QR codes & posters", "ma-qr", ":material/qr_code_2:",
             "admin", "campaigns"),
    PageSpec("pages/admin_import.py", "Nhập phiếu giấy", "Import paper forms", "nhap-phieu",
             ":material/upload_file:", "admin", "imports"),
    PageSpec("pages/admin_users.py", "Tài khoản", "Accounts", "tai-khoan", ":material/group:",
             "admin", "users"),
    PageSpec("pages/admin_units.py", "Đơn vị", "Units", "don-vi", ":material/account_tree:",
             "admin", "units"),
    PageSpec("pages/admin_questionnaires.py", "Phiếu khảo sát", "Questionnaires", "phieu-khao-sat",
             ":material/description:", "admin", "questionnaires"),
    PageSpec("pages/admin_audit.py", "Nhật ký", "Audit log", "nhat-ky", ":material/history:",
             "admin", "audit"),
)


@st.cache_resource(show_spinner="Đang chuẩn bị cơ sở dữ liệu…")
def engine() -> Engine:
    """The process's engine; schema, shipped questionnaires and first-start demo data."""
    made = shared_engine(settings().database_url)
    initialise(made, load_demo=settings().demo_on_first_start)
    return made


@contextmanager
def session() -> Iterator[Session]:
    """A database session for one page run."""
    with new_session(engine()) as opened:
        yield opened


def lang() -> str:
    """The interface language chosen in the sidebar: 'vi' (default) or 'en'."""
    return st.session_state.get("lang", "vi")


def t(vi: str, en: str) -> str:
    """Vietnamese text, or its English translation when English is chosen (survey.text.Text)."""
    return Text(vi, en).get(lang())


def level() -> float:
    """The confidence level of every interval shown (SURVEY_CI_LEVEL, default 0.95)."""
    return settings().confidence_level


def ci_label(short: bool = True) -> str:
    """'KTC 95%' / '95% CI' (or 'Khoảng tin cậy 95%' / '95% interval'), from the setting."""
    from survey.formatting import format_level

    percent = format_level(level(), lang())
    if short:
        return t(f"KTC {percent}", f"{percent} CI")
    return t(f"Khoảng tin cậy {percent}", f"{percent} interval")


# --- signed-in user -----------------------------------------------------------------------


def sign_in(username: str) -> None:
    """Sign in for this browser tab only (the in-app fallback form and AppTest); the light
    page /dang-nhap signs in with a server-side session that survives reloads."""
    st.session_state["auth"] = {"username": username, "last_seen": time.time()}


def _session_cookie() -> str | None:
    """The token of the `survey_session` cookie the browser sent with this page, if any."""
    try:
        return st.context.cookies.get(SESSION_COOKIE)
    except Exception:  # noqa: BLE001 - no browser context (bare script runs)
        return None


def sign_out() -> None:
    """Sign out: the server-side session (if any) is revoked and audited, the tab forgets
    the user. The browser should then visit /dang-xuat to drop the cookie."""
    token = _session_cookie()
    if token:
        with session() as db:
            end_session(session=db, token=token)
            db.commit()
    st.session_state.pop("auth", None)


def _cookie_scope(token: str) -> Scope | None:
    """The scope of the cookie's server-side session (touched), or None when it ended."""
    with session() as db:
        row = resume_session(session=db, token=token)
        user = get_user(session=db, username=row.username) if row else None
        if row is not None and (user is None or not user.active):
            revoke_staff_session(session=db, row=row)
            user = None
        db.commit()
        if user is None:
            if token_status(session=db, token=token) in ("idle", "expired"):
                st.session_state["signed_out_reason"] = "expired"
            return None
        return scope_of(session=db, user=user)


def current_scope() -> Scope | None:
    """The signed-in user's scope, or None (not signed in, idle too long, or deactivated).

    First the server-side session of the `survey_session` cookie (set by /dang-nhap;
    revoked, expired or idle = signed out), then this tab's sign-in (session_state).
    """
    token = _session_cookie()
    if token:
        scope = _cookie_scope(token)
        if scope is not None:
            return scope
    auth = st.session_state.get("auth")
    if not auth:
        return None
    now = time.time()
    if now - auth["last_seen"] > settings().session_idle_seconds:
        sign_out()
        st.session_state["signed_out_reason"] = "expired"
        return None
    auth["last_seen"] = now
    with session() as db:
        user = get_user(session=db, username=auth["username"])
        if user is None or not user.active:
            sign_out()
            return None
        return scope_of(session=db, user=user)


def require_scope() -> Scope:
    """The scope for a page; stops the page when nobody is signed in."""
    scope = current_scope()
    if scope is None:
        st.warning(t("Vui lòng đăng nhập.", "Please sign in."))
        st.stop()
    return scope


def show_error(error: Exception) -> None:
    """A plain message for an error the user can act on, in the user's language (the domain's
    errors carry a message code and parameters; never a traceback)."""
    st.error(render_error(error, lang()))


def _no_right() -> None:
    st.title(t("Không có quyền", "Not allowed"))
    st.error(t("Tài khoản của bạn không có quyền mở trang này. Chọn một trang khác ở thanh bên.",
               "Your account may not open this page. Choose another page in the sidebar."))


def run_navigation() -> None:
    """Page config, language switch, sign-in, and navigation over pages/ by role.

    Every declared address resolves (no Streamlit "Page not found" dialog): signed out, each
    page's address shows the sign-in page, which sends the user back to it after signing in;
    signed in, a page the role may not open explains why; "/" goes to "Tổng quan"
    (and /tong-quan shows it too)."""
    st.set_page_config(page_title="Khảo sát CCHC", page_icon=":material/ballot:", layout="wide")
    with st.sidebar:
        st.radio(
            "Ngôn ngữ / Language",
            options=["vi", "en"],
            format_func=lambda code: {"vi": "Tiếng Việt", "en": "English"}[code],
            horizontal=True,
            key="lang",
        )
    try:
        settings()
    except SettingsError as error:
        st.error(render_error(error, lang()))
        st.stop()
    scope = current_scope()
    if scope is None:
        login = st.Page("pages/login.py", title=t("Đăng nhập", "Sign in"), url_path="dang-nhap",
                        icon=":material/login:", default=True)
        aliases = [st.Page("pages/login.py", title=t("Đăng nhập", "Sign in"), url_path=spec.url,
                           icon=":material/login:") for spec in PAGES]
        chosen = st.navigation([login, *aliases], position="hidden")
        if chosen.url_path in {spec.url for spec in PAGES}:
            st.session_state["requested_page"] = chosen.url_path
        chosen.run()
        return
    st.session_state.pop("requested_page", None)
    with st.sidebar:
        role = {"admin": t("quản trị", "admin"), "province": t("cấp tỉnh", "province"),
                "unit": t("cấp đơn vị", "unit")}.get(scope.role, scope.role)
        st.caption(t(f"Đăng nhập: **{scope.username}** ({role})",
                     f"Signed in: **{scope.username}** ({role})"))
        if st.button(t("Đăng xuất", "Sign out"), icon=":material/logout:"):
            sign_out()
            st.session_state["signed_out_reason"] = "signed_out"  # login page → /dang-xuat
            st.rerun()
    sections: dict[str, list] = {}
    hidden = []
    for spec in PAGES:
        if spec.right and not scope.can_manage(spec.right):
            hidden.append(st.Page(_no_right, title=t(spec.vi, spec.en), url_path=spec.url,
                                  icon=spec.icon, visibility="hidden"))
            continue
        title = t("Báo cáo", "Reports") if spec.section == "report" else t("Quản trị", "Administration")
        home = spec.url == "tong-quan"
        page = st.Page(spec.path, title=t(spec.vi, spec.en), icon=spec.icon, default=home,
                       url_path="trang-chu" if home else spec.url)
        sections.setdefault(title, []).append(page)
    # "Tổng quan" is the default page, served at "/" (Streamlit ignores a default page's
    # url_path); its declared address /tong-quan is a hidden alias of the same page.
    reports = sections.setdefault(t("Báo cáo", "Reports"), [])
    reports.append(st.Page("pages/home.py", title=t("Tổng quan", "Overview"), url_path="tong-quan",
                           icon=":material/home:", visibility="hidden"))
    reports.extend(hidden)
    st.navigation(sections).run()


# --- shared widgets for the report pages -------------------------------------------------------


def fmt(value: float | None, decimals: int = 2) -> str:
    """A number in the interface language's format (15,43 and 19.386 in Vietnamese)."""
    from survey.formatting import format_number

    return format_number(value, decimals, lang())


def fmt_signed(value: float | None, decimals: int = 2) -> str:
    """A change with its sign: +0,25 / −0,83 / 0,00."""
    from survey.formatting import format_signed

    return format_signed(value, decimals, lang())


def fmt_p(value: float | None) -> str:
    """A p-value: 'p = 0,042' or 'p < 0,001'."""
    from survey.formatting import format_p_value

    return format_p_value(value, lang())


def fmt_interval(low: float | None, high: float | None, decimals: int = 2) -> str:
    if low is None or high is None or low != low or high != high:
        return "—"
    return f"[{fmt(low, decimals)}; {fmt(high, decimals)}]"


def pick_family(db: Session, key: str = "family") -> str:
    """Select box of questionnaire families (the seven-dimension survey first)."""
    from survey.storage.questionnaires import list_questionnaire_versions

    rows = list_questionnaire_versions(session=db)
    titles = {row.family: row.title for row in rows}  # newest version's title last wins
    families = sorted(titles, key=lambda family: (not family.startswith("dtxhh"), family))
    if not families:
        st.info(t("Chưa có phiếu khảo sát nào được đăng ký.", "No questionnaire is registered yet."))
        st.stop()
    wanted = st.query_params.get("q")
    index = families.index(wanted) if wanted in families else 0
    return st.selectbox(t("Phiếu khảo sát", "Questionnaire"), families, index=index, key=key,
                        format_func=lambda family: f"{family} — {titles[family]}")


def pick_period(periods: list[str], key: str = "period") -> str:
    """Select box of periods (newest first), labelled the Vietnamese way."""
    from survey.periods import canonical_period_or_none, parse_period

    if not periods:
        st.info(t("Chưa có phiếu trả lời nào cho lựa chọn này.", "No responses for this choice yet."))
        st.stop()
    wanted = canonical_period_or_none(st.query_params.get("period"))  # ?period=Q3/2024 works too
    index = periods.index(wanted) if wanted in periods else 0
    return st.selectbox(t("Kỳ", "Period"), periods, index=index, key=key,
                        format_func=lambda p: parse_period(p).label(lang()))


def flag_text(flags: str | tuple[str, ...]) -> str:
    """Reliability flags ('low_reliability, partial' or a tuple) in the interface language."""
    from survey.reports import reliability_text

    return reliability_text(flags, lang())


def include_flagged_toggle() -> bool:
    return st.toggle(
        t("Tính cả phiếu bị đánh dấu nghi vấn", "Include responses flagged for review"),
        value=True,
        help=t("Phiếu gửi dồn dập từ một địa chỉ mạng hoặc do máy tự điền được lưu và đánh dấu "
               "để xem xét; tắt để xem điểm không có các phiếu này.",
               "Bursts from one network address and bot-filled forms are stored flagged for "
               "review; switch off to see the scores without them."),
    )
