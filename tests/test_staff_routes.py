"""The light staff sign-in pages through Starlette's TestClient (on SQLite and PostgreSQL):
cookies, generic failures, throttling, one-time passwords, sign-out, CSRF, escaping, audit."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest
from tab_session import tab_auth

from survey.auth import create_user, verify_password
from survey.db import new_session, shared_engine
from survey.login_guard import HashingGate, SignInGuard
from survey.models import LoginAttempt, StaffSession
from survey.sessions import COOKIE_NAME, SessionPolicy, hash_token, resume_session
from survey.storage.audit import read_audit
from survey.storage.organisations import add_organisation
from survey.storage.users import get_user, set_user_active
from survey.webform.staff_routes import CSRF_COOKIE, CSRF_MAX_AGE, StaffService, staff_routes

SECRET = b"staff-routes-test-secret"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
POLICY = SessionPolicy(idle=timedelta(minutes=60), lifetime=timedelta(hours=12))
WRONG_VI = "Sai tên đăng nhập hoặc mật khẩu."


def make_client(engine, *, base_url: str = "http://testserver", **options) -> TestClient:
    """A client of fresh sign-in routes (their own per-address memory and hashing gate)."""
    options = {"guard": SignInGuard(), "gate": HashingGate(2), **options}
    app = Starlette(routes=staff_routes(engine=engine, secret=SECRET, policy=POLICY, **options))
    return TestClient(app, base_url=base_url, follow_redirects=False,
                      raise_server_exceptions=False)


@pytest.fixture
def users(engine):
    """Unit HG01; `cuc` with a known password, `moi` with a one-time password (returned)."""
    with new_session(engine) as session:
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        add_organisation(session=session, code="HG01", name="Cục A", parent_code="HG")
        create_user(session=session, username="cuc", role="unit", organisation_code="HG01",
                    password=PASSWORD)
        _user, one_time = create_user(session=session, username="moi", role="unit",
                                      organisation_code="HG01")
        session.commit()
    return {"cuc": PASSWORD, "moi": one_time}


@pytest.fixture
def client(engine, users):
    with make_client(engine) as opened:
        yield opened


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name!r}"
    return html.unescape(found.group(1))


def sign_in(client: TestClient, username: str, password: str, *, lang: str = "vi"):
    """GET the form (CSRF cookie + token), then POST the credentials."""
    page = client.get("/dang-nhap", params={"lang": lang} if lang == "en" else None)
    assert page.status_code == 200
    return client.post("/dang-nhap", data={"csrf": hidden(page.text, "csrf"), "lang": lang,
                                           "username": username, "password": password})


def set_cookie_headers(response) -> list[str]:
    return response.headers.get_list("set-cookie")


def session_cookie_header(response) -> str:
    found = [h for h in set_cookie_headers(response) if h.startswith(f"{COOKIE_NAME}=")]
    assert len(found) == 1, set_cookie_headers(response)
    return found[0]


def stored_sessions(engine) -> list[StaffSession]:
    with new_session(engine) as session:
        return list(session.exec(select(StaffSession)))


def audit_actions(engine, username: str | None = None) -> list[str]:
    with new_session(engine) as session:
        return read_audit(session=session, username=username)["action"].tolist()[::-1]


# --- the form -----------------------------------------------------------------------------


def test_the_form_is_vietnamese_first_light_and_locked_down(client):
    page = client.get("/dang-nhap")
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text
    assert "Đăng nhập cán bộ" in page.text and "Tên đăng nhập" in page.text
    assert "<script" not in page.text
    assert len(page.content) < 20_000
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    csrf = next(h for h in set_cookie_headers(page) if h.startswith(f"{CSRF_COOKIE}="))
    assert "HttpOnly" in csrf and "SameSite=strict" in csrf and "Path=/dang-nhap" in csrf
    assert "survey user add admin" not in page.text  # accounts exist


def test_english_on_request(client):
    page = client.get("/dang-nhap", params={"lang": "en"})
    assert '<html lang="en">' in page.text and "Staff sign-in" in page.text
    assert 'name="lang" value="en"' in page.text


def test_first_admin_hint_when_no_account_exists(engine):
    with make_client(engine) as fresh:
        page = fresh.get("/dang-nhap")
    assert "survey user add admin --role admin" in page.text


# --- signing in ---------------------------------------------------------------------------


def test_good_sign_in_sets_a_strict_httponly_cookie_and_goes_home(client, engine):
    response = sign_in(client, "cuc", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    header = session_cookie_header(response)
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header
    assert "Secure" not in header  # plain http here
    token = client.cookies.get(COOKIE_NAME)
    [row] = stored_sessions(engine)
    assert row.username == "cuc" and row.token_hash == hash_token(token)
    assert token not in str(row.model_dump())  # only the hash is stored
    assert audit_actions(engine, "cuc") == ["login"]
    with new_session(engine) as session:
        assert resume_session(session=session, token=token, policy=POLICY).username == "cuc"


def test_the_cookie_is_secure_over_https(engine, users):
    with make_client(engine, base_url="https://testserver") as secure_client:
        response = sign_in(secure_client, "cuc", PASSWORD)
    assert response.status_code == 303
    assert "Secure" in session_cookie_header(response)


def test_behind_a_trusted_proxy_x_forwarded_proto_makes_it_secure(engine, users):
    with make_client(engine, trust_proxy=True) as proxied:
        page = proxied.get("/dang-nhap")
        response = proxied.post(
            "/dang-nhap", headers={"x-forwarded-proto": "https"},
            data={"csrf": hidden(page.text, "csrf"), "username": "cuc", "password": PASSWORD},
        )
    assert "Secure" in session_cookie_header(response)


def test_already_signed_in_goes_straight_home(client):
    sign_in(client, "cuc", PASSWORD)
    response = client.get("/dang-nhap")
    assert response.status_code == 303 and response.headers["location"] == "/"


@pytest.mark.parametrize(("username", "password"), [
    ("cuc", "wrong password!"),  # wrong password
    ("nobody", PASSWORD),  # unknown user
])
def test_failure_is_401_with_one_generic_message(client, engine, username, password):
    response = sign_in(client, username, password)
    assert response.status_code == 401
    assert WRONG_VI in response.text
    assert COOKIE_NAME not in response.headers.get("set-cookie", "")
    assert stored_sessions(engine) == []
    # an unknown name is audited as "?": what someone typed never reaches the audit log
    assert audit_actions(engine, username if username == "cuc" else "?") == ["login_failed"]
    assert audit_actions(engine, "nobody") == []
    assert f'value="{username}"' in response.text  # kept in the form for the next try


def test_wrong_password_and_unknown_user_pages_are_the_same(client):
    pages = [sign_in(client, name, "not the password") for name in ("cuc", "nobod")]
    texts = [re.sub(r'value="[^"]*"', "", page.text) for page in pages]
    assert texts[0] == texts[1]


def test_a_deactivated_account_gets_the_same_generic_refusal(client, engine):
    with new_session(engine) as session:
        set_user_active(session=session, user=get_user(session=session, username="cuc"),
                        active=False)
        session.commit()
    response = sign_in(client, "cuc", PASSWORD)
    assert response.status_code == 401 and WRONG_VI in response.text


def test_english_failure_message(client):
    response = sign_in(client, "cuc", "wrong password!", lang="en")
    assert response.status_code == 401
    assert "Wrong username or password." in response.text


def test_empty_fields_ask_for_both(client, engine):
    response = sign_in(client, "cuc", "")
    assert response.status_code == 422
    assert "Vui lòng nhập tên đăng nhập và mật khẩu." in response.text
    with new_session(engine) as session:
        assert list(session.exec(select(LoginAttempt))) == []


def test_repeated_failures_are_throttled_with_a_retry_time(client, engine):
    for _ in range(3):
        assert sign_in(client, "cuc", "wrong password!").status_code == 401
    response = sign_in(client, "cuc", PASSWORD)  # even the right password must wait
    assert response.status_code == 429
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 2
    assert f"Vui lòng thử lại sau {seconds} giây." in response.text
    assert COOKIE_NAME not in response.headers.get("set-cookie", "")
    assert stored_sessions(engine) == []
    assert audit_actions(engine, "cuc") == ["login_failed"] * 3  # a refused wait is no attempt


def test_the_username_is_echoed_html_escaped(client):
    nasty = '<script>alert("x")</script>'
    response = sign_in(client, nasty, "whatever password")
    assert response.status_code == 401
    assert "<script>" not in response.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in response.text


def test_an_overlong_username_is_refused_without_an_attempt(client, engine):
    response = sign_in(client, "u" * 500, PASSWORD)
    assert response.status_code == 401 and WRONG_VI in response.text
    with new_session(engine) as session:
        assert list(session.exec(select(LoginAttempt))) == []


# --- cross-site request forgery -----------------------------------------------------------


def test_a_post_without_the_csrf_cookie_is_refused_and_not_counted(engine, users):
    with make_client(engine) as other_site:
        page = other_site.get("/dang-nhap")
        token = hidden(page.text, "csrf")
        other_site.cookies.clear()  # a cross-site POST carries no SameSite=Strict cookie
        response = other_site.post("/dang-nhap", data={"csrf": token, "username": "cuc",
                                                       "password": PASSWORD})
    assert response.status_code == 403
    assert "cookie" in response.text
    assert COOKIE_NAME not in response.headers.get("set-cookie", "")
    with new_session(engine) as session:
        assert list(session.exec(select(LoginAttempt))) == []


@pytest.mark.parametrize("token", ["", "forged", "123.abc", None])
def test_a_bad_form_token_is_refused(client, engine, token):
    client.get("/dang-nhap")
    data = {"username": "cuc", "password": PASSWORD}
    if token is not None:
        data["csrf"] = token
    response = client.post("/dang-nhap", data=data)
    assert response.status_code == 403
    assert stored_sessions(engine) == []


def test_a_form_token_expires(client, engine):
    client.get("/dang-nhap")
    nonce = client.cookies.get(CSRF_COOKIE)
    service = StaffService(engine=engine, secret=SECRET, policy=POLICY)
    old = service.csrf_token(nonce, issued=int(time.time()) - CSRF_MAX_AGE - 5)
    fresh = service.csrf_token(nonce)
    data = {"username": "cuc", "password": PASSWORD}
    assert client.post("/dang-nhap", data={**data, "csrf": old}).status_code == 403
    assert client.post("/dang-nhap", data={**data, "csrf": fresh}).status_code == 303


def test_a_token_of_another_browser_is_refused(engine, users):
    with make_client(engine) as mine, make_client(engine) as theirs:
        mine.get("/dang-nhap")
        their_token = hidden(theirs.get("/dang-nhap").text, "csrf")
        response = mine.post("/dang-nhap", data={"csrf": their_token, "username": "cuc",
                                                 "password": PASSWORD})
    assert response.status_code == 403


@pytest.mark.parametrize(("content", "content_type"), [
    ("username=cuc&username=x&password=p&csrf=x", "application/x-www-form-urlencoded"),
    ('{"username": "cuc"}', "application/json"),
    ("username=" + "u" * 20_000, "application/x-www-form-urlencoded"),
])
def test_malformed_posts_are_400(client, content, content_type):
    client.get("/dang-nhap")
    response = client.post("/dang-nhap", content=content, headers={"content-type": content_type})
    assert response.status_code == 400
    assert "Yêu cầu không hợp lệ." in response.text


# --- one-time passwords -------------------------------------------------------------------


def test_a_one_time_password_asks_for_a_new_password_before_any_session(client, engine, users):
    response = sign_in(client, "moi", users["moi"])
    assert response.status_code == 200
    assert "Đặt mật khẩu mới" in response.text
    assert 'action="/dang-nhap/doi-mat-khau"' in response.text
    assert COOKIE_NAME not in response.headers.get("set-cookie", "")
    assert stored_sessions(engine) == []
    form = {name: hidden(response.text, name) for name in ("csrf", "lang", "username", "ticket")}

    def change(first: str, second: str):
        return client.post("/dang-nhap/doi-mat-khau",
                           data={**form, "new_password": first, "repeat_password": second})

    mismatch = change(NEW_PASSWORD, NEW_PASSWORD + "x")
    assert mismatch.status_code == 422 and "Hai mật khẩu không khớp." in mismatch.text
    short = change("short", "short")
    assert short.status_code == 422 and "ít nhất 10 ký tự" in short.text
    same = change(users["moi"], users["moi"])
    assert same.status_code == 422 and "phải khác mật khẩu dùng một lần" in same.text
    assert stored_sessions(engine) == []

    done = change(NEW_PASSWORD, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "HttpOnly" in session_cookie_header(done)
    [row] = stored_sessions(engine)
    assert row.username == "moi" and row.token_hash == hash_token(client.cookies.get(COOKIE_NAME))
    with new_session(engine) as session:
        user = get_user(session=session, username="moi")
        assert not user.must_change_password and verify_password(user.password_hash, NEW_PASSWORD)
    assert audit_actions(engine, "moi") == ["login", "password_changed"]
    # The ticket worked once: replaying the form is refused.
    replay = change("yet another password", "yet another password")
    assert replay.status_code == 403 and "Đã hết thời gian đặt mật khẩu mới." in replay.text


def test_a_forged_ticket_or_another_users_name_is_refused(client, engine, users):
    response = sign_in(client, "moi", users["moi"])
    form = {name: hidden(response.text, name) for name in ("csrf", "lang", "username", "ticket")}
    good = {"new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
    forged = client.post("/dang-nhap/doi-mat-khau",
                         data={**form, **good, "ticket": form["ticket"][:-2] + "AA"})
    assert forged.status_code == 403
    other = client.post("/dang-nhap/doi-mat-khau", data={**form, **good, "username": "cuc"})
    assert other.status_code == 403
    assert stored_sessions(engine) == []
    with new_session(engine) as session:
        assert verify_password(get_user(session=session, username="cuc").password_hash, PASSWORD)


def test_the_ticket_is_bound_to_the_browser(engine, users):
    with make_client(engine) as mine, make_client(engine) as theirs:
        response = sign_in(mine, "moi", users["moi"])
        form = {n: hidden(response.text, n) for n in ("lang", "username", "ticket")}
        their_csrf = hidden(theirs.get("/dang-nhap").text, "csrf")
        stolen = theirs.post("/dang-nhap/doi-mat-khau", data={
            **form, "csrf": their_csrf, "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD})
    assert stolen.status_code == 403
    assert stored_sessions(engine) == []


def test_get_on_the_password_address_goes_back_to_the_form(client):
    response = client.get("/dang-nhap/doi-mat-khau")
    assert response.status_code == 303 and response.headers["location"] == "/dang-nhap"


# --- signing out --------------------------------------------------------------------------


def test_sign_out_revokes_the_session_and_clears_the_cookie(client, engine):
    sign_in(client, "cuc", PASSWORD)
    token = client.cookies.get(COOKIE_NAME)
    response = client.get("/dang-xuat")
    assert response.status_code == 303 and response.headers["location"] == "/dang-nhap"
    cleared = session_cookie_header(response)
    assert 'survey_session=""' in cleared and "Max-Age=0" in cleared and "Path=/" in cleared
    [row] = stored_sessions(engine)
    assert row.revoked_at is not None
    with new_session(engine) as session:
        assert resume_session(session=session, token=token, policy=POLICY) is None
    assert audit_actions(engine, "cuc") == ["login", "logout"]
    assert client.cookies.get(COOKIE_NAME) is None
    # The sign-in page is shown again, not a redirect home.
    assert client.get("/dang-nhap").status_code == 200


def test_an_old_cookie_replayed_after_sign_out_stays_signed_out(client, engine):
    sign_in(client, "cuc", PASSWORD)
    token = client.cookies.get(COOKIE_NAME)
    client.get("/dang-xuat")
    client.cookies.set(COOKIE_NAME, token)
    assert client.get("/dang-nhap").status_code == 200  # not 303 home
    assert audit_actions(engine, "cuc").count("logout") == 1
    client.get("/dang-xuat")
    assert audit_actions(engine, "cuc").count("logout") == 1  # no second entry


def test_sign_out_without_a_cookie_does_nothing_but_redirect(client, engine):
    response = client.get("/dang-xuat", params={"lang": "en"})
    assert response.status_code == 303 and response.headers["location"] == "/dang-nhap?lang=en"
    assert "set-cookie" not in response.headers
    assert "logout" not in audit_actions(engine)


# --- the Streamlit side: the login page links here, the sign-out button sends the browser
# to /dang-xuat (AppTest has no cookies: the tab's own sign-in stands in) ---------------------

APP = str(Path(__file__).resolve().parent.parent / "survey_app.py")


@pytest.fixture
def app_test(db_url, monkeypatch, tmp_path):
    """A function opening the entry script over the test database."""
    monkeypatch.setenv("SURVEY_DATABASE_URL", db_url)
    monkeypatch.setenv("SURVEY_DEMO", "0")
    monkeypatch.setenv("SURVEY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SURVEY_SECRET", SECRET.decode())
    streamlit.cache_resource.clear()
    shared_engine.cache_clear()

    def open_app(username: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        if username:
            at.session_state["auth"] = tab_auth(username)
        at.run()
        assert not at.exception, at.exception
        return at

    yield open_app
    streamlit.cache_resource.clear()
    shared_engine.cache_clear()


def login_link(at: AppTest) -> str | None:
    found = [m.value for m in at.markdown if 'id="staff-login-link"' in m.value]
    return found[0] if found else None


def test_the_app_login_page_links_to_the_light_page_and_hints_the_first_admin(app_test):
    at = app_test()
    link = login_link(at)
    assert link is not None and 'href="/dang-nhap"' in link and 'target="_self"' in link
    assert "survey user add admin --role admin" in [c.value for c in at.code]


def test_the_app_sign_out_button_sends_the_browser_to_dang_xuat(app_test, users):
    at = app_test("cuc")
    assert login_link(at) is None
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert "auth" not in at.session_state
    assert [s.value for s in at.success] == ["Bạn đã đăng xuất."]
    assert any("window.location.replace('/dang-xuat')" in h.value for h in at.get("html"))
    assert login_link(at) is not None
    assert not at.code  # accounts exist: no first-admin hint


@pytest.mark.parametrize(("asked", "lands"), [("/diem-don-vi", "/diem-don-vi"),
                                              ("/tong-quan", "/tong-quan"),
                                              ("/diem-don-vi?unit=HG01&period=2024-Q4",
                                               "/diem-don-vi?unit=HG01&period=2024-Q4"),
                                              ("/diem-don-vi?x=<b>", "/"),
                                              ("/diem-don-vi?x=1\r\nSet-Cookie:a", "/"),
                                              ("https://evil.example/x", "/"),
                                              ("//evil.example", "/"), ("/dang-xuat", "/")])
def test_sign_in_returns_to_the_page_asked_for(client, asked, lands):
    """Issue 12.7: a signed-out deep link goes to sign-in, then back to the page asked for
    (only a page address of this app: never another site)."""
    page = client.get("/dang-nhap", params={"next": asked})
    assert page.status_code == 200
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1))
    response = client.post(action,  # the form's own address, as the browser posts it
                           data={"csrf": hidden(page.text, "csrf"), "lang": "vi",
                                 "username": "cuc", "password": PASSWORD})
    assert response.status_code == 303 and response.headers["location"] == lands


def test_an_address_that_is_no_page_is_answered_in_the_users_language():
    """Streamlit shows its English "Page not found" dialog for an address none of its pages
    has: the staff app's guard answers such an address itself (404, the user's language, a
    link to the overview) and passes the pages' addresses and Streamlit's own paths on."""
    from starlette.responses import PlainTextResponse

    from survey.webform.hardening import StaffAppGuard

    client = TestClient(StaffAppGuard(PlainTextResponse("streamlit")))
    for passed in ("/", "/diem-don-vi", "/tong-quan/", "/dang-nhap", "/static/js/x.js",
                   "/_stcore/health", "/favicon.png", "/media/abc"):
        assert client.get(passed).text == "streamlit", passed
    for unknown in ("/trang-chu", "/abc"):
        page = client.get(unknown)
        assert page.status_code == 404
        assert "<h1>Không tìm thấy trang</h1>" in page.text
        assert '<a class="btn" href="/">Mở trang Tổng quan</a>' in page.text
    english = client.get("/abc", params={"lang": "en"})
    assert "<h1>Page not found</h1>" in english.text and "Open the overview" in english.text
    assert client.post("/abc").text == "streamlit"  # only page visits are answered
