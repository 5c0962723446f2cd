"""Storage of organisations."""


from __future__ import annotations

import re

from sqlmodel import Session, select

from survey.models import (
    Organisation,
)
from survey.storage import StorageError


def add_organisation(
    *, session: Session, code: str, name: str, parent_code: str | None = None, kind: str | None = None
) -> Organisation:
    """Add a province, unit or sub-unit; `kind` defaults from the parent's depth."""
    code = code.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", code):
        raise StorageError(f"unit code {code!r}: use 1–40 letters, digits, '.', '-' or '_'")
    if not name.strip():
        raise StorageError(f"unit {code}: the name must not be empty")
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


def get_organisation(*, session: Session, code: str) -> Organisation | None:
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
