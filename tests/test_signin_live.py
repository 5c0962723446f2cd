"""Sign-in under attack, through the real server (`streamlit run survey_app.py`) with real
concurrent requests, on SQLite and PostgreSQL: the delay is reserved atomically, password
hashing is bounded (429, Vietnamese), the client address comes from the connection unless
SURVEY_TRUST_PROXY=1, and the staff app sends security headers and hides its metrics."""

from __future__ import annotations

import html
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from http.cookiejar import CookieJar

import pytest
from conftest import POSTGRES_URL
from live_server import LiveServer, open_form_campaign
from sqlalchemy import update
from sqlmodel import SQLModel, select

from survey.auth import create_user
from survey.bootstrap import initialise
from survey.db import make_engine, new_session
from survey.models import AuditEntry, LoginAttempt, utcnow
from survey.storage.organisations import add_organisation

SECRET = "signin-live-test-secret"
PASSWORD = "correct horse battery"
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'live.db'}"
    else:
        url = POSTGRES_URL
        engine = make_engine(url)
        SQLModel.metadata.drop_all(engine)
        engine.dispose()
    engine = make_engine(url)
    initialise(engine, load_demo=False)
    with new_session(engine) as session:
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        create_user(session=session, username="admin", role="admin", organisation_code=None,
                    password=PASSWORD)
        session.commit()
    engine.dispose()
    return url


class Browser:
    """One client with its own cookies (CSRF cookie of the sign-in form)."""

    def __init__(self, base_url: str, forwarded_for: str | None = None):
        self.base_url = base_url
        self.forwarded_for = forwarded_for
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect)

    def _headers(self) -> dict[str, str]:
        return {"X-Forwarded-For": self.forwarded_for} if self.forwarded_for else {}

    def request(self, path: str, data: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, headers=self._headers())
        try:
            with self.opener.open(request, timeout=60) as answer:
                return answer.status, _lower(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, _lower(error.headers), error.read().decode()

    def form_token(self) -> str:
        status, _headers, page = self.request("/dang-nhap")
        assert status == 200
        return html.unescape(re.search(r'name="csrf" value="([^"]*)"', page).group(1))

    def sign_in(self, username: str, password: str, token: str | None = None):
        return self.request("/dang-nhap", {"csrf": token or self.form_token(), "lang": "vi",
                                           "username": username, "password": password})


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def simultaneously(calls) -> list:
    """Run every call in its own thread, all released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def failures_audited(url: str) -> int:
    engine = make_engine(url)
    with new_session(engine) as session:
        count = len(list(session.exec(select(AuditEntry).where(
            AuditEntry.action == "login_failed"))))
    engine.dispose()
    return count


def test_simultaneous_guesses_after_a_delay_get_one_password_check(database_url, tmp_path):
    """A delay has just run out: of 20 guesses sent at once, exactly one is checked; the
    other 19 see its reserved attempt and wait (429). Before the fix each read the same
    count and most of them were checked."""
    with LiveServer(database_url, tmp_path, SECRET) as server:
        # this address fails once on the account (through the server, so it is remembered)
        browser = Browser(server.base_url)
        assert browser.sign_in("admin", "wrong password one")[0] == 401
        # ...and the account has 5 older failures: 6 in all, the last an hour ago (the
        # 16 s delay has run out), so the next attempt may go, and only that one
        engine = make_engine(database_url)
        with new_session(engine) as session:
            hour_ago = utcnow() - timedelta(hours=1)
            session.exec(update(LoginAttempt).values(at=hour_ago))
            for _ in range(5):
                session.add(LoginAttempt(username="admin", succeeded=False,
                                         at=hour_ago - timedelta(minutes=1)))
            session.commit()
        engine.dispose()
        before = failures_audited(database_url)
        tokens = [browser.form_token() for _ in range(20)]
        results = simultaneously([
            (lambda i=i, token=token: browser.sign_in("admin", f"guess number {i:02d}", token))
            for i, token in enumerate(tokens)
        ])
    statuses = sorted(status for status, _headers, _page in results)
    assert statuses == [401] + [429] * 19
    assert failures_audited(database_url) - before == 1
    waited = [page for status, _h, page in results if status == 429]
    assert all("Đăng nhập sai nhiều lần. Vui lòng thử lại sau" in page for page in waited)


def test_hashing_is_bounded_and_excess_attempts_get_a_vietnamese_429(database_url, tmp_path):
    """20 attempts at once from 20 addresses (behind a trusted proxy, so no address is
    throttled), on unknown and known names: one hashing slot, so those that find it taken
    are answered 429 at once, with nothing counted against anyone; the rest are checked."""
    extra = {"SURVEY_TRUST_PROXY": "1", "SURVEY_LOGIN_HASH_SLOTS": "1"}
    server = LiveServer(database_url, tmp_path, SECRET, extra_env=extra)
    with server:
        browsers = [Browser(server.base_url, forwarded_for=f"203.0.113.{i}") for i in range(20)]
        tokens = [b.form_token() for b in browsers]
        names = [("admin" if i % 2 else f"nobody{i}") for i in range(20)]
        results = simultaneously([
            (lambda b=b, token=token, name=name: b.sign_in(name, "not the password", token))
            for b, token, name in zip(browsers, tokens, names, strict=True)
        ])
    statuses = [status for status, _headers, _page in results]
    busy = [page for status, _h, page in results if status == 429]
    assert set(statuses) <= {401, 429}
    assert busy, statuses  # 20 at once cannot all find the single slot free
    assert all("Đang có nhiều lượt đăng nhập cùng lúc" in page for page in busy)
    assert all(h.get("retry-after") for s, h, _p in results if s == 429)
    # every attempt answered 401 was hashed and audited; a 429 left no trace
    assert failures_audited(database_url) == statuses.count(401)


def test_the_client_address_is_the_connection_unless_the_proxy_is_trusted(database_url, tmp_path):
    """X-Forwarded-For from 127.0.0.1 does not change the address the flood limit sees
    (SURVEY_TRUST_PROXY unset); with SURVEY_TRUST_PROXY=1 it does."""
    _campaign, path = open_form_campaign(database_url, SECRET)
    outcomes = {}
    for trusted in ("0", "1"):
        server = LiveServer(database_url, tmp_path / trusted, SECRET,
                            extra_env={"SURVEY_FLOOD_PER_MINUTE": "3",
                                       "SURVEY_TRUST_PROXY": trusted})
        with server:
            statuses = []
            for i in range(5):  # five posts, each claiming another address
                browser = Browser(server.base_url, forwarded_for=f"198.51.100.{i}")
                statuses.append(browser.request(path + "/gui", {"k": "x"})[0])
        outcomes[trusted] = statuses
    assert outcomes["0"].count(429) == 2  # one address: the 4th and 5th post are a flood
    assert 429 not in outcomes["1"]  # five addresses behind a trusted proxy


def test_staff_pages_send_security_headers_and_metrics_are_not_public(database_url, tmp_path):
    with LiveServer(database_url, tmp_path, SECRET) as server:
        browser = Browser(server.base_url)
        status, headers, _page = browser.request("/")
        metrics_status, _h, metrics = browser.request("/_stcore/metrics")
        login_status, login_headers, _p = browser.request("/dang-nhap")
    assert status == 200
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["content-security-policy"] == "frame-ancestors 'self'"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert metrics_status == 404 and "streamlit" not in metrics.lower()
    # the sign-in page keeps its own stricter policy
    assert login_status == 200 and "frame-ancestors 'none'" in login_headers["content-security-policy"]

