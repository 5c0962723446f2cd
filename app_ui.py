"""The one thin helper between Streamlit pages and the `survey` package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from survey.bootstrap import initialise
from survey.config import settings
from survey.db import new_session, shared_engine

PAGES = (
    ("pages/home.py", "Tổng quan", "Overview", "tong-quan", ":material/home:"),
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


def run_navigation() -> None:
    """Page config, language switch and navigation over pages/."""
    st.set_page_config(page_title="Khảo sát CCHC", page_icon=":material/ballot:", layout="wide")
    with st.sidebar:
        st.radio(
            "Ngôn ngữ / Language",
            options=["vi", "en"],
            format_func=lambda code: {"vi": "Tiếng Việt", "en": "English"}[code],
            horizontal=True,
            key="lang",
        )
    pages = [
        st.Page(path, title=t(vi, en), url_path=url, icon=icon, default=(i == 0))
        for i, (path, vi, en, url, icon) in enumerate(PAGES)
    ]
    st.navigation(pages).run()
