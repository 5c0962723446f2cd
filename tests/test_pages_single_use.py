"""Single-use links on the pages (AppTest on a copy of the demo province): issued from the QR
page, and the unit page's exact response rate with its Wilson interval."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from tab_session import open_signed_in

from survey.auth import create_user
from survey.db import make_engine, new_session, shared_engine
from survey.links import read_token
from survey.single_use import issue_single_use_links, wilson_interval
from survey.storage.single_use_links import claim_links, link_counts
from survey.storage.users import get_user

APP = str(Path(__file__).resolve().parent.parent / "survey_app.py")


@pytest.fixture(scope="module")
def app_url(demo_url, tmp_path_factory):
    path = tmp_path_factory.mktemp("single_use") / "app.db"
    shutil.copy(demo_url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    with new_session(make_engine(url)) as session:
        if get_user(session=session, username="admin") is None:
            create_user(session=session, username="admin", role="admin", organisation_code=None,
                        password="a long enough password")
        session.commit()
    return url


@pytest.fixture
def open_page(app_url, monkeypatch):
    monkeypatch.setenv("SURVEY_DATABASE_URL", app_url)
    monkeypatch.setenv("SURVEY_DEMO", "0")
    monkeypatch.setenv("SURVEY_SECRET", "test-secret-not-for-production")
    st.cache_resource.clear()
    shared_engine.cache_clear()

    def opened(page: str, query: dict | None = None) -> AppTest:
        return open_signed_in(page, "admin", query, app_url)

    yield opened
    st.cache_resource.clear()
    shared_engine.cache_clear()


def test_wilson_interval_matches_the_published_values():
    # Newcombe (1998), table I: 81/263 → 0.2553–0.3662; 15/148 → 0.0624–0.1605; 0/20 → 0–0.1611
    low, high = wilson_interval([81, 15, 0], [263, 148, 20])
    assert [round(v, 4) for v in low] == [0.2553, 0.0624, 0.0]
    assert [round(v, 4) for v in high] == [0.3662, 0.1605, 0.1611]


def test_qr_page_issues_anonymous_links(open_page, app_url):
    engine = make_engine(app_url)
    with new_session(engine) as session:
        before = sum(issued for issued, _used in link_counts(session=session).values())
    at = open_page("pages/qr.py")
    [count] = [n for n in at.number_input if "đường dẫn không gắn hồ sơ" in n.label]
    count.set_value(4)
    at.radio[0].set_value("csv")
    [issue] = [b for b in at.button if b.label == "Tạo đường dẫn"]
    issue.click().run()
    assert not at.exception, at.exception
    with new_session(engine) as session:
        after = sum(issued for issued, _used in link_counts(session=session).values())
    assert after - before == 4
    engine.dispose()


def test_unit_page_shows_links_issued_answered_and_the_rate(open_page, app_url, monkeypatch):
    monkeypatch.setenv("SURVEY_SECRET", "test-secret-not-for-production")
    engine = make_engine(app_url)
    with new_session(engine) as session:
        issued = issue_single_use_links(session=session, actor="test", unit_code="HG03", period="2024-Q4",
                                        questionnaire="dtxhh-haugiang@2024", count=10)
        campaign_id = issued.campaign.campaign.id
        link_ids = [read_token(link.url.rsplit("/", 1)[1]).link_id for link in issued.links]
        assert claim_links(session=session,
                           links=[(i, campaign_id) for i in link_ids[:7]]) == set(link_ids[:7])
        session.commit()
    engine.dispose()
    at = open_page("pages/unit.py", query={"unit": "HG03", "period": "2024-Q4"})
    tables = [frame.value for frame in at.dataframe]
    [rates] = [table for table in tables if "Đã phát" in table.columns]
    row = rates.iloc[0].to_dict()
    assert row["Đã phát"] == "10" and row["Đã trả lời"] == "7"
    assert row["Tỷ lệ phản hồi (%)"] == "70,0"
    assert row["KTC 95% (Wilson, %)"] == "[39,7; 89,2]"  # 7/10: 0.3968–0.8922 by hand
