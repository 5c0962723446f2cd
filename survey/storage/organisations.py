"""Storage of organisations."""


from __future__ import annotations

import re

from sqlmodel import Session, select

from survey.models import (
    ORGANISATION_KINDS,
    Organisation,
)
from survey.storage import StorageError

MAX_NAME_LENGTH = 300


def add_organisation(
    *, session: Session, code: str, name: str, parent_code: str | None = None, kind: str | None = None
) -> Organisation:
    """Add a province, unit or sub-unit; `kind` defaults from the parent's depth."""
    code = code.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", code):
        raise StorageError(f"unit code {code!r}: use 1–40 letters, digits, '.', '-' or '_'")
    problem = name_problem(name)
    if problem:
        raise StorageError(f"unit {code}: {problem}")
    if kind is not None and kind not in ORGANISATION_KINDS:
        raise StorageError(f"unit {code}: kind {kind!r} (use {', '.join(ORGANISATION_KINDS)})")
    if get_organisation(session=session, code=code):
        raise StorageError(f"unit {code} already exists")
    parent = None
    if parent_code:
        parent = get_organisation(session=session, code=parent_code)
        if parent is None:
            raise StorageError(f"parent unit {parent_code} does not exist")
    if kind is None:
        kind = "province" if parent is None else ("unit" if parent.kind == "province" else "subunit")
    organisation = Organisation(
        code=code, name=name.strip(), kind=kind, parent_id=parent.id if parent else None
    )
    session.add(organisation)
    session.flush()
    return organisation


def name_problem(name: str) -> str | None:
    """Why a unit name cannot be stored (empty, over 300 characters, a NUL), or None."""
    if not name.strip():
        return "the name must not be empty"
    if len(name.strip()) > MAX_NAME_LENGTH:
        return f"the name is longer than {MAX_NAME_LENGTH} characters"
    if "\x00" in name:
        return "the name contains a NUL character"
    return None


def get_organisation(*, session: Session, code: str) -> Organisation | None:
    if "\x00" in code or len(code) > 40:  # cannot exist; PostgreSQL refuses NUL in text
        return None
    return session.exec(select(Organisation).where(Organisation.code == code)).first()


def list_organisations(*, session: Session, include_inactive: bool = False) -> list[Organisation]:
    """Every organisation, ordered by code."""
    query = select(Organisation).order_by(Organisation.code)
    if not include_inactive:
        query = query.where(Organisation.active == True)  # noqa: E712
    return list(session.exec(query))


def list_units(*, session: Session) -> list[Organisation]:
    """The units and sub-units that collect responses (not the province itself)."""
    return [o for o in list_organisations(session=session) if o.kind != "province"]


def descendant_ids(*, session: Session, organisation_id: int) -> set[int]:
    """The ids of an organisation and everything below it in the tree."""
    children: dict[int | None, list[int]] = {}
    for org in list_organisations(session=session, include_inactive=True):
        children.setdefault(org.parent_id, []).append(org.id)
    found, todo = set(), [organisation_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, []))
    return found


def list_children(*, session: Session, organisation_id: int, include_inactive: bool = False) -> list[Organisation]:
    """The direct sub-units of an organisation, by code."""
    query = select(Organisation).where(Organisation.parent_id == organisation_id).order_by(Organisation.code)
    if not include_inactive:
        query = query.where(Organisation.active == True)  # noqa: E712
    return list(session.exec(query))


def rename_organisation(*, session: Session, organisation: Organisation, name: str) -> Organisation:
    """Give a unit a new name (its code, the key of imports and links, never changes)."""
    name = name.strip()
    if not name:
        raise StorageError(f"unit {organisation.code}: the name must not be empty")
    if len(name) > 300:
        raise StorageError(f"unit {organisation.code}: the name is longer than 300 characters")
    organisation.name = name
    session.add(organisation)
    session.flush()
    return organisation


def _kind_below(parent: Organisation | None) -> str:
    return "province" if parent is None else ("unit" if parent.kind == "province" else "subunit")


def move_organisation(
    *, session: Session, organisation: Organisation, parent: Organisation | None
) -> Organisation:
    """Put a unit (with everything below it) under `parent` (None = a root of the tree).

    A unit cannot move under itself or one of its descendants, nor under an inactive
    unit. Kinds follow the new place, as for a new unit: under a province a unit,
    below a unit a sub-unit, at the root a province.
    """
    if parent is not None:
        if parent.id in descendant_ids(session=session, organisation_id=organisation.id):
            raise StorageError(
                f"unit {organisation.code} cannot move under {parent.code}: "
                f"{parent.code} is {organisation.code} itself or one of its sub-units"
            )
        if not parent.active:
            raise StorageError(f"parent unit {parent.code} is deactivated")
    if organisation.parent_id == (parent.id if parent else None):
        where = parent.code if parent else "the root"
        raise StorageError(f"unit {organisation.code} is already under {where}")
    organisation.parent_id = parent.id if parent else None
    organisation.kind = _kind_below(parent)
    session.add(organisation)
    todo = [organisation]
    while todo:
        current = todo.pop()
        for child in list_children(session=session, organisation_id=current.id, include_inactive=True):
            child.kind = _kind_below(current)
            session.add(child)
            todo.append(child)
    session.flush()
    return organisation


def set_organisation_active(
    *, session: Session, organisation: Organisation, active: bool
) -> Organisation:
    """Deactivate a unit (kept with its responses, hidden from lists) or reactivate it.

    A unit with active sub-units cannot be deactivated (deactivate or move them
    first), and a unit under an inactive parent cannot be reactivated.
    """
    if organisation.active == active:
        state = "active" if active else "deactivated"
        raise StorageError(f"unit {organisation.code} is already {state}")
    if not active:
        children = list_children(session=session, organisation_id=organisation.id)
        if children:
            codes = ", ".join(c.code for c in children)
            raise StorageError(
                f"unit {organisation.code} has active sub-units ({codes}): "
                "deactivate or move them first"
            )
    elif organisation.parent_id is not None:
        parent = session.get(Organisation, organisation.parent_id)
        if parent is not None and not parent.active:
            raise StorageError(
                f"unit {organisation.code} is under the deactivated unit {parent.code}: "
                "reactivate it first"
            )
    organisation.active = active
    session.add(organisation)
    session.flush()
    return organisation
