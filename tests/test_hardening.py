"""Issue 14: throttling by address, sessions that end, password policy, hostile YAML,
formula injection, Markdown injection, the audit log's escaping and retention, private
database files (database tests on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from datetime import timedelta

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from survey.auth import (
    UNKNOWN_USER,
    LoginRefused,
    WeakPassword,
    authenticate,
    check_password_policy,
    create_user,
    purge_login_records,
    set_password,
)
from survey.db import make_engine, new_session
from survey.filemodes import restrict_sqlite_files
from survey.login_guard import HashingBusy, HashingGate, SignInGuard
from survey.models import AuditEntry, LoginAttempt, utcnow
from survey.questionnaire import (
    QuestionnaireError,
    parse_questionnaire,
    shipped_questionnaire_paths,
)
from survey.sessions import signed_in_user, start_session
from survey.spreadsheet import csv_bytes, neutral_text, text_cells_only
from survey.storage.audit import append_audit
from survey.storage.organisations import add_organisation
from survey.storage.users import get_user, set_user_active
from survey.text import printable
from survey.webform.staff_routes import staff_routes

PASSWORD = "correct horse battery"
SECRET = b"hardening-test-secret"


@pytest.fixture
def accounts(session):
    add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
    add_organisation(session=session, code="HG01", name="Cục A", parent_code="HG")
    create_user(session=session, username="admin", role="admin", organisation_code=None,
                password=PASSWORD)
    create_user(session=session, username="cuc", role="unit", organisation_code="HG01",
                password=PASSWORD)
    session.commit()
    return session


# --- 2. throttling by address as well as by account -------------------------------------


def proxied_client(engine) -> TestClient:
    routes = staff_routes(engine=engine, secret=SECRET, trust_proxy=True, guard=SignInGuard(),
                          gate=HashingGate(2))
    return TestClient(Starlette(routes=routes), follow_redirects=False)


def sign_in_from(client: TestClient, address: str, username: str, password: str):
    import html
    import re

    headers = {"X-Forwarded-For": address}
    page = client.get("/dang-nhap", headers=headers).text
    token = html.unescape(re.search(r'name="csrf" value="([^"]*)"', page).group(1))
    return client.post("/dang-nhap", headers=headers, data={
        "csrf": token, "username": username, "password": password})


def test_failing_on_purpose_does_not_lock_the_owner_out_from_another_address(engine, accounts):
    with proxied_client(engine) as client:
        for _ in range(4):
            sign_in_from(client, "203.0.113.66", "admin", "a wrong guess here")
        # the guessing address now waits, even with the right password
        assert sign_in_from(client, "203.0.113.66", "admin", PASSWORD).status_code == 429
        # the owner, from their own address, signs in at once
        owner = sign_in_from(client, "198.51.100.7", "admin", PASSWORD)
        assert owner.status_code == 303 and owner.headers["location"] == "/"


def test_one_address_trying_many_usernames_is_slowed_down(engine, accounts):
    with proxied_client(engine) as client:
        statuses = [sign_in_from(client, "203.0.113.9", f"name{i:02d}", "a wrong guess here")
                    .status_code for i in range(12)]
        # ten free failures per address, then 2 s, 4 s … whatever the username
        assert statuses == [401] * 10 + [429, 429]
        # another address is not affected
        assert sign_in_from(client, "203.0.113.10", "name99", "whatever guess").status_code == 401


def test_addresses_are_kept_only_as_keyed_hashes():
    guard = SignInGuard()
    ticket = guard.reserve("203.0.113.5", "admin")
    guard.settle(ticket, failed=True)
    kept = repr(guard.__dict__)
    assert "203.0.113.5" not in kept and "admin" not in kept
    assert ticket.address_key and len(ticket.address_key) == 32


def test_simultaneous_attempts_from_one_address_count_while_in_progress():
    guard = SignInGuard(clock=lambda: 1000.0)
    tickets = [guard.reserve("203.0.113.5", f"user{i}") for i in range(11)]
    assert all(not isinstance(t, float) for t in tickets[:10])
    assert tickets[10] == 2.0  # the 11th waits while the ten are checked


# --- 3. the hashing gate (unknown names take a slot too) ---------------------------------


def test_an_unknown_name_needs_a_hashing_slot_like_a_known_one(accounts):
    gate = HashingGate(1)
    with gate.slot():  # the only slot is taken
        for name in ("cuc", "nobody-at-all"):
            with pytest.raises(HashingBusy):
                authenticate(session=accounts, username=name, password="x" * 12, gate=gate,
                             guard=SignInGuard(), address="203.0.113.1")
    # a refusal for a busy gate counts as no attempt
    assert list(accounts.exec(select(LoginAttempt))) == []


# --- 4. every kind of staff session ends when it should ------------------------------------


def test_a_tab_session_ends_on_password_reset_and_deactivation(engine, accounts):
    for end in ("password", "deactivate"):
        with new_session(engine) as session:
            token, _row = start_session(session=session, username="cuc")
            session.commit()
            assert signed_in_user(session=session, token=token).username == "cuc"
            user = get_user(session=session, username="cuc")
            if end == "password":
                set_password(session=session, user=user, password="a new long passphrase",
                             actor="admin")
            else:
                set_user_active(session=session, user=user, active=False)
            session.commit()
            # deactivation alone (without revoking) already refuses the account
            assert signed_in_user(session=session, token=token) is None
            if end == "deactivate":
                set_user_active(session=session, user=user, active=True)
                session.commit()


def test_a_session_older_than_12_hours_or_idle_is_refused(engine, accounts):
    with new_session(engine) as session:
        start = utcnow() - timedelta(hours=12, minutes=1)
        token, _row = start_session(session=session, username="cuc", now=start)
        session.commit()
        assert signed_in_user(session=session, token=token, now=start) is not None
        assert signed_in_user(session=session, token=token) is None


def test_an_open_page_delivers_no_download_after_deactivation(db_url, engine, accounts,
                                                               monkeypatch, tmp_path):
    """The data callable of a download checks the page's session when the button is
    clicked: after the account is deactivated, nothing is made."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    from tab_session import tab_auth

    from survey.db import shared_engine

    monkeypatch.setenv("SURVEY_DATABASE_URL", db_url)
    monkeypatch.setenv("SURVEY_DEMO", "0")
    monkeypatch.setenv("SURVEY_DATA_DIR", str(tmp_path / "data"))
    st.cache_resource.clear()
    shared_engine.cache_clear()
    script = """
import streamlit as st
import app_ui
scope = app_ui.require_scope()
st.session_state["made"] = app_ui.download(lambda: b"file for " + scope.username.encode())
"""
    at = AppTest.from_string(script, default_timeout=60)
    at.session_state["auth"] = tab_auth("cuc")
    at.run()
    assert not at.exception
    deliver = at.session_state["made"]
    assert deliver() == b"file for cuc"
    with new_session(engine) as session:
        from survey.admin import deactivate_user
        from survey.auth import FULL_ACCESS

        deactivate_user(session=session, scope=FULL_ACCESS, username="cuc")
    with pytest.raises(PermissionError):
        deliver()
    st.cache_resource.clear()
    shared_engine.cache_clear()


# --- 5. password policy ------------------------------------------------------------------


@pytest.mark.parametrize(("password", "username", "reason", "vietnamese"), [
    ("short9char", "cuc", None, None),
    ("ngắn", "cuc", "too_short", "ít nhất 10 ký tự"),
    ("1234567890", "cuc", "common", "quá phổ biến"),
    ("Password123", "cuc", "common", "quá phổ biến"),
    ("MatKhau123", "cuc", "common", "quá phổ biến"),
    ("thads-hau-giang", "thads-hau-giang", "username", "tên đăng nhập"),
    ("my-SoNoiVu-2024", "sonoivu", "username", "tên đăng nhập"),
])
def test_password_policy_says_why_in_vietnamese(password, username, reason, vietnamese):
    if reason is None:
        check_password_policy(password + "x", username)  # 11 characters, not common
        return
    with pytest.raises(WeakPassword) as refused:
        check_password_policy(password, username)
    assert refused.value.reason == reason and vietnamese in str(refused.value)
    assert refused.value.text("en") != str(refused.value)


def test_an_account_cannot_be_given_a_common_password(accounts):
    with pytest.raises(WeakPassword):
        create_user(session=accounts, username="so", role="province", organisation_code="HG",
                    password="qwertyuiop")


# --- 8. YAML anchors and aliases -----------------------------------------------------------


def test_a_billion_laughs_questionnaire_is_refused_before_anything_is_built():
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    with pytest.raises(QuestionnaireError) as refused:
        parse_questionnaire("\n".join(lines))
    assert "anchors/aliases" in str(refused.value.problems)


def test_a_few_aliases_are_still_allowed():
    import re

    text = shipped_questionnaire_paths()[0].read_text(encoding="utf-8")
    scale = re.search(r"scale: ([\w-]+)", text).group(1)
    uses = [0]

    def anchor_then_alias(_match) -> str:  # the first use anchored, the next five aliased
        uses[0] += 1
        return {1: f"scale: &s {scale}"}.get(uses[0], "scale: *s" if uses[0] <= 6 else
                                                 f"scale: {scale}")

    aliased = re.sub(rf"scale: {re.escape(scale)}\b", anchor_then_alias, text)
    assert "*s" in aliased
    assert parse_questionnaire(aliased).questions == parse_questionnaire(text).questions


# --- 9. formula injection in exports -------------------------------------------------------


def test_csv_text_that_a_spreadsheet_would_run_is_neutralised():
    frame = pd.DataFrame({
        "unit_name": ['=HYPERLINK("http://evil","x")', "+cmd", "-2+3", "@SUM(A1)", "Cục A"],
        "score": [-0.5, 1.0, 2.0, 3.0, 4.0],
        "option": pd.Categorical(["=1", "-1", "a", "b", "c"]),
    })
    text = csv_bytes(frame).decode("utf-8-sig").splitlines()
    assert text[1].startswith("\"'=HYPERLINK(")
    assert text[2].startswith("'+cmd,") and text[3].startswith("'-2+3,")
    assert text[4].startswith("'@SUM(A1),")
    assert text[1].endswith(",-0.5,'=1")  # numbers stay numbers, "-1" is a number
    assert text[2].endswith(",-1")
    assert neutral_text("Cục A") == "Cục A"


def test_xlsx_cells_beginning_with_equals_are_written_as_text():
    workbook = Workbook()
    workbook.active["A1"] = '=HYPERLINK("http://evil","x")'
    buffer = io.BytesIO()
    text_cells_only(workbook).save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    cell = load_workbook(io.BytesIO(buffer.getvalue())).active["A1"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://evil","x")'


def test_the_excel_reports_save_user_text_as_text():
    from survey.reports import _to_bytes

    workbook = Workbook()
    workbook.active["A3"] = "=1+2"  # as a unit name lands in a report's table
    cell = load_workbook(io.BytesIO(_to_bytes(workbook))).active["A3"]
    assert cell.data_type == "s" and cell.value == "=1+2"


# --- 10. user text shown as text on the pages ----------------------------------------------


def test_plain_escapes_markdown_links_images_and_directives():
    import re

    from app_ui import plain

    hostile = "[click](http://evil.example) ![x](http://evil.example/i.png) :red[x] $x$\n# h"
    escaped = plain(hostile)
    for pattern in (r"(?<!\\)\[", r"(?<!\\)\]\((?!\\)", r"(?<!\\)!", r"(?<!\\)\$", r"(?<!\\)#",
                    r"(?<!\\):", "\n"):
        assert not re.search(pattern, escaped), pattern
    assert re.sub(r"\\(.)", r"\1", escaped) == hostile.replace("\n", " ")


# --- 11. the audit log ---------------------------------------------------------------------


def test_control_characters_are_escaped_in_the_audit_listing(cli_env, capsys):
    from survey.cli import main

    engine = make_engine(cli_env)
    with new_session(engine) as session:
        append_audit(session=session, username="cli", action="unit_renamed",
                     target="HG01\n2024-01-01T00:00:00\tadmin\tlogin\x1b[2J\u202e")
        session.commit()
    engine.dispose()
    assert main(["audit", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].split("\t")[3] == "HG01\\n2024-01-01T00:00:00\\tadmin\\tlogin\\x1b[2J\\u202e"


def test_printable_leaves_vietnamese_alone():
    assert printable("Cục Thi hành án dân sự") == "Cục Thi hành án dân sự"


def test_a_failed_sign_in_on_an_unknown_name_writes_no_typed_text(accounts):
    typed = "evil\nname"
    with pytest.raises(LoginRefused):
        authenticate(session=accounts, username=typed, password="whatever guess")
    entries = list(accounts.exec(select(AuditEntry)))
    attempts = list(accounts.exec(select(LoginAttempt)))
    assert [(e.username, e.action) for e in entries][-1] == (UNKNOWN_USER, "login_failed")
    assert all("evil" not in (e.username + (e.target or "") + (e.detail or "")) for e in entries)
    assert len(attempts) == 1 and "evil" not in attempts[0].username


def test_old_sign_in_records_are_purged_after_the_configured_time(accounts, monkeypatch):
    monkeypatch.setenv("SURVEY_LOGIN_RECORD_DAYS", "7")
    now = utcnow()
    for days in (3, 8):
        accounts.add(LoginAttempt(username="cuc", succeeded=False, at=now - timedelta(days=days)))
        accounts.add(AuditEntry(username=UNKNOWN_USER, action="login_failed",
                                at=now - timedelta(days=days)))
    accounts.add(AuditEntry(username="cuc", action="login_failed", at=now - timedelta(days=8)))
    accounts.commit()
    assert purge_login_records(session=accounts, now=now) == 2
    accounts.commit()
    kept = [(e.username, (now - e.at.replace(tzinfo=now.tzinfo)).days)
            for e in accounts.exec(select(AuditEntry).where(AuditEntry.action == "login_failed"))]
    assert sorted(kept) == [("?", 3), ("cuc", 8)]  # a named account's entry stays
    assert len(list(accounts.exec(select(LoginAttempt)))) == 1


# --- 12. database files readable by the owner only ------------------------------------------


def test_the_sqlite_file_and_its_wal_are_created_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        url = f"sqlite:///{tmp_path / 'private.db'}"
        restrict_sqlite_files(url)
        engine = make_engine(url)
        with engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            connection.commit()
            modes = {path.name: stat.S_IMODE(path.stat().st_mode)
                     for path in tmp_path.iterdir() if path.name.startswith("private.db")}
        engine.dispose()
    finally:
        os.umask(old)
    assert modes["private.db"] == 0o600
    assert modes.get("private.db-wal") == 0o600
    assert set(modes.values()) == {0o600}


def test_an_existing_database_is_made_private(tmp_path):
    path = tmp_path / "old.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    restrict_sqlite_files(f"sqlite:///{path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert restrict_sqlite_files("postgresql://u@h/db") is None
