"""Storage of staff accounts and login attempts."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, text, update
from sqlmodel import Session, col, select

from survey.messages import ROLE_NAMES
from survey.models import ROLES, AuditEntry, LoginAttempt, User
from survey.storage import StorageError
from survey.storage.organisations import get_organisation


def get_user(*, session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()


def list_users(*, session: Session, organisation_ids: set[int] | None = None) -> list[User]:
    """Users, by name; only those scoped inside `organisation_ids` when given."""
    users = list(session.exec(select(User).order_by(User.username)))
    if organisation_ids is None:
        return users
    return [u for u in users if u.organisation_id in organisation_ids]


def add_user(
    *, session: Session, username: str, password_hash: str, role: str, organisation_code: str | None
) -> User:
    """Add an account; `organisation_code` is required for the province and unit roles."""
    username = username.strip()
    if not username or len(username) > 80 or any(ch.isspace() for ch in username):
        raise StorageError("account.bad_username")
    if role not in ROLES:
        raise StorageError("account.bad_role", role=role, roles=list(ROLES))
    if get_user(session=session, username=username):
        raise StorageError("account.exists", username=username)
    organisation_id = _unit_of_role(session, role, organisation_code, must_be_active=False)
    user = User(username=username, password_hash=password_hash, role=role,
                organisation_id=organisation_id)
    session.add(user)
    session.flush()
    return user


def _unit_of_role(
    session: Session, role: str, organisation_code: str | None, *, must_be_active: bool
) -> int | None:
    """The id of the unit an account of `role` is attached to (None for an admin)."""
    if role == "admin":
        return None
    if not organisation_code:
        raise StorageError("account.role_needs_unit", role=ROLE_NAMES.get(role, role))
    organisation = get_organisation(session=session, code=organisation_code)
    if organisation is None:
        raise StorageError("unit.missing", code=organisation_code)
    if must_be_active and not organisation.active:
        raise StorageError("unit.deactivated", code=organisation_code)
    return organisation.id


def lock_login_name(*, session: Session, name: str) -> None:
    """Take the transaction's lock on sign-in attempts for `name`, held until commit or
    rollback: on PostgreSQL an advisory lock keyed by the name; on SQLite the write that
    follows (recording the attempt) takes the database's write lock, which serialises as well.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(b"survey-login|" + name.encode("utf-8", "replace")).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def record_login_attempt(
    *, session: Session, username: str, succeeded: bool, at: datetime | None = None
) -> LoginAttempt:
    """Record one attempt (flushed with the caller's transaction)."""
    row = LoginAttempt(username=username, succeeded=succeeded, **({"at": at} if at else {}))
    session.add(row)
    session.flush()
    return row


def mark_login_succeeded(*, session: Session, attempt_id: int) -> None:
    """A reserved attempt turned out right."""
    session.exec(update(LoginAttempt).where(col(LoginAttempt.id) == attempt_id)
                 .values(succeeded=True))
    session.flush()


def forget_login_attempt(*, session: Session, attempt_id: int) -> None:
    """Drop a reserved attempt whose password was never checked."""
    session.exec(delete(LoginAttempt).where(col(LoginAttempt.id) == attempt_id))
    session.flush()


def purge_old_login_records(*, session: Session, before: datetime, unknown_user: str) -> int:
    """Delete sign-in attempts older than `before`, and the audit entries of failed sign-ins
    on unknown names (`unknown_user`) older than that; returns how many rows went."""
    attempts = session.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < before))
    entries = session.exec(
        delete(AuditEntry).where(
            col(AuditEntry.at) < before,
            col(AuditEntry.action) == "login_failed",
            col(AuditEntry.username) == unknown_user,
        )
    )
    session.flush()
    return (attempts.rowcount or 0) + (entries.rowcount or 0)


def recent_login_attempts(
    *, session: Session, username: str, since: datetime, limit: int = 50
) -> list[LoginAttempt]:
    """The latest attempts for `username` since `since`, newest first."""
    query = (
        select(LoginAttempt)
        .where(LoginAttempt.username == username, col(LoginAttempt.at) >= since)
        .order_by(col(LoginAttempt.at).desc(), col(LoginAttempt.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))


def set_user_role(
    *, session: Session, user: User, role: str, organisation_code: str | None
) -> User:
    """Give an account a new role and unit; an admin has no unit, the other roles need one."""
    if role not in ROLES:
        raise StorageError("account.bad_role", role=role, roles=list(ROLES))
    organisation_id = _unit_of_role(session, role, organisation_code, must_be_active=True)
    user.role = role
    user.organisation_id = organisation_id
    session.add(user)
    session.flush()
    return user


def set_user_active(*, session: Session, user: User, active: bool) -> User:
    """Deactivate an account (it can no longer sign in; open sessions end) or reactivate it."""
    if user.active == active:
        raise StorageError("account.already_active" if active else "account.already_deactivated",
                           username=user.username)
    user.active = active
    session.add(user)
    session.flush()
    return user


def count_active_admins(*, session: Session) -> int:
    """Active accounts with the admin role."""
    query = select(User).where(User.role == "admin", User.active == True)  # noqa: E712
    return len(list(session.exec(query)))
