"""Staff accounts: argon2 password hashing, throttled login, and the scope of what a user sees.

The scope is enforced here, in the domain package: every query of responses or scores for
a user goes through `Scope`, so a unit user asking for another unit (a query parameter, a
select box value, an export request, a CLI flag) is refused, whatever the page shows.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session

from survey.models import Organisation, User, utcnow
from survey.storage import StorageError
from survey.storage.audit import append_audit
from survey.storage.organisations import descendant_ids, get_organisation, list_organisations
from survey.storage.sessions import revoke_user_sessions
from survey.storage.users import add_user, get_user, recent_login_attempts, record_login_attempt
from survey.text import SurveyError

HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
FREE_FAILURES = 3  # failures allowed before delays start
MAX_DELAY_SECONDS = 15 * 60
FAILURE_WINDOW = timedelta(hours=24)
# A fixed hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = HASHER.hash("not-a-real-password-" + secrets.token_hex(8))


class AccessDenied(SurveyError, PermissionError):
    """The user may not see or change this (a message code and its parameters)."""


class LoginRefused(ValueError):
    """Wrong credentials, inactive account, or too many failures (`retry_after` seconds)."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


def hash_password(password: str) -> str:
    """Argon2id hash of a password of at least MIN_PASSWORD_LENGTH characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StorageError("account.password_short", n=MIN_PASSWORD_LENGTH)
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """A random password to hand over once (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def login_delay(failures: int) -> float:
    """Seconds to wait after `failures` consecutive failures: 0 for the first 3, then
    2, 4, 8 … seconds, at most 15 minutes."""
    if failures < FREE_FAILURES:
        return 0.0
    return float(min(2 ** (failures - FREE_FAILURES + 1), MAX_DELAY_SECONDS))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seconds_until_allowed(*, session: Session, username: str, now: datetime | None = None) -> float:
    """How long `username` must wait before the next attempt (0 = may try now)."""
    now = now or utcnow()
    attempts = recent_login_attempts(session=session, username=username, since=now - FAILURE_WINDOW)
    failures = 0
    for attempt in attempts:
        if attempt.succeeded:
            break
        failures += 1
    if not failures:
        return 0.0
    allowed_at = _aware(attempts[0].at) + timedelta(seconds=login_delay(failures))
    return max(0.0, (allowed_at - now).total_seconds())


def authenticate(*, session: Session, username: str, password: str) -> User:
    """The user for these credentials; every attempt is recorded and audited.

    Raises LoginRefused with the same message for an unknown user and a wrong
    password, and with `retry_after` while the growing delay runs.
    """
    username = username.strip()
    wait = seconds_until_allowed(session=session, username=username)
    if wait > 0:
        raise LoginRefused(f"too many failed attempts: try again in {wait:.0f} s", retry_after=wait)
    user = get_user(session=session, username=username)
    valid = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    succeeded = bool(user and user.active and valid and _unit_active(session, user))
    record_login_attempt(session=session, username=username, succeeded=succeeded)
    append_audit(session=session, username=username or "?",
                 action="login" if succeeded else "login_failed")
    session.commit()
    if not succeeded:
        raise LoginRefused("wrong username or password")
    return user


def _unit_active(session: Session, user: User) -> bool:
    """An account of a deactivated unit cannot sign in (admins have no unit)."""
    if user.organisation_id is None:
        return True
    organisation = session.get(Organisation, user.organisation_id)
    return organisation is not None and organisation.active


def create_user(
    *, session: Session, username: str, role: str, organisation_code: str | None,
    password: str | None = None, actor: str = "cli",
) -> tuple[User, str | None]:
    """Create an account; returns (user, one-time password or None if one was given)."""
    generated = None
    if password is None:
        generated = one_time_password()
        password = generated
    user = add_user(session=session, username=username, password_hash=hash_password(password),
                    role=role, organisation_code=organisation_code)
    user.must_change_password = generated is not None
    session.add(user)
    append_audit(session=session, username=actor, action="user_created", target=username,
                 detail={"role": role, "unit": organisation_code})
    return user, generated


def set_password(*, session: Session, user: User, password: str, actor: str) -> None:
    """A new password; every open session of the account ends (sign in again)."""
    user.password_hash = hash_password(password)
    user.must_change_password = False
    session.add(user)
    revoke_user_sessions(session=session, username=user.username)
    append_audit(session=session, username=actor, action="password_changed", target=user.username)


@dataclass(frozen=True)
class Scope:
    """What one user may see: every organisation (admin) or a subtree of the unit tree."""

    username: str
    role: str
    organisation_ids: frozenset[int] | None  # None = everything

    @property
    def sees_everything(self) -> bool:
        return self.organisation_ids is None

    def allows(self, organisation: Organisation | None) -> bool:
        return organisation is not None and (
            self.organisation_ids is None or organisation.id in self.organisation_ids
        )

    def unit_ids(self) -> frozenset[int] | None:
        """Filter for response queries (None = no filter)."""
        return self.organisation_ids

    def can_manage(self, what: str) -> bool:
        """Administration rights: 'users', 'units', 'questionnaires', 'campaigns', 'imports',
        'audit', 'par'."""
        rights = {
            "admin": {"users", "units", "questionnaires", "campaigns", "imports", "audit", "par"},
            "province": {"users", "campaigns", "imports", "par"},
            "unit": {"imports", "campaigns"},
        }
        return what in rights.get(self.role, set())


def scope_of(*, session: Session, user: User) -> Scope:
    """The scope of an account: admin → everything; others → their unit and everything below."""
    if user.role == "admin":
        return Scope(user.username, user.role, None)
    if user.organisation_id is None or not _unit_active(session, user):
        return Scope(user.username, user.role, frozenset())
    ids = descendant_ids(session=session, organisation_id=user.organisation_id)
    return Scope(user.username, user.role, frozenset(ids))


FULL_ACCESS = Scope("system", "admin", None)


def require_unit(*, session: Session, scope: Scope, code: str) -> Organisation:
    """The organisation `code` if the scope allows it; AccessDenied otherwise.

    Unknown and forbidden codes get the same message, so nothing leaks.
    """
    organisation = get_organisation(session=session, code=code)
    if not scope.allows(organisation):
        raise AccessDenied("access.unit", code=code)
    return organisation


def visible_organisations(*, session: Session, scope: Scope) -> list[Organisation]:
    """The organisations a scope may see, ordered by code."""
    return [o for o in list_organisations(session=session) if scope.allows(o)]

