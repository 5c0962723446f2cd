"""Administration use-cases: check the caller's right and scope, make the change, audit it.

Each function takes the caller's `Scope` and raises `AccessDenied` when the role lacks
the right or the target lies outside the scope (an unknown target and a forbidden one
get the same message, so nothing leaks). The change and its audit entry are committed
together; on any error the session is rolled back. Pages and CLI commands call these
functions and only show the outcome. No Streamlit here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from sqlmodel import Session

from survey.auth import (
    AccessDenied,
    Scope,
    create_user,
    hash_password,
    one_time_password,
    require_unit,
)
from survey.importer import (
    OVERLAP_ROWS_LISTED,
    ImportFailed,
    ImportResult,
    Inspection,
    import_responses,
    inspect_file,
)
from survey.messages import ROLE_NAMES
from survey.models import Organisation, QuestionnaireVersion, User
from survey.questionnaire import Questionnaire, QuestionnaireError, parse_questionnaire
from survey.storage import StorageError
from survey.storage.audit import append_audit, read_audit
from survey.storage.organisations import (
    add_organisation,
    list_organisations,
    move_organisation,
    rename_organisation,
    set_organisation_active,
)
from survey.storage.questionnaires import (
    count_responses_for_version,
    list_questionnaire_versions,
    questionnaire_of,
    register_questionnaire,
)
from survey.storage.sessions import revoke_user_sessions
from survey.storage.users import (
    count_active_admins,
    get_user,
    list_users,
    set_user_active,
    set_user_role,
)
from survey.text import Notice, tr

CLI_SCOPE = Scope("cli", "admin", None)  # what the server's command line may do, audited as "cli"
LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")  # audit dates are days in Vietnam
RIGHT_NAMES = {
    "users": "accounts", "units": "units", "questionnaires": "questionnaires",
    "campaigns": "campaigns", "imports": "imports", "audit": "the audit log", "par": "the PAR index",
}


def require_right(scope: Scope, right: str) -> None:
    """AccessDenied unless the scope's role has the administration `right`."""
    if not scope.can_manage(right):
        raise AccessDenied(f"access.right.{right}", role=ROLE_NAMES.get(scope.role, scope.role))


@contextmanager
def _transaction(session: Session) -> Iterator[None]:
    """Commit the change and its audit entry together; roll both back on any error."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


# --- units ----------------------------------------------------------------------------------


def unit_tree(*, session: Session, scope: Scope, include_inactive: bool = True) -> pd.DataFrame:
    """The units a scope sees as a tree, depth first, children by code.

    Columns: code, name, label (the name indented by depth), kind, parent, active, depth.
    A unit whose parent is outside the scope is a root of the scope's tree.
    """
    organisations = [
        o for o in list_organisations(session=session, include_inactive=include_inactive)
        if scope.allows(o)
    ]
    by_id = {o.id: o for o in organisations}
    children: dict[int | None, list[Organisation]] = {}
    for organisation in organisations:
        parent = organisation.parent_id if organisation.parent_id in by_id else None
        children.setdefault(parent, []).append(organisation)
    rows: list[dict] = []
    todo = [(o, 0) for o in reversed(children.get(None, []))]
    while todo:
        organisation, depth = todo.pop()
        parent = by_id.get(organisation.parent_id)
        rows.append({
            "code": organisation.code,
            "name": organisation.name,
            "label": "\u2003" * depth + ("└ " if depth else "") + organisation.name,
            "kind": organisation.kind,
            "parent": parent.code if parent else "",
            "active": organisation.active,
            "depth": depth,
        })
        todo.extend((child, depth + 1) for child in reversed(children.get(organisation.id, [])))
    return pd.DataFrame(
        rows, columns=["code", "name", "label", "kind", "parent", "active", "depth"]
    )


def add_unit(
    *, session: Session, scope: Scope, code: str, name: str, parent_code: str | None = None,
    kind: str | None = None,
) -> Organisation:
    """Add a unit under `parent_code` (a root of the tree only for a scope that sees everything)."""
    require_right(scope, "units")
    with _transaction(session):
        if parent_code:
            require_unit(session=session, scope=scope, code=parent_code)
        elif not scope.sees_everything:
            raise AccessDenied("access.parent_outside")
        organisation = add_organisation(
            session=session, code=code, name=name, parent_code=parent_code or None, kind=kind
        )
        append_audit(session=session, username=scope.username, action="unit_added",
                     target=organisation.code,
                     detail={"name": organisation.name, "parent": parent_code or None,
                             "kind": organisation.kind})
    return organisation


def rename_unit(*, session: Session, scope: Scope, code: str, name: str) -> Organisation:
    """Give a unit a new name; its code stays."""
    require_right(scope, "units")
    with _transaction(session):
        organisation = require_unit(session=session, scope=scope, code=code)
        previous = organisation.name
        rename_organisation(session=session, organisation=organisation, name=name)
        append_audit(session=session, username=scope.username, action="unit_renamed",
                     target=code, detail={"from": previous, "to": organisation.name})
    return organisation


def move_unit(
    *, session: Session, scope: Scope, code: str, parent_code: str | None
) -> Organisation:
    """Put a unit (and its sub-units) under another parent; cycles are refused."""
    require_right(scope, "units")
    with _transaction(session):
        organisation = require_unit(session=session, scope=scope, code=code)
        if parent_code:
            parent = require_unit(session=session, scope=scope, code=parent_code)
        elif scope.sees_everything:
            parent = None
        else:
            raise AccessDenied("access.parent_outside")
        previous = session.get(Organisation, organisation.parent_id) if organisation.parent_id else None
        move_organisation(session=session, organisation=organisation, parent=parent)
        append_audit(session=session, username=scope.username, action="unit_moved", target=code,
                     detail={"from": previous.code if previous else None,
                             "to": parent.code if parent else None})
    return organisation


def _set_unit_active(session: Session, scope: Scope, code: str, active: bool) -> Organisation:
    require_right(scope, "units")
    with _transaction(session):
        organisation = require_unit(session=session, scope=scope, code=code)
        set_organisation_active(session=session, organisation=organisation, active=active)
        append_audit(session=session, username=scope.username,
                     action="unit_reactivated" if active else "unit_deactivated", target=code)
    return organisation


def deactivate_unit(*, session: Session, scope: Scope, code: str) -> Organisation:
    """Hide a unit from lists and imports; its responses stay."""
    return _set_unit_active(session, scope, code, False)


def reactivate_unit(*, session: Session, scope: Scope, code: str) -> Organisation:
    return _set_unit_active(session, scope, code, True)


# --- accounts -------------------------------------------------------------------------------


def _user_in_scope(scope: Scope, user: User) -> bool:
    """Admins (no unit) are visible to a scope that sees everything only."""
    return scope.sees_everything or (
        user.organisation_id is not None and user.organisation_id in scope.organisation_ids
    )


def _managed_user(session: Session, scope: Scope, username: str) -> User:
    user = get_user(session=session, username=username.strip())
    if user is None or not _user_in_scope(scope, user):
        raise AccessDenied("access.user", username=username)
    return user


def _check_assignment(session: Session, scope: Scope, role: str, unit_code: str | None) -> str | None:
    """The unit code to store for `role`, after the scope checks."""
    if role == "admin":
        if scope.role != "admin":
            raise AccessDenied("access.admin_role")
        return None
    if not unit_code:
        raise StorageError("account.role_needs_unit", role=ROLE_NAMES.get(role, role))
    organisation = require_unit(session=session, scope=scope, code=unit_code)
    if not organisation.active:
        raise StorageError("unit.deactivated", code=unit_code)
    if role == "unit" and organisation.kind == "province":
        raise StorageError("account.unit_role_on_province", code=organisation.code,
                           name=organisation.name)
    return organisation.code


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse a change that would leave no active admin."""
    if user.role == "admin" and user.active and count_active_admins(session=session) <= 1:
        raise StorageError("account.last_admin", username=user.username)


def users_table(*, session: Session, scope: Scope) -> pd.DataFrame:
    """Accounts within the scope, by name: username, role, unit, unit_name, active,
    must_change_password, created_at."""
    require_right(scope, "users")
    units = {o.id: o for o in list_organisations(session=session, include_inactive=True)}
    rows = []
    for user in list_users(session=session):
        if not _user_in_scope(scope, user):
            continue
        unit = units.get(user.organisation_id)
        rows.append({
            "username": user.username, "role": user.role,
            "unit": unit.code if unit else "", "unit_name": unit.name if unit else "",
            "active": user.active, "must_change_password": user.must_change_password,
            "created_at": user.created_at,
        })
    return pd.DataFrame(rows, columns=["username", "role", "unit", "unit_name", "active",
                                       "must_change_password", "created_at"])


def create_account(
    *, session: Session, scope: Scope, username: str, role: str, unit_code: str | None
) -> tuple[User, str]:
    """Create an account with a one-time password; returns (user, password shown once)."""
    require_right(scope, "users")
    with _transaction(session):
        unit = _check_assignment(session, scope, role, unit_code)
        user, password = create_user(session=session, username=username, role=role,
                                     organisation_code=unit, actor=scope.username)
    return user, password


def reset_password(*, session: Session, scope: Scope, username: str) -> str:
    """Give an account a new one-time password (to change at next sign-in); returns it.

    Decision (issue 14): only an admin resets the password of a province or admin account. A
    province account resets the passwords of the unit accounts of its province, never another
    province account's: a reset gives the one who does it the other's sign-in, so it must go
    only downwards.
    """
    require_right(scope, "users")
    with _transaction(session):
        user = _managed_user(session, scope, username)
        if scope.role != "admin" and user.role in ("admin", "province"):
            raise AccessDenied("access.reset_peer", username=user.username)
        password = one_time_password(user.username)
        user.password_hash = hash_password(password, user.username)
        user.must_change_password = True
        session.add(user)
        revoke_user_sessions(session=session, username=user.username)
        append_audit(session=session, username=scope.username, action="password_reset",
                     target=user.username)
    return password


def change_role(
    *, session: Session, scope: Scope, username: str, role: str, unit_code: str | None
) -> User:
    """Give an account another role and/or unit (never one's own: ask another admin)."""
    require_right(scope, "users")
    with _transaction(session):
        user = _managed_user(session, scope, username)
        if user.username == scope.username:
            raise AccessDenied("access.own_role")
        unit = _check_assignment(session, scope, role, unit_code)
        if role != "admin":
            _keep_an_admin(session, user)
        previous = session.get(Organisation, user.organisation_id) if user.organisation_id else None
        before = {"role": user.role, "unit": previous.code if previous else None}
        set_user_role(session=session, user=user, role=role, organisation_code=unit)
        append_audit(session=session, username=scope.username, action="user_role_changed",
                     target=user.username,
                     detail={"from": before, "to": {"role": role, "unit": unit}})
    return user


def _set_user_active(session: Session, scope: Scope, username: str, active: bool) -> User:
    require_right(scope, "users")
    with _transaction(session):
        user = _managed_user(session, scope, username)
        if not active:
            if user.username == scope.username:
                raise AccessDenied("access.own_account")
            _keep_an_admin(session, user)
        set_user_active(session=session, user=user, active=active)
        if not active:
            revoke_user_sessions(session=session, username=user.username)
        append_audit(session=session, username=scope.username,
                     action="user_reactivated" if active else "user_deactivated",
                     target=user.username)
    return user


def deactivate_user(*, session: Session, scope: Scope, username: str) -> User:
    """The account can no longer sign in; its open sessions end at their next page."""
    return _set_user_active(session, scope, username, False)


def reactivate_user(*, session: Session, scope: Scope, username: str) -> User:
    return _set_user_active(session, scope, username, True)


# --- questionnaires -------------------------------------------------------------------------


def questionnaire_versions_table(*, session: Session, scope: Scope) -> pd.DataFrame:
    """Registered versions with their response counts (within the scope) and whether they
    are read-only (a version with responses keeps its content)."""
    rows = []
    for row in list_questionnaire_versions(session=session):
        total = count_responses_for_version(session=session, version_id=row.id)
        rows.append({
            "family": row.family, "version": row.version, "title": row.title,
            "responses": count_responses_for_version(
                session=session, version_id=row.id, unit_ids=scope.unit_ids()
            ) if not scope.sees_everything else total,
            "read_only": total > 0,
            "registered_at": row.registered_at,
        })
    return pd.DataFrame(rows, columns=["family", "version", "title", "responses", "read_only",
                                       "registered_at"])


def read_questionnaire_upload(content: bytes, filename: str) -> Questionnaire:
    """Parse an uploaded questionnaire file; QuestionnaireError names the bad key paths."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise QuestionnaireError(filename, [("", Notice("questionnaire.not_utf8"))]) from None
    try:
        return parse_questionnaire(text, source=filename)
    except QuestionnaireError:
        raise
    except RecursionError:  # yaml.safe_load on absurdly nested input
        raise QuestionnaireError(filename, [("", Notice("questionnaire.too_deep"))]) from None
    except Exception as exc:  # noqa: BLE001 - an uploaded file must never end in a traceback
        raise QuestionnaireError(
            filename, [("", f"the file cannot be read as a questionnaire ({type(exc).__name__}: {exc})")]
        ) from None


@dataclass(frozen=True)
class RegistrationCheck:
    """What registering a questionnaire would do."""

    registered: bool  # a version with this id and version exists
    same_content: bool
    responses: int  # responses of the registered version (all units)
    indices_only: bool = False  # the content differs only in its indices (allowed)

    @property
    def read_only(self) -> bool:
        """The registered version has responses: different content would be refused."""
        return (self.registered and self.responses > 0 and not self.same_content
                and not self.indices_only)


def check_registration(*, session: Session, questionnaire: Questionnaire) -> RegistrationCheck:
    for row in list_questionnaire_versions(session=session, family=questionnaire.id):
        if row.version == questionnaire.version:
            return RegistrationCheck(
                True, row.content_hash == questionnaire.content_hash,
                count_responses_for_version(session=session, version_id=row.id),
                questionnaire_of(row).differs_only_in_indices(questionnaire),
            )
    return RegistrationCheck(False, False, 0)


def register_questionnaire_upload(
    *, session: Session, scope: Scope, content: bytes, filename: str
) -> tuple[QuestionnaireVersion, str]:
    """Validate and register an uploaded file; (row, 'added' | 'unchanged' | 'updated').

    Different content under a version that has responses is refused by storage.
    """
    require_right(scope, "questionnaires")
    questionnaire = read_questionnaire_upload(content, filename)
    with _transaction(session):
        row, outcome = register_questionnaire(session=session, questionnaire=questionnaire)
        append_audit(session=session, username=scope.username, action="questionnaire_registered",
                     target=questionnaire.key,
                     detail={"outcome": outcome, "file": filename,
                             "sha256": hashlib.sha256(content).hexdigest()})
    return row, outcome


def record_transactions(*, session: Session, scope: Scope, unit_code: str,
                        counts: dict[str, int]) -> None:
    """Record the files a unit handled per quarter (hồ sơ giải quyết), for the coverage view:
    the unit must be within the scope; changed, audited as "transactions_recorded" and
    committed in one transaction."""
    from survey.auth import require_unit
    from survey.periods import parse_quarter
    from survey.storage.transactions import set_transactions

    unit = require_unit(session=session, scope=scope, code=unit_code)
    counts = {str(parse_quarter(quarter)): int(n) for quarter, n in counts.items()}
    with _transaction(session):
        for quarter, transactions in counts.items():
            set_transactions(session=session, unit_id=unit.id, period=quarter,
                             transactions=int(transactions))
        append_audit(session=session, username=scope.username, action="transactions_recorded",
                     target=unit.code, detail={q: int(n) for q, n in counts.items()})


def export_responses(*, session: Session, scope: Scope, family: str | None, out: Path) -> int:
    """Write the anonymised responses (and their codebook) of everything — the server's
    command line only, as the file holds every unit — audited as "responses_exported"."""
    from survey.exports import write_responses_csv

    if not scope.sees_everything:
        raise AccessDenied("access.right.exports", role=scope.role)
    count = write_responses_csv(session=session, family=family, out=out)
    with _transaction(session):
        append_audit(session=session, username=scope.username, action="responses_exported",
                     target=out.name, detail={"questionnaire": family or "*", "rows": count})
    return count


# --- imports --------------------------------------------------------------------------------


def preview_paper_forms(
    *, session: Session, scope: Scope, content: bytes, filename: str,
    version: QuestionnaireVersion, create_units: bool = False, parent_code: str | None = None,
    only_new_rows: bool = False,
) -> Inspection:
    """Check a paper-form file within the scope, storing nothing: the rows that would be
    stored, the problems, the units that would be created, the rows that would be skipped."""
    require_right(scope, "imports")
    return inspect_file(content, filename, session=session, version=version,
                        create_units=create_units, parent_code=parent_code, scope=scope,
                        only_new_rows=only_new_rows)


def import_paper_forms(
    *, session: Session, scope: Scope, content: bytes, filename: str,
    version: QuestionnaireVersion, create_units: bool = False, parent_code: str | None = None,
    only_new_rows: bool = False,
) -> ImportResult:
    """Import a paper-form file within the scope, all or nothing, audited as "import".

    With `only_new_rows`, rows an earlier import of the version already stored are left out
    and counted in the audit entry ("skipped_rows", the first row numbers in "skipped_first"). A refused file (ImportFailed, AccessDenied) stores nothing but is audited as
    "import_refused", so attempts on other units show in the log.
    """
    require_right(scope, "imports")
    key = f"{version.family}@{version.version}"
    try:
        result = import_responses(content, filename, session=session, version=version,
                                  create_units=create_units, parent_code=parent_code,
                                  scope=scope, only_new_rows=only_new_rows, commit=False)
    except (ImportFailed, AccessDenied) as exc:
        session.rollback()
        problems = len(exc.problems) if isinstance(exc, ImportFailed) else 1
        append_audit(session=session, username=scope.username, action="import_refused",
                     target=filename, detail={"questionnaire": key, "problems": problems})
        session.commit()
        raise
    detail = {"rows": result.rows, "questionnaire": key, "batch": result.batch_id,
              "created_units": result.created_units}
    if only_new_rows:
        detail |= {"only_new_rows": True, "skipped_rows": len(result.skipped_rows),
                   "skipped_first": result.skipped_rows[:OVERLAP_ROWS_LISTED]}
    with _transaction(session):
        append_audit(session=session, username=scope.username, action="import", target=filename,
                     detail=detail)
    return result


# --- audit ----------------------------------------------------------------------------------

AUDIT_SCAN_LIMIT = 100_000  # entries read to apply an end date (the storage filters the start)
AUDIT_CHOICES_LIMIT = 10_000  # recent entries whose users and actions fill the filters


def _day_start(day: date) -> datetime:
    """Midnight of a Vietnamese day, in UTC (as the database stores times)."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_TIME).astimezone(UTC)


def audit_log(
    *, session: Session, scope: Scope, username: str | None = None, action: str | None = None,
    start: date | None = None, end: date | None = None, limit: int = 1000,
) -> pd.DataFrame:
    """Audit entries, newest first, filtered by user, action and days (Vietnam time, both
    ends included). Columns: id, at (Vietnam time), username, action, target, detail."""
    require_right(scope, "audit")
    entries = read_audit(session=session, username=username or None, action=action or None,
                         since=_day_start(start) if start else None,
                         limit=AUDIT_SCAN_LIMIT if end else limit)
    entries["at"] = pd.to_datetime(entries["at"], utc=True).dt.tz_convert(LOCAL_TIME)
    if end:
        entries = entries[entries["at"] < _day_start(end + timedelta(days=1))]
    entries = entries.head(limit).reset_index(drop=True)
    for column in ("target", "detail"):  # None, not NaN, where empty
        entries[column] = entries[column].astype(object).where(entries[column].notna(), None)
    return entries


def _detail_text(value, lang: str) -> str:
    from survey.messages import AUDIT_DETAIL_KEYS, ROLE_NAMES

    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            if item in (None, "", [], {}):
                continue
            name = AUDIT_DETAIL_KEYS[key].get(lang) if key in AUDIT_DETAIL_KEYS else key
            if key == "role" and item in ROLE_NAMES:
                item = ROLE_NAMES[item].get(lang)
            elif key == "problems" and isinstance(item, list):
                item = len(item)
            parts.append(f"{name}: {_detail_text(item, lang)}")
        return "; ".join(parts) if len(parts) != 1 or ";" in parts[0] else parts[0]
    if isinstance(value, list):
        return ", ".join(_detail_text(v, lang) for v in value)
    if isinstance(value, bool):
        return tr(lang, "có", "yes") if value else tr(lang, "không", "no")
    return str(value)


def readable_audit(entries: pd.DataFrame, lang: str = "vi") -> pd.DataFrame:
    """The audit log as people read it: action names in `lang` (the code kept in `action_code`),
    details as 'tên: …; trực thuộc: …' instead of JSON."""
    import json

    from survey.messages import AUDIT_ACTIONS

    def detail(text) -> str:
        if text is None or (isinstance(text, float) and pd.isna(text)):
            return ""
        try:
            return _detail_text(json.loads(text), lang)
        except (TypeError, ValueError):
            return str(text)

    shown = entries.copy()
    shown["action_code"] = shown["action"]
    shown["action"] = shown["action"].map(
        lambda a: AUDIT_ACTIONS[a].get(lang) if a in AUDIT_ACTIONS else a)
    shown["detail"] = shown["detail"].map(detail)
    shown["target"] = shown["target"].fillna("")
    return shown


def audit_action_label(action: str, lang: str = "vi") -> str:
    from survey.messages import AUDIT_ACTIONS

    return AUDIT_ACTIONS[action].get(lang) if action in AUDIT_ACTIONS else action


def audit_choices(*, session: Session, scope: Scope) -> tuple[list[str], list[str]]:
    """The usernames and actions found in the audit log, sorted (for filters)."""
    require_right(scope, "audit")
    entries = read_audit(session=session, limit=AUDIT_CHOICES_LIMIT)
    return sorted(entries["username"].dropna().unique()), sorted(entries["action"].dropna().unique())
