"""Server-side staff sessions: storage and rules (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from survey import admin
from survey.auth import create_user, scope_of, set_password
from survey.models import StaffSession, utcnow
from survey.sessions import (
    SessionPolicy,
    aware,
    end_session,
    hash_token,
    idle_deadline,
    looks_like_token,
    needs_touch,
    new_token,
    resume_session,
    session_status,
    start_session,
    token_status,
)
from survey.storage.audit import read_audit
from survey.storage.organisations import add_organisation
from survey.storage.sessions import (
    add_staff_session,
    find_valid_session,
    list_user_sessions,
    purge_ended_sessions,
    revoke_user_sessions,
)
from survey.storage.users import get_user

PASSWORD = "correct horse battery"
POLICY = SessionPolicy(idle=timedelta(minutes=60), lifetime=timedelta(hours=12),
                       touch_every=timedelta(minutes=1))


@pytest.fixture
def db(session):
    """Units HG > HG01; an admin, a province user and a unit user."""
    add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
    add_organisation(session=session, code="HG01", name="Cục A", parent_code="HG")
    for name, role, unit in (("admin", "admin", None), ("so", "province", "HG"),
                             ("cuc", "unit", "HG01")):
        create_user(session=session, username=name, role=role, organisation_code=unit,
                    password=PASSWORD)
    session.commit()
    return session


def same_moment(stored, expected) -> bool:
    """Equal to the microsecond (SQLite gives naive UTC, PostgreSQL aware)."""
    return abs(aware(stored) - expected) < timedelta(milliseconds=1)


def rows(session) -> list[StaffSession]:
    return list(session.exec(select(StaffSession)))


# --- tokens -------------------------------------------------------------------------------


def test_tokens_are_random_32_bytes_and_only_their_hash_is_stored(db):
    token, row = start_session(session=db, username="cuc", policy=POLICY)
    db.commit()
    assert looks_like_token(token) and len(token) == 43  # 32 bytes, URL-safe base64
    assert new_token() != new_token()
    assert row.token_hash == hash_token(token) and len(row.token_hash) == 64
    stored = [value for r in rows(db) for value in r.model_dump().values()]
    assert token not in [str(value) for value in stored]
    assert all(token not in str(value) for value in stored)


@pytest.mark.parametrize("token", [None, "", "short", "x" * 42 + "!", "é" * 43, "a" * 44])
def test_malformed_tokens_are_refused_without_a_lookup(db, token):
    assert not looks_like_token(token)
    assert resume_session(session=db, token=token, policy=POLICY) is None
    assert end_session(session=db, token=token) is None
    assert token_status(session=db, token=token) is None


def test_unknown_token_is_not_a_session(db):
    assert resume_session(session=db, token=new_token(), policy=POLICY) is None
    assert token_status(session=db, token=new_token()) is None


# --- idle and absolute expiry -------------------------------------------------------------


def test_a_fresh_session_resumes_and_names_its_user(db):
    token, _row = start_session(session=db, username="cuc", policy=POLICY)
    db.commit()
    row = resume_session(session=db, token=token, policy=POLICY)
    assert row is not None and row.username == "cuc"
    user = get_user(session=db, username=row.username)
    assert scope_of(session=db, user=user).role == "unit"


def test_idle_expiry_slides_with_each_use(db):
    start = utcnow()
    token, row = start_session(session=db, username="cuc", policy=POLICY, now=start)
    db.commit()
    # Used every 50 minutes for 3 hours: never idle for an hour, so still valid.
    moment = start
    for _ in range(4):
        moment += timedelta(minutes=50)
        assert resume_session(session=db, token=token, policy=POLICY, now=moment) is not None
        db.commit()
    db.refresh(row)
    assert same_moment(row.last_seen_at, moment)
    assert idle_deadline(row, policy=POLICY) - moment == timedelta(minutes=60)
    # Then 61 idle minutes: gone, and it stays gone even if used again.
    late = moment + timedelta(minutes=61)
    assert resume_session(session=db, token=token, policy=POLICY, now=late) is None
    assert token_status(session=db, token=token, policy=POLICY, now=late) == "idle"


def test_idle_limit_comes_from_survey_session_minutes(monkeypatch, db):
    monkeypatch.setenv("SURVEY_SESSION_MINUTES", "5")
    assert SessionPolicy.from_env().idle == timedelta(minutes=5)
    start = utcnow()
    token, _row = start_session(session=db, username="cuc", now=start)
    db.commit()
    assert resume_session(session=db, token=token, now=start + timedelta(minutes=4)) is not None
    db.commit()
    assert resume_session(session=db, token=token, now=start + timedelta(minutes=10)) is None
    monkeypatch.delenv("SURVEY_SESSION_MINUTES")
    assert SessionPolicy.from_env().idle == timedelta(minutes=60)


@pytest.mark.parametrize("minutes", ["0", "-5"])
def test_a_non_positive_idle_limit_is_refused(minutes):
    with pytest.raises(ValueError, match="SURVEY_SESSION_MINUTES"):
        SessionPolicy.from_env({"SURVEY_SESSION_MINUTES": minutes})


def test_absolute_expiry_ends_even_a_busy_session(db):
    start = utcnow()
    token, row = start_session(session=db, username="cuc", policy=POLICY, now=start)
    db.commit()
    assert row.expires_at - start == timedelta(hours=12)
    for half_hours in range(1, 24):  # used every 30 minutes up to 11 h 30
        moment = start + half_hours * timedelta(minutes=30)
        assert resume_session(session=db, token=token, policy=POLICY, now=moment) is not None
        db.commit()
    after = start + timedelta(hours=12, seconds=1)
    assert resume_session(session=db, token=token, policy=POLICY, now=after) is None
    assert token_status(session=db, token=token, policy=POLICY, now=after) == "expired"


def test_touch_is_written_at_most_once_a_minute(db):
    start = utcnow()
    token, row = start_session(session=db, username="cuc", policy=POLICY, now=start)
    db.commit()
    resume_session(session=db, token=token, policy=POLICY, now=start + timedelta(seconds=20))
    db.commit()
    db.refresh(row)
    assert same_moment(row.last_seen_at, start)  # not written: less than a minute
    assert not needs_touch(row, now=start + timedelta(seconds=59), policy=POLICY)
    assert needs_touch(row, now=start + timedelta(seconds=60), policy=POLICY)
    short = SessionPolicy(idle=timedelta(seconds=40))
    assert needs_touch(row, now=start + timedelta(seconds=10), policy=short)  # a quarter of idle


@pytest.mark.parametrize(("offset", "status"), [
    (timedelta(minutes=59), "active"),
    (timedelta(minutes=61), "idle"),
    (timedelta(hours=13), "expired"),
])
def test_session_status_rules(offset, status):
    start = utcnow()
    row = StaffSession(token_hash="0" * 64, username="u", created_at=start, last_seen_at=start,
                       expires_at=start + timedelta(hours=12))
    assert session_status(row, now=start + offset, policy=POLICY) == status
    row.revoked_at = start
    assert session_status(row, now=start + offset, policy=POLICY) == "revoked"


def test_naive_stored_times_are_read_as_utc():
    start = utcnow()
    row = StaffSession(token_hash="0" * 64, username="u", created_at=start,
                       last_seen_at=start.replace(tzinfo=None),
                       expires_at=(start + timedelta(hours=12)).replace(tzinfo=None))
    assert session_status(row, now=start + timedelta(minutes=1), policy=POLICY) == "active"


# --- revocation ---------------------------------------------------------------------------


def test_sign_out_revokes_once_and_is_audited(db):
    token, _row = start_session(session=db, username="cuc", policy=POLICY)
    db.commit()
    ended = end_session(session=db, token=token, policy=POLICY)
    db.commit()
    assert ended is not None and ended.revoked_at is not None
    assert resume_session(session=db, token=token, policy=POLICY) is None
    assert token_status(session=db, token=token, policy=POLICY) == "revoked"
    assert end_session(session=db, token=token, policy=POLICY) is None  # a second sign-out
    db.commit()
    audit = read_audit(session=db, action="logout")
    assert audit["username"].tolist() == ["cuc"]


def test_signing_out_of_an_idle_session_revokes_it_without_a_logout_entry(db):
    start = utcnow() - timedelta(hours=2)
    token, row = start_session(session=db, username="cuc", policy=POLICY, now=start)
    db.commit()
    assert end_session(session=db, token=token, policy=POLICY) is None
    db.commit()
    db.refresh(row)
    assert row.revoked_at is not None
    assert read_audit(session=db, action="logout").empty


def test_revoke_all_of_a_user_leaves_other_users_alone(db):
    tokens = [start_session(session=db, username="cuc", policy=POLICY)[0] for _ in range(3)]
    other, _row = start_session(session=db, username="so", policy=POLICY)
    db.commit()
    assert revoke_user_sessions(session=db, username="cuc") == 3
    db.commit()
    assert all(resume_session(session=db, token=t, policy=POLICY) is None for t in tokens)
    assert resume_session(session=db, token=other, policy=POLICY) is not None
    assert revoke_user_sessions(session=db, username="cuc") == 0  # nothing left open
    assert all(r.revoked_at is not None for r in list_user_sessions(session=db, username="cuc"))


def test_a_password_change_ends_every_session_of_the_user(db):
    token, _row = start_session(session=db, username="cuc", policy=POLICY)
    other, _row = start_session(session=db, username="so", policy=POLICY)
    db.commit()
    user = get_user(session=db, username="cuc")
    set_password(session=db, user=user, password="another long password", actor="cuc")
    db.commit()
    assert resume_session(session=db, token=token, policy=POLICY) is None
    assert token_status(session=db, token=token, policy=POLICY) == "revoked"
    assert resume_session(session=db, token=other, policy=POLICY) is not None


def test_an_admin_password_reset_ends_the_sessions(db):
    token, _row = start_session(session=db, username="cuc", policy=POLICY)
    db.commit()
    admin.reset_password(session=db, scope=admin.CLI_SCOPE, username="cuc")
    assert resume_session(session=db, token=token, policy=POLICY) is None


def test_deactivating_a_user_ends_the_sessions_and_reactivating_does_not_revive_them(db):
    token, _row = start_session(session=db, username="cuc", policy=POLICY)
    db.commit()
    admin.deactivate_user(session=db, scope=admin.CLI_SCOPE, username="cuc")
    assert resume_session(session=db, token=token, policy=POLICY) is None
    admin.reactivate_user(session=db, scope=admin.CLI_SCOPE, username="cuc")
    assert resume_session(session=db, token=token, policy=POLICY) is None


def test_find_valid_session_applies_all_three_rules_in_the_query(db):
    start = utcnow()
    token, _row = start_session(session=db, username="cuc", policy=POLICY, now=start)
    db.commit()
    digest = hash_token(token)
    idle = timedelta(minutes=60)
    assert find_valid_session(session=db, token_hash=digest, now=start, idle=idle) is not None
    assert find_valid_session(session=db, token_hash=digest, now=start + timedelta(minutes=61),
                              idle=idle) is None
    assert find_valid_session(session=db, token_hash=digest, now=start + timedelta(hours=12),
                              idle=timedelta(hours=24)) is None


def test_ended_sessions_are_purged_after_thirty_days(db):
    revoked, _row = start_session(session=db, username="so", policy=POLICY)
    end_session(session=db, token=revoked, policy=POLICY)  # ended just now: kept
    old = utcnow() - timedelta(days=40)
    add_staff_session(session=db, token_hash=hash_token(new_token()), username="cuc", now=old,
                      lifetime=POLICY.lifetime)  # expired long ago
    db.commit()
    assert len(rows(db)) == 2
    start_session(session=db, username="admin", policy=POLICY)  # purges on the way
    db.commit()
    assert sorted(r.username for r in rows(db)) == ["admin", "so"]
    assert purge_ended_sessions(session=db, before=utcnow() + timedelta(seconds=1)) == 1
