"""The one thin helper between Streamlit pages and the `survey` package."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from survey.auth import Scope, scope_of
from survey.bootstrap import initialise
from survey.config import settings
from survey.db import new_session, shared_engine
from survey.storage.users import get_user

SESSION_IDLE_SECONDS = int(os.environ.get("SURVEY_SESSION_MINUTES", "60")) * 60


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
    """Vietnamese text, or its English translation when English is chosen."""
    return en if lang() == "en" else vi


# --- signed-in user -----------------------------------------------------------------------


def sign_in(username: str) -> None:
    st.session_state["auth"] = {"username": username, "last_seen": time.time()}


def sign_out() -> None:
    st.session_state.pop("auth", None)


def current_scope() -> Scope | None:
    """The signed-in user's scope, or None (not signed in, idle too long, or deactivated)."""
    auth = st.session_state.get("auth")
    if not auth:
        return None
    now = time.time()
    if now - auth["last_seen"] > SESSION_IDLE_SECONDS:
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
    """A plain message for an error the user can act on (never a traceback)."""
    st.error(str(error))


def run_navigation() -> None:
    """Page config, language switch, sign-in, and navigation over pages/ by role."""
    st.set_page_config(page_title="Khảo sát CCHC", page_icon=":material/ballot:", layout="wide")
    with st.sidebar:
        st.radio(
            "Ngôn ngữ / Language",
            options=["vi", "en"],
            format_func=lambda code: {"vi": "Tiếng Việt", "en": "English"}[code],
            horizontal=True,
            key="lang",
        )
    scope = current_scope()
    if scope is None:
        login = st.Page("pages/login.py", title=t("Đăng nhập", "Sign in"), url_path="dang-nhap",
                        icon=":material/login:", default=True)
        st.navigation([login], position="hidden").run()
        return
    with st.sidebar:
        st.caption(t(f"Đăng nhập: **{scope.username}** ({scope.role})",
                     f"Signed in: **{scope.username}** ({scope.role})"))
        if st.button(t("Đăng xuất", "Sign out"), icon=":material/logout:"):
            sign_out()
            st.rerun()
    sections: dict[str, list] = {}
    first = True
    for spec in PAGES:
        if spec.right and not scope.can_manage(spec.right):
            continue
        title = t("Báo cáo", "Reports") if spec.section == "report" else t("Quản trị", "Administration")
        sections.setdefault(title, []).append(
            st.Page(spec.path, title=t(spec.vi, spec.en), url_path=spec.url, icon=spec.icon,
                    default=first)
        )
        first = False
    st.navigation(sections).run()
