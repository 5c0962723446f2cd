"""A real browser against the real app: sign in on /dang-nhap, stay signed in across a
reload and a second tab, sign out.

Starts `streamlit run survey_app.py` (tests/live_server.py) on a free port with a
temporary SQLite file and drives headless Chromium (Playwright). Skipped only on a
machine without /usr/bin/chromium that is not CI.
"""

from __future__ import annotations

import re

import pytest
from live_server import BROWSER_TEST, LiveServer
from sqlmodel import select

from survey.auth import create_user
from survey.bootstrap import initialise
from survey.db import make_engine, new_session
from survey.models import StaffSession
from survey.sessions import COOKIE_NAME, hash_token
from survey.storage.audit import read_audit

SECRET = "browser-staff-test-secret"
USERNAME, PASSWORD = "canbo.hg", "mat khau du dai 2024"
TIMEOUT_MS = 60_000

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The running app over a fresh SQLite file holding one admin account; (server, engine)."""
    folder = tmp_path_factory.mktemp("browser-staff")
    url = f"sqlite:///{folder / 'survey.db'}"
    engine = make_engine(url)
    initialise(engine, load_demo=False)
    with new_session(engine) as session:
        create_user(session=session, username=USERNAME, role="admin", organisation_code=None,
                    password=PASSWORD)
        session.commit()
    server = LiveServer(database_url=url, folder=folder, secret=SECRET)
    with server:
        yield server, engine
    engine.dispose()


def sidebar_shows_user(page) -> None:
    """Wait until the Streamlit sidebar names the signed-in user."""
    page.locator('[data-testid="stSidebar"]').get_by_text(USERNAME).first.wait_for(
        timeout=TIMEOUT_MS)


def test_sign_in_survives_a_reload_and_a_second_tab_then_sign_out(app, browser):
    server, engine = app
    base = server.base_url
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        # The light sign-in page, then the Streamlit home page, signed in.
        response = page.goto(f"{base}/dang-nhap")
        assert response.status == 200
        assert page.locator("h1").inner_text() == "Đăng nhập cán bộ"
        page.fill("#username", USERNAME)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        sidebar_shows_user(page)

        [cookie] = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        with new_session(engine) as session:
            [row] = list(session.exec(select(StaffSession)))
        assert row.username == USERNAME and row.token_hash == hash_token(cookie["value"])

        # Reload: still signed in (the cookie's server-side session, not the tab's state).
        page.reload()
        sidebar_shows_user(page)
        assert page.locator("#staff-login-link").count() == 0

        # A second tab is signed in too.
        second = context.new_page()
        second.set_default_timeout(TIMEOUT_MS)
        second.goto(f"{base}/")
        sidebar_shows_user(second)
        second.close()

        # Sign out from the sidebar: revoked server-side, then /dang-xuat drops the cookie.
        page.locator('[data-testid="stSidebar"]').get_by_role(
            "button", name=re.compile("Đăng xuất")).click()
        page.wait_for_url(re.compile(r"/dang-nhap$"))
        assert page.locator("h1").inner_text() == "Đăng nhập cán bộ"
        assert [c for c in context.cookies() if c["name"] == COOKIE_NAME] == []
        with new_session(engine) as session:
            [row] = list(session.exec(select(StaffSession)))
            assert row.revoked_at is not None
            actions = read_audit(session=session, username=USERNAME)["action"].tolist()
        assert actions.count("logout") == 1 and actions.count("login") == 1

        # The app itself now shows the sign-in link, not the user.
        page.goto(f"{base}/")
        link = page.locator("#staff-login-link")
        link.wait_for(timeout=TIMEOUT_MS)
        assert link.get_attribute("href") == "/dang-nhap"
        assert link.inner_text() == "Đăng nhập"
        assert page.locator('[data-testid="stSidebar"]').get_by_text(USERNAME).count() == 0
        link.click()
        page.wait_for_url(f"{base}/dang-nhap")
    finally:
        context.close()


def test_a_signed_out_deep_link_signs_in_then_returns_to_the_page(app, browser):
    """Issue 12.7: no Streamlit "Page not found" dialog on a deep link when signed out; the
    sign-in page leads back to the page asked for; /tong-quan (the declared address of
    "Tổng quan") shows the overview."""
    server, _engine = app
    base = server.base_url
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{base}/diem-don-vi")
        link = page.locator("#staff-login-link")
        link.wait_for()
        assert link.get_attribute("href") == "/dang-nhap?next=/diem-don-vi"
        assert page.get_by_text("Page not found").count() == 0
        link.click()
        page.fill("#username", USERNAME)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/diem-don-vi")
        page.get_by_role("heading", name="Điểm khảo sát của đơn vị").wait_for()
        page.goto(f"{base}/tong-quan")
        page.get_by_role("heading", name="Khảo sát sự hài lòng và chỉ số cải cách hành chính"
                         ).wait_for()
        assert page.get_by_text("Page not found").count() == 0
    finally:
        context.close()
