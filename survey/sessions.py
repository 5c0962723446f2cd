"""Staff sessions: the rules, without the database (pure functions).

A signed-in browser holds a random token in its `survey_session` cookie; the server keeps
only the token's SHA-256 (`StaffSession.token_hash`), so neither a copy of the database nor
a backup lets anyone sign in. A session is valid while all of these hold:

- it has not been revoked (sign-out, password change, account deactivated);
- it is younger than its absolute lifetime (`expires_at`, 12 hours after sign-in);
- it has been used within the idle timeout (`last_seen_at` + SURVEY_SESSION_MINUTES,
  default 60): every page view slides the idle deadline forward.

`last_seen_at` is written at most once a minute (`touch_every`), so that clicking
through the pages does not write to the database on every rerun; the idle deadline is
therefore exact to within that minute.

`start_session`, `resume_session` and `end_session` are what the sign-in pages and the
Streamlit app call; the database functions are in `survey.storage.sessions`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlmodel import Session

from survey.config import load_settings
from survey.models import Organisation, StaffSession, User, utcnow
from survey.storage.audit import append_audit
from survey.storage.sessions import (
    add_staff_session,
    find_valid_session,
    find_valid_session_user,
    get_staff_session,
    purge_ended_sessions,
    revoke_staff_session,
    touch_staff_session,
)

COOKIE_NAME = "survey_session"
TOKEN_BYTES = 32
DEFAULT_IDLE_MINUTES = 60
DEFAULT_LIFETIME = timedelta(hours=12)
DEFAULT_TOUCH_EVERY = timedelta(minutes=1)
KEEP_ENDED = timedelta(days=30)  # ended sessions are deleted after this (the audit log stays)

SessionStatus = Literal["active", "revoked", "expired", "idle"]


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives: idle timeout (sliding), absolute lifetime, touch interval."""

    idle: timedelta = timedelta(minutes=DEFAULT_IDLE_MINUTES)
    lifetime: timedelta = DEFAULT_LIFETIME
    touch_every: timedelta = DEFAULT_TOUCH_EVERY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SessionPolicy:
        """The idle timeout from the settings (SURVEY_SESSION_MINUTES, default 60; decimals
        allowed, e.g. 0.5; SettingsError, a ValueError, when not a positive number)."""
        return cls(idle=timedelta(minutes=load_settings(environ).session_minutes))


def new_token() -> str:
    """A fresh session token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256, 64 hex digits."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str | None) -> bool:
    """A cheap check before a database look-up: 43 URL-safe base64 characters."""
    return (
        token is not None
        and len(token) == 43
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in token)
    )


def aware(moment: datetime) -> datetime:
    """A stored time as timezone-aware UTC (SQLite gives naive times, written as UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def session_status(row: StaffSession, *, now: datetime, policy: SessionPolicy) -> SessionStatus:
    """Why a session is no longer valid, or "active"."""
    if row.revoked_at is not None:
        return "revoked"
    if now >= aware(row.expires_at):
        return "expired"
    if now - aware(row.last_seen_at) > policy.idle:
        return "idle"
    return "active"


def idle_deadline(row: StaffSession, *, policy: SessionPolicy) -> datetime:
    """When the session ends if unused: the earlier of the idle and the absolute deadline."""
    return min(aware(row.last_seen_at) + policy.idle, aware(row.expires_at))


def needs_touch(row: StaffSession, *, now: datetime, policy: SessionPolicy) -> bool:
    """Whether a page view should write `last_seen_at`: at most once per `touch_every`
    (and at least four times per idle timeout, however short that is)."""
    return now - aware(row.last_seen_at) >= min(policy.touch_every, policy.idle / 4)


# --- use-cases (the caller commits) -------------------------------------------------------


def start_session(
    *, session: Session, username: str, policy: SessionPolicy | None = None,
    now: datetime | None = None,
) -> tuple[str, StaffSession]:
    """A new session for a user who has just authenticated: (token for the cookie, row).

    The token is returned once and never stored. Sessions that ended more than
    KEEP_ENDED ago are deleted on the way.
    """
    policy = policy or SessionPolicy.from_env()
    now = now or utcnow()
    purge_ended_sessions(session=session, before=now - KEEP_ENDED)
    token = new_token()
    row = add_staff_session(session=session, token_hash=hash_token(token), username=username,
                            now=now, lifetime=policy.lifetime)
    return token, row


def resume_session(
    *, session: Session, token: str | None, policy: SessionPolicy | None = None,
    now: datetime | None = None,
) -> StaffSession | None:
    """The valid session of a cookie's token, touched (its idle deadline slides); None when
    the token is unknown, revoked, expired or idle too long."""
    if not looks_like_token(token):
        return None
    policy = policy or SessionPolicy.from_env()
    now = now or utcnow()
    row = find_valid_session(session=session, token_hash=hash_token(token), now=now,
                             idle=policy.idle)
    if row is not None and needs_touch(row, now=now, policy=policy):
        touch_staff_session(session=session, row=row, now=now)
    return row


def token_status(
    *, session: Session, token: str | None, policy: SessionPolicy | None = None,
    now: datetime | None = None,
) -> SessionStatus | None:
    """The state of a cookie's session without touching it; None for an unknown token."""
    if not looks_like_token(token):
        return None
    row = get_staff_session(session=session, token_hash=hash_token(token))
    if row is None:
        return None
    return session_status(row, now=now or utcnow(), policy=policy or SessionPolicy.from_env())


def end_session(
    *, session: Session, token: str | None, policy: SessionPolicy | None = None,
    now: datetime | None = None,
) -> StaffSession | None:
    """Sign-out: revoke the token's session; when it was still open, audit "logout" and
    return it. A second sign-out, an ended session or an unknown token returns None."""
    if not looks_like_token(token):
        return None
    row = get_staff_session(session=session, token_hash=hash_token(token))
    if row is None or row.revoked_at is not None:
        return None
    now = now or utcnow()
    status = session_status(row, now=now, policy=policy or SessionPolicy.from_env())
    revoke_staff_session(session=session, row=row, now=now)
    if status != "active":
        return None
    append_audit(session=session, username=row.username, action="logout")
    return row


def signed_in_user(
    *, session: Session, token: str | None, policy: SessionPolicy | None = None,
    now: datetime | None = None,
) -> User | None:
    """The account of a session that is valid right now (not revoked, not expired, not idle,
    account active, its unit active), without touching it; else None. What a download
    started from an already-open page asks before it delivers anything."""
    if not looks_like_token(token):
        return None
    policy = policy or SessionPolicy.from_env()
    now = now or utcnow()
    found = find_valid_session_user(session=session, token_hash=hash_token(token), now=now,
                                    idle=policy.idle)
    if found is None:
        return None
    _row, user = found
    if not user.active:
        return None
    if user.organisation_id is not None:
        unit = session.get(Organisation, user.organisation_id)
        if unit is None or not unit.active:
            return None
    return user
