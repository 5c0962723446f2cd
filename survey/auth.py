"""Staff accounts: argon2 password hashing, throttled login, and the scope of what a user sees.

The scope is enforced here, in the domain package: every query of responses or scores for
a user goes through `Scope`, so a unit user asking for another unit (a query parameter, a
select box value, an export request, a CLI flag) is refused, whatever the page shows.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session

from survey.login_guard import (
    HashingBusy,
    HashingGate,
    SignInGuard,
    Ticket,
    shared_gate,
    shared_guard,
)
from survey.models import LoginAttempt, Organisation, User, utcnow
from survey.storage import StorageError
from survey.storage.audit import append_audit
from survey.storage.organisations import descendant_ids, get_organisation, list_organisations
from survey.storage.sessions import revoke_user_sessions
from survey.storage.users import (
    add_user,
    forget_login_attempt,
    get_user,
    lock_login_name,
    mark_login_succeeded,
    purge_old_login_records,
    recent_login_attempts,
    record_login_attempt,
)
from survey.text import SurveyError, Text

HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
FREE_FAILURES = 3  # failures allowed before delays start
MAX_DELAY_SECONDS = 15 * 60
FAILURE_WINDOW = timedelta(hours=24)
DEFAULT_LOGIN_RECORD_DAYS = 30
PURGE_EVERY_SECONDS = 3600.0
UNKNOWN_USER = "?"  # the audit's name for a sign-in attempt on a name that is no account
# A fixed hash to verify against when the user does not exist, so timing does not tell.
@cache
def _dummy_hash() -> str:
    """A hash to check unknown usernames against (same cost as a real one), made on first use
    rather than at import: a command that never signs anyone in pays nothing."""
    return HASHER.hash("not-a-real-password-" + secrets.token_hex(8))
_COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


class AccessDenied(SurveyError, PermissionError):
    """The user may not see or change this (a message code and its parameters)."""


class LoginRefused(ValueError):
    """Wrong credentials, inactive account, or too many failures (`retry_after` seconds)."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


PASSWORD_PROBLEMS = {
    "too_short": Text(f"Mật khẩu cần ít nhất {MIN_PASSWORD_LENGTH} ký tự.",
                      f"The password needs at least {MIN_PASSWORD_LENGTH} characters."),
    "common": Text("Mật khẩu này quá phổ biến (nằm trong danh sách mật khẩu hay bị dò); "
                   "hãy chọn mật khẩu khác, ví dụ một câu ngắn dễ nhớ.",
                   "This password is too common (it is on a list of often-guessed passwords); "
                   "choose another, for example a short sentence you remember."),
    "username": Text("Mật khẩu không được trùng hoặc chứa tên đăng nhập.",
                     "The password must not be or contain the username."),
}


class WeakPassword(StorageError):
    """A password the policy refuses; `reason` is a key of PASSWORD_PROBLEMS and the message
    (str) is Vietnamese, `text(lang)` gives either language."""

    def __init__(self, reason: str):
        super().__init__(PASSWORD_PROBLEMS[reason].vi)
        self.reason = reason

    def text(self, lang: str = "vi") -> str:
        return PASSWORD_PROBLEMS[self.reason].get(lang)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (10+ characters, lower case)."""
    lines = _COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why the policy refuses `password` (a key of PASSWORD_PROBLEMS), or None: at least
    MIN_PASSWORD_LENGTH characters, not on the common-password list (case ignored), not the
    username nor containing it (case ignored, usernames of 4+ characters)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "too_short"
    folded = password.strip().casefold()
    if folded in common_passwords():
        return "common"
    name = (username or "").strip().casefold()
    if name and (folded == name or (len(name) >= 4 and name in folded)):
        return "username"
    return None


def check_password_policy(password: str, username: str | None = None) -> None:
    """WeakPassword (with the Vietnamese reason) when the policy refuses `password`."""
    problem = password_problem(password, username)
    if problem:
        raise WeakPassword(problem)


def hash_password(password: str, username: str | None = None) -> str:
    """Argon2id hash of a password the policy accepts (WeakPassword otherwise). Hashing
    waits for a slot of the process's hashing gate."""
    check_password_policy(password, username)
    with shared_gate().slot(wait=True):
        return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def one_time_password(username: str | None = None) -> str:
    """A random password to hand over once (16 URL-safe characters) that the policy accepts."""
    while True:
        password = secrets.token_urlsafe(12)
        if password_problem(password, username) is None:
            return password


def login_delay(failures: int) -> float:
    """Seconds to wait after `failures` consecutive failures: 0 for the first 3, then
    2, 4, 8 … seconds, at most 15 minutes."""
    if failures < FREE_FAILURES:
        return 0.0
    return float(min(2 ** (failures - FREE_FAILURES + 1), MAX_DELAY_SECONDS))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _wait_after(attempts: list, now: datetime) -> float:
    """Seconds still to wait given the attempts (newest first) since the window's start."""
    failures = 0
    for attempt in attempts:
        if attempt.succeeded:
            break
        failures += 1
    if not failures:
        return 0.0
    allowed_at = _aware(attempts[0].at) + timedelta(seconds=login_delay(failures))
    return max(0.0, (allowed_at - now).total_seconds())


def seconds_until_allowed(*, session: Session, username: str, now: datetime | None = None) -> float:
    """How long `username` must wait before the next attempt (0 = may try now)."""
    now = now or utcnow()
    attempts = recent_login_attempts(session=session, username=username, since=now - FAILURE_WINDOW)
    return _wait_after(attempts, now)


def attempt_name(username: str, user: User | None) -> str:
    """The name an attempt is recorded under: the account's, or for a name that is no
    account a fixed-length digest (never the text someone typed)."""
    if user is not None:
        return user.username
    return UNKNOWN_USER + hashlib.sha256(username.encode("utf-8", "replace")).hexdigest()[:40]


def login_record_days(environ: Mapping[str, str] | None = None) -> float:
    """How long sign-in attempts and the audit entries of failures on unknown names are kept
    (SURVEY_LOGIN_RECORD_DAYS, default 30, at least 1: the delays look back 24 hours)."""
    env = os.environ if environ is None else environ
    days = float(env.get("SURVEY_LOGIN_RECORD_DAYS", DEFAULT_LOGIN_RECORD_DAYS))
    if days < 1:
        raise ValueError("SURVEY_LOGIN_RECORD_DAYS must be at least 1 (day)")
    return days


_last_purge = [float("-inf")]


def purge_login_records(*, session: Session, now: datetime | None = None) -> int:
    """Delete sign-in attempts and anonymous failure audit entries older than
    `login_record_days()`; the caller commits. Returns how many rows went."""
    cutoff = (now or utcnow()) - timedelta(days=login_record_days())
    return purge_old_login_records(session=session, before=cutoff, unknown_user=UNKNOWN_USER)


def _reserve(session: Session, name: str, *, account_delay: bool, now: datetime):
    """Record the attempt (as a failure until it succeeds) before any password check, in one
    transaction that holds the account's lock: of simultaneous attempts, each sees the ones
    before it. Returns the attempt row, or the seconds to wait (nothing recorded)."""
    lock_login_name(session=session, name=name)
    row = record_login_attempt(session=session, username=name, succeeded=False, at=now)
    if account_delay:
        earlier = [a for a in recent_login_attempts(session=session, username=name,
                                                    since=now - FAILURE_WINDOW)
                   if a.id != row.id]
        wait = _wait_after(earlier, now)
        if wait > 0:
            session.rollback()
            return wait
    if time.monotonic() - _last_purge[0] >= PURGE_EVERY_SECONDS:
        _last_purge[0] = time.monotonic()
        purge_login_records(session=session, now=now)
    session.commit()
    return row


def authenticate(
    *, session: Session, username: str, password: str, address: str | None = None,
    guard: SignInGuard | None = None, gate: HashingGate | None = None,
) -> User:
    """The user for these credentials; every attempt is recorded and audited.

    The attempt is reserved before the password is checked (so simultaneous guesses are
    counted one after another); the per-address checks and the hashing bound are in
    `survey.login_guard` (`address` is the client's network address, None from the
    command line). Raises LoginRefused with the same message for an unknown user and a
    wrong password, with `retry_after` while a delay runs; HashingBusy when every hashing
    slot is taken (nothing is counted then).
    """
    username = username.strip()
    guard = guard or shared_guard()
    gate = gate or shared_gate()
    ticket = guard.reserve(address, username)
    if not isinstance(ticket, Ticket):
        raise LoginRefused(f"too many failed attempts: try again in {ticket:.0f} s",
                           retry_after=ticket)
    failed = False
    try:
        user = get_user(session=session, username=username) if username else None
        name = attempt_name(username, user)
        row = _reserve(session, name, account_delay=ticket.account_delay, now=utcnow())
        if not isinstance(row, LoginAttempt):
            raise LoginRefused(f"too many failed attempts: try again in {row:.0f} s",
                               retry_after=row)
        try:
            with gate.slot():
                valid = verify_password(user.password_hash if user else _dummy_hash(), password)
        except HashingBusy:
            forget_login_attempt(session=session, attempt_id=row.id)
            session.commit()
            raise
        succeeded = bool(user and user.active and valid and _unit_active(session, user))
        failed = not succeeded
        if succeeded:
            mark_login_succeeded(session=session, attempt_id=row.id)
        append_audit(session=session, username=user.username if user else UNKNOWN_USER,
                     action="login" if succeeded else "login_failed")
        session.commit()
    finally:
        guard.settle(ticket, failed=failed)
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
        generated = one_time_password(username.strip())
        password = generated
    user = add_user(session=session, username=username,
                    password_hash=hash_password(password, username.strip()),
                    role=role, organisation_code=organisation_code)
    user.must_change_password = generated is not None
    session.add(user)
    append_audit(session=session, username=actor, action="user_created", target=username,
                 detail={"role": role, "unit": organisation_code})
    return user, generated


def set_password(*, session: Session, user: User, password: str, actor: str) -> None:
    """A new password; every open session of the account ends (sign in again)."""
    user.password_hash = hash_password(password, user.username)
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

