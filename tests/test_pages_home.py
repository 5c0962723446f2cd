"""The home page, through the entry script (AppTest), on a demo database and on an empty one."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit
from sqlalchemy import func
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from survey.auth import create_user
from survey.db import create_schema, make_engine, new_session, shared_engine
from survey.models import Response

ROOT = Path(__file__).resolve().parent.parent
QUARTERS = [f"Quý {q}/{year}" for year in (2023, 2024) for q in (1, 2, 3, 4)]  # as people read them
USERNAME, PASSWORD = "admin", "mat-khau-thu-nghiem"
TITLE_VI = "Khảo sát sự hài lòng và chỉ số cải cách hành chính"
TITLE_EN = "Satisfaction survey and administrative-reform index"


def _database_with_admin(path: Path) -> str:
    """A database with the schema and one admin account, nothing else (the app does the rest)."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        create_schema(engine)
        with new_session(engine) as session:
            create_user(session=session, username=USERNAME, role="admin", organisation_code=None,
                        password=PASSWORD)
            session.commit()
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    """Shared by this module: the first app run loads the demo into it (about 7 s), once."""
    return _database_with_admin(tmp_path_factory.mktemp("home-demo") / "survey.db")


@pytest.fixture(autouse=True)
def fresh_app_state(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SURVEY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SURVEY_SECRET", "test-secret-not-for-production")
    streamlit.cache_resource.clear()
    shared_engine.cache_clear()
    yield
    streamlit.cache_resource.clear()
    shared_engine.cache_clear()


def signed_in_app(url: str, *, demo: bool, monkeypatch) -> AppTest:
    monkeypatch.setenv("SURVEY_DATABASE_URL", url)
    monkeypatch.setenv("SURVEY_DEMO", "1" if demo else "0")
    at = AppTest.from_file(str(ROOT / "survey_app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    at.text_input[0].input(USERNAME)
    at.text_input[1].input(PASSWORD)
    at.button[0].click()
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == [TITLE_VI]
    # AppTest drops the first widget change after the sign-in's st.rerun(): settle first.
    at.run()
    return at


def db_responses(url: str) -> int:
    engine = make_engine(url)
    try:
        with new_session(engine) as session:
            return session.exec(select(func.count()).select_from(Response)).one()
    finally:
        engine.dispose()


def test_sign_in_is_asked_first(demo_url, monkeypatch):
    monkeypatch.setenv("SURVEY_DATABASE_URL", demo_url)
    at = AppTest.from_file(str(ROOT / "survey_app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert TITLE_VI not in [t.value for t in at.title]
    assert len(at.metric) == 0


def test_metrics_match_the_database(demo_url, monkeypatch):
    at = signed_in_app(demo_url, demo=True, monkeypatch=monkeypatch)
    metrics = {m.label: m.value for m in at.metric}
    responses = db_responses(demo_url)
    assert responses > 10_000
    # the Vietnamese thousands separator: 19.386, not 19386
    assert metrics == {"Đơn vị": "12", "Phiên bản phiếu": "3",
                       "Phiếu đã nhận": f"{responses:,}".replace(",", ".")}


def test_responses_per_quarter_table(demo_url, monkeypatch):
    at = signed_in_app(demo_url, demo=True, monkeypatch=monkeypatch)
    per_quarter = next(d.value for d in at.dataframe if "Quý 4/2024" in d.value.columns)
    assert len(per_quarter) == 12
    assert [c for c in per_quarter.columns if c.startswith("Quý")] == QUARTERS
    assert not [c for c in per_quarter.columns if "-Q" in c]  # no raw period codes
    assert int(per_quarter[QUARTERS].to_numpy().sum()) == db_responses(demo_url)
    assert (per_quarter[QUARTERS] > 0).all().all()


def test_english(demo_url, monkeypatch):
    at = signed_in_app(demo_url, demo=True, monkeypatch=monkeypatch)
    at.sidebar.radio[0].set_value("en")
    at.run()
    assert not at.exception
    assert at.session_state["lang"] == "en"
    assert [t.value for t in at.title] == [TITLE_EN]
    assert {m.label for m in at.metric} == {"Units", "Questionnaire versions",
                                            "Responses received"}
    responses = db_responses(demo_url)
    assert {m.label: m.value for m in at.metric}["Responses received"] == f"{responses:,}"
    per_quarter = next(d.value for d in at.dataframe if "Q4 2024" in d.value.columns)
    assert "Q1 2023" in per_quarter.columns


def test_empty_database_shows_the_empty_state(tmp_path, monkeypatch):
    url = _database_with_admin(tmp_path / "empty.db")
    at = signed_in_app(url, demo=False, monkeypatch=monkeypatch)
    assert db_responses(url) == 0
    assert {m.label: m.value for m in at.metric} == {
        "Đơn vị": "0", "Phiên bản phiếu": "3", "Phiếu đã nhận": "0"}
    infos = [i.value for i in at.info]
    assert any(text.startswith("Chưa có phiếu trả lời nào") for text in infos), infos
    # the next step in the page's own terms, not a command line
    assert any("trang «Đơn vị»" in text for text in infos), infos
    assert not any("survey unit" in text for text in infos), infos


def test_a_database_upgraded_by_a_newer_release_is_named_on_the_page(tmp_path, monkeypatch):
    from sqlalchemy import text

    from survey.db import create_schema

    url = f"sqlite:///{tmp_path / 'newer.db'}"
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_newer'"))
    engine.dispose()
    monkeypatch.setenv("SURVEY_DATABASE_URL", url)
    monkeypatch.setenv("SURVEY_DEMO", "0")
    at = AppTest.from_file(str(ROOT / "survey_app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert "phiên bản mới hơn của phần mềm" in error and "0099_newer" in error
    assert len(at.text_input) == 0  # no sign-in form on a database it cannot read
