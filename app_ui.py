"""The one thin helper between Streamlit pages and the `survey` package."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from survey.auth import AccessDenied, Scope, scope_of
from survey.bootstrap import initialise
from survey.config import SettingsError, settings
from survey.db import new_session, shared_engine
from survey.navigation import DEFAULT_URL, HOME_URL, PAGE_ICON, PAGES
from survey.sessions import COOKIE_NAME as SESSION_COOKIE
from survey.sessions import (
    end_session,
    resume_session,
    signed_in_user,
    start_session,
    token_status,
)
from survey.storage import StorageError
from survey.storage.sessions import revoke_staff_session
from survey.storage.users import get_user
from survey.text import Text, render_error


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
#
# Two carriers of one kind of session: the `survey_session` cookie set by the light page
# /dang-nhap, or, for "sign in for this tab only" (the fallback form; AppTest), the token kept
# in this tab's session_state["auth"]. Both are server-side `StaffSession` rows, so both end
# the same way: sign-out, password change or reset, deactivation, idle time, 12 hours.

TAB_AUTH = "auth"


def sign_in(username: str) -> None:
    """Sign in for this browser tab only (the in-app fallback form): a server-side session
    like the cookie's, whose token this tab keeps (lost when the page reloads)."""
    with session() as db:
        token, _row = start_session(session=db, username=username)
        db.commit()
    st.session_state[TAB_AUTH] = {"token": token}


def _session_cookie() -> str | None:
    """The token of the `survey_session` cookie the browser sent with this page, if any."""
    try:
        return st.context.cookies.get(SESSION_COOKIE)
    except Exception:  # noqa: BLE001 - no browser context (bare script runs)
        return None


def _tab_token() -> str | None:
    auth = st.session_state.get(TAB_AUTH)
    return auth.get("token") if isinstance(auth, dict) else None


def client_address() -> str | None:
    """The network address of this page's browser as the server saw the connection."""
    try:
        return st.context.ip_address
    except Exception:  # noqa: BLE001 - no browser context
        return None


def sign_out() -> None:
    """Sign out: the server-side sessions of the cookie and of this tab (if any) are revoked
    and audited, the tab forgets them. The browser should then visit /dang-xuat to drop the
    cookie."""
    tokens = [token for token in (_session_cookie(), _tab_token()) if token]
    if tokens:
        with session() as db:
            for token in tokens:
                end_session(session=db, token=token)
            db.commit()
    st.session_state.pop(TAB_AUTH, None)


def _session_scope(token: str) -> Scope | None:
    """The scope of a server-side session (touched), or None when it ended."""
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


def _page_token() -> str | None:
    """The token that signed this page run in (cookie first, then the tab's)."""
    return st.session_state.get("_page_token")


def current_scope() -> Scope | None:
    """The signed-in user's scope, or None (not signed in, signed out, idle or too old,
    password changed, deactivated): the cookie's session first, then this tab's."""
    for token, from_tab in ((_session_cookie(), False), (_tab_token(), True)):
        if not token:
            continue
        scope = _session_scope(token)
        if scope is not None:
            st.session_state["_page_token"] = token
            return scope
        if from_tab:
            st.session_state.pop(TAB_AUTH, None)
    st.session_state.pop("_page_token", None)
    return None


def download(make: Callable[[], bytes | str]) -> Callable[[], bytes | str]:
    """The `data` of a download button: the file is made only when the button is clicked,
    and only while the session that drew the page is still valid (not signed out, not idle
    or too old, password unchanged, account and unit active). Otherwise nothing is delivered,
    however long the page has been open.

    Its button takes `on_click="ignore"`: a click that reran the page would register the
    page's files again under new ids, and a second button clicked during that rerun asked
    for an id already dropped ("Deferred file … not found": its download never came)."""
    token = _page_token()
    bound = engine()

    def deliver() -> bytes | str:
        with new_session(bound) as db:
            if signed_in_user(session=db, token=token) is None:
                raise AccessDenied("the session that opened this page has ended")
        return make()

    return deliver


def require_scope() -> Scope:
    """The scope for a page; stops the page when nobody is signed in."""
    scope = current_scope()
    if scope is None:
        st.warning(t("Vui lòng đăng nhập.", "Please sign in."))
        st.stop()
    return scope


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&\"'])")


def plain(text: object) -> str:
    """Text that users control (unit names, questionnaire titles, query parameters, error
    messages quoting them), made safe to put inside Streamlit's Markdown: every Markdown or
    Streamlit mark-up character is escaped and line breaks become spaces, so it shows as
    typed, never as a link, an image, a heading or a coloured directive."""
    flat = " ".join(str(text).splitlines())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def show_error(error: Exception) -> None:
    """A plain message for an error the user can act on, in the user's language (the domain's
    errors carry a message code and parameters; never a traceback); shown as text (it may
    quote what a user typed)."""
    st.error(plain(render_error(error, lang())))


def _no_right() -> None:
    st.title(t("Không có quyền", "Not allowed"))
    st.error(t("Tài khoản của bạn không có quyền mở trang này. Chọn một trang khác ở thanh bên.",
               "Your account may not open this page. Choose another page in the sidebar."))


# A chart Vega cannot fit to the page's width (the unit page's small multiples: a facet of
# fixed-width panels) scrolls sideways inside its own box on a phone, instead of widening the
# whole page (which then scrolled sideways and cut every other element at the screen's edge).
WIDE_CHART_STYLE = '[data-testid="stVegaLiteChart"]{max-width:100%;overflow-x:auto}'


def run_navigation() -> None:
    """Page config, language switch, sign-in, and navigation over pages/ by role.

    Every declared address resolves (no Streamlit "Page not found" dialog): signed out, each
    page's address shows the sign-in page, which sends the user back to it after signing in;
    signed in, a page the role may not open explains why; "/" goes to "Tổng quan"
    (and /tong-quan shows it too)."""
    st.set_page_config(page_title="Khảo sát CCHC", page_icon=PAGE_ICON, layout="wide")
    st.html(f"<style>{WIDE_CHART_STYLE}</style>")
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
        engine()  # the schema brought up to date; a database too new for this release refused
    except (SettingsError, StorageError) as error:
        st.error(render_error(error, lang()))
        st.stop()
    scope = current_scope()
    if scope is None:
        # The default page has the same address (so the same page hash) signed in and out:
        # a rerun that crosses a sign-in or a sign-out always finds its page.
        login = st.Page("pages/login.py", title=t("Đăng nhập", "Sign in"), url_path=DEFAULT_URL,
                        icon=":material/login:", default=True)
        aliases = [st.Page("pages/login.py", title=t("Đăng nhập", "Sign in"), url_path=spec.url,
                           icon=":material/login:") for spec in PAGES]
        chosen = st.navigation([login, *aliases], position="hidden")
        if chosen.url_path in {spec.url for spec in PAGES}:  # with its choices (?unit=…)
            query = urlencode(st.query_params.to_dict())
            st.session_state["requested_page"] = chosen.url_path + (f"?{query}" if query else "")
        chosen.run()
        return
    st.session_state.pop("requested_page", None)
    with st.sidebar:
        role = {"admin": t("quản trị", "admin"), "province": t("cấp tỉnh", "province"),
                "unit": t("cấp đơn vị", "unit")}.get(scope.role, scope.role)
        st.caption(t(f"Đăng nhập: **{plain(scope.username)}** ({role})",
                     f"Signed in: **{plain(scope.username)}** ({role})"))
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
        home = spec.url == HOME_URL
        page = st.Page(spec.path, title=t(spec.vi, spec.en), icon=spec.icon, default=home,
                       url_path=DEFAULT_URL if home else spec.url)
        sections.setdefault(title, []).append(page)
    # "Tổng quan" is the default page, served at "/" (Streamlit ignores a default page's
    # url_path); its declared address /tong-quan is a hidden alias of the same page.
    reports = sections.setdefault(t("Báo cáo", "Reports"), [])
    reports.append(st.Page("pages/home.py", title=t("Tổng quan", "Overview"), url_path=HOME_URL,
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
    """'[14,38; 15,01]', '[−1,09; −0,26]' (the minus of the changes beside it)."""
    from survey.formatting import format_interval

    return format_interval(low, high, decimals, lang())


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


def key_columns(*names: str) -> dict:
    """`column_config` pinning a wide table's key columns (the unit's or criterion's name) to
    its left edge, so on a phone they stay in view while the other columns scroll past."""
    return {name: st.column_config.Column(pinned=True, width="medium") for name in names}


# --- file uploads -------------------------------------------------------------------------------


def _css_text(text: str) -> str:
    """A CSS string literal holding `text`."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def upload_file(label: str, types: list[str], key: str, *, max_mb: int | None = None,
           help: str | None = None, disabled: bool = False):
    """`st.file_uploader` whose limit is the product's own (`max_mb`, else the server's
    `server.maxUploadSize`), stated in the help. In a Vietnamese session Streamlit's own
    English texts ("Upload", "20MB per file • CSV", "Drag and drop a file here") are drawn in
    Vietnamese by a small style scoped to this uploader (its `st-key-…` class); in an English
    session Streamlit's texts stay."""
    limit = max_mb or int(st.get_option("server.maxUploadSize"))
    kinds = ", ".join(kind.upper() for kind in types)
    stated = t(f"Tối đa {limit} MB mỗi tệp • {kinds}", f"Up to {limit} MB per file • {kinds}")
    if lang() == "vi":
        scope = f'.st-key-{key} [data-testid="stFileUploaderDropzone"]'
        replaced = {  # Streamlit's text (hidden, also from innerText) → ours, drawn after it
            f'{scope} [data-testid="stFileUploaderDropzoneInstructions"] span': (stated, ".875rem"),
            f"{scope} > input + div": ("Thả tệp vào đây", "1rem"),  # shown while dragging
        }
        # The button's label is drawn by its container, its own paragraph removed: the
        # button's accessible name is then "Chọn tệp" too (a hidden element's ::after is not
        # part of a name).
        button = f'{scope} button [data-testid="stMarkdownContainer"]'
        st.html("<style>" + "".join(
            f"{where}{{visibility:hidden;font-size:0}}"
            f"{where}::after{{visibility:visible;font-size:{size};content:{_css_text(text)}}}"
            for where, (text, size) in replaced.items())
            + f"{button} p{{display:none}}"
            + f"{button}::after{{font-size:.875rem;content:{_css_text('Chọn tệp')}}}"
            + "</style>")
    return st.file_uploader(label, type=types, key=key, max_upload_size=limit,
                            help=help or stated, disabled=disabled)
