"""Storage of staff sessions: create, find a valid one, touch, revoke (by token hash).

Only the SHA-256 of a session token reaches this module (`survey.sessions.hash_token`);
the rules (idle timeout, absolute lifetime) are in `survey.sessions`. Functions flush,
the caller commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from survey.models import StaffSession, User, utcnow


def add_staff_session(
    *, session: Session, token_hash: str, username: str, now: datetime, lifetime: timedelta
) -> StaffSession:
    """A new session for `username`, valid until `now + lifetime` at the latest."""
    row = StaffSession(
        token_hash=token_hash, username=username, created_at=now, last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return row


def get_staff_session(*, session: Session, token_hash: str) -> StaffSession | None:
    """The session with this token hash, whatever its state."""
    return session.exec(select(StaffSession).where(StaffSession.token_hash == token_hash)).first()


def find_valid_session(
    *, session: Session, token_hash: str, now: datetime, idle: timedelta
) -> StaffSession | None:
    """The session with this token hash if not revoked, not past its absolute expiry, and
    used within `idle`; else None."""
    query = select(StaffSession).where(
        StaffSession.token_hash == token_hash,
        col(StaffSession.revoked_at).is_(None),
        col(StaffSession.expires_at) > now,
        col(StaffSession.last_seen_at) >= now - idle,
    )
    return session.exec(query).first()


def find_valid_session_user(
    *, session: Session, token_hash: str, now: datetime, idle: timedelta
) -> tuple[StaffSession, User] | None:
    """The valid session with this token hash (as `find_valid_session`) and its account."""
    row = find_valid_session(session=session, token_hash=token_hash, now=now, idle=idle)
    if row is None:
        return None
    user = session.exec(select(User).where(User.username == row.username)).first()
    return (row, user) if user is not None else None


def touch_staff_session(*, session: Session, row: StaffSession, now: datetime) -> StaffSession:
    """Record a use: the idle deadline slides to `now + idle` (the absolute one stays)."""
    row.last_seen_at = now
    session.add(row)
    session.flush()
    return row


def revoke_staff_session(
    *, session: Session, row: StaffSession, now: datetime | None = None
) -> StaffSession:
    """End one session now (no effect on one already revoked)."""
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.add(row)
        session.flush()
    return row


def revoke_user_sessions(*, session: Session, username: str, now: datetime | None = None) -> int:
    """End every open session of `username` (password changed, account deactivated);
    returns how many were open."""
    result = session.exec(
        update(StaffSession)
        .where(col(StaffSession.username) == username, col(StaffSession.revoked_at).is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    return result.rowcount or 0


def list_user_sessions(*, session: Session, username: str) -> list[StaffSession]:
    """All stored sessions of `username`, oldest first."""
    query = (
        select(StaffSession)
        .where(StaffSession.username == username)
        .order_by(col(StaffSession.created_at), col(StaffSession.id))
    )
    return list(session.exec(query))


def purge_ended_sessions(*, session: Session, before: datetime) -> int:
    """Delete sessions that expired or were revoked before `before`; returns how many."""
    result = session.exec(
        delete(StaffSession).where(
            or_(col(StaffSession.expires_at) < before, col(StaffSession.revoked_at) < before)
        )
    )
    session.flush()
    return result.rowcount or 0
