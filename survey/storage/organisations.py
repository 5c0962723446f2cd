"""Storage of organisations."""


from __future__ import annotations

import re

from sqlalchemy import func
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
        raise StorageError("unit.bad_code", code=code)
    problem = name_problem(name)
    if problem:
        raise StorageError(problem, code=code, n=MAX_NAME_LENGTH)
    if kind is not None and kind not in ORGANISATION_KINDS:
        raise StorageError("unit.bad_kind", code=code, kind=kind, kinds=list(ORGANISATION_KINDS))
    if get_organisation(session=session, code=code):
        raise StorageError("unit.exists", code=code)
    same_but_case = find_organisation_ignoring_case(session=session, code=code)
    if same_but_case is not None:  # HG02 exists: never add hg02 beside it
        raise StorageError("unit.exists_other_case", code=code, existing=same_but_case.code)
    parent = None
    if parent_code:
        parent = get_organisation(session=session, code=parent_code)
        if parent is None:
            raise StorageError("unit.parent_missing", code=parent_code)
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
    """(A message code: unit.name_empty, unit.name_long, unit.name_nul.)"""
    if not name.strip():
        return "unit.name_empty"
    if len(name.strip()) > MAX_NAME_LENGTH:
        return "unit.name_long"
    if "\x00" in name:
        return "unit.name_nul"
    return None


def find_organisation_ignoring_case(*, session: Session, code: str) -> Organisation | None:
    """The unit whose code equals `code` but for upper/lower case ('hg02' → HG02), or None."""
    if "\x00" in code or len(code) > 40:
        return None
    return session.exec(select(Organisation).where(
        func.lower(Organisation.code) == code.strip().lower())).first()


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
        raise StorageError("unit.name_empty", code=organisation.code)
    if len(name) > MAX_NAME_LENGTH:
        raise StorageError("unit.name_long", code=organisation.code, n=MAX_NAME_LENGTH)
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
            raise StorageError("unit.move_below_itself", code=organisation.code,
                               parent=parent.code)
        if not parent.active:
            raise StorageError("unit.parent_deactivated", code=parent.code)
    if organisation.parent_id == (parent.id if parent else None):
        if parent is None:
            raise StorageError("unit.already_root", code=organisation.code)
        raise StorageError("unit.already_under", code=organisation.code, parent=parent.code)
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
        raise StorageError("unit.already_active" if active else "unit.already_deactivated",
                           code=organisation.code)
    if not active:
        children = list_children(session=session, organisation_id=organisation.id)
        if children:
            codes = ", ".join(c.code for c in children)
            raise StorageError("unit.has_active_children", code=organisation.code, children=codes)
    elif organisation.parent_id is not None:
        parent = session.get(Organisation, organisation.parent_id)
        if parent is not None and not parent.active:
            raise StorageError("unit.under_deactivated", code=organisation.code, parent=parent.code)
    organisation.active = active
    session.add(organisation)
    session.flush()
    return organisation
