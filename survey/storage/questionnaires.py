"""Storage of questionnaires."""


from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import func
from sqlmodel import Session, col, select

from survey.models import (
    QuestionnaireVersion,
    Response,
    utcnow,
)
from survey.questionnaire import Questionnaire, parse_questionnaire
from survey.storage import StorageError


def count_responses_for_version(
    *, session: Session, version_id: int, unit_ids: Iterable[int] | None = None
) -> int:
    """Responses stored for a version (within `unit_ids` when given)."""
    query = select(func.count()).select_from(Response).where(
        Response.questionnaire_version_id == version_id
    )
    if unit_ids is not None:
        query = query.where(col(Response.unit_id).in_(list(unit_ids)))
    return session.exec(query).one()


def register_questionnaire(
    *, session: Session, questionnaire: Questionnaire
) -> tuple[QuestionnaireVersion, str]:
    """Register a version; returns (row, 'added' | 'unchanged' | 'updated').

    The same content twice is a no-op. Different content under an existing id and
    version replaces it only while no response uses that version, or when it differs only in
    its indices (answers, points and texts unchanged: e.g. the shipped `sipas` 2024 gaining its
    satisfaction share), which leaves every stored response's meaning and points intact.
    """
    existing = session.exec(
        select(QuestionnaireVersion).where(
            QuestionnaireVersion.family == questionnaire.id,
            QuestionnaireVersion.version == questionnaire.version,
        )
    ).first()
    if existing is not None:
        if existing.content_hash == questionnaire.content_hash:
            return existing, "unchanged"
        if (count_responses_for_version(session=session, version_id=existing.id)
                and not questionnaire_of(existing).differs_only_in_indices(questionnaire)):
            raise StorageError(
                f"questionnaire {questionnaire.key} already has responses: its content cannot "
                "change. Register the revision under a new version."
            )
        existing.content = questionnaire.source_text
        existing.content_hash = questionnaire.content_hash
        existing.title = questionnaire.title.vi
        existing.registered_at = utcnow()
        session.add(existing)
        session.flush()
        return existing, "updated"
    row = QuestionnaireVersion(
        family=questionnaire.id,
        version=questionnaire.version,
        title=questionnaire.title.vi,
        content=questionnaire.source_text,
        content_hash=questionnaire.content_hash,
    )
    session.add(row)
    session.flush()
    return row, "added"


def _version_sort_key(version: str) -> tuple:
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"[.\-_]", version))


_parsed_cache: dict[tuple[str, str], Questionnaire] = {}


def questionnaire_of(row: QuestionnaireVersion) -> Questionnaire:
    """The parsed questionnaire of a registered row (parsed once per content)."""
    key = (row.content_hash, row.family)
    if key not in _parsed_cache:
        _parsed_cache[key] = parse_questionnaire(row.content, source=f"{row.family}@{row.version}")
    return _parsed_cache[key]


def list_questionnaire_versions(
    *, session: Session, family: str | None = None
) -> list[QuestionnaireVersion]:
    """Registered versions, by family then version (newest last)."""
    query = select(QuestionnaireVersion)
    if family:
        query = query.where(QuestionnaireVersion.family == family)
    rows = list(session.exec(query))
    return sorted(rows, key=lambda r: (r.family, _version_sort_key(r.version)))


def get_questionnaire_version(*, session: Session, reference: str) -> QuestionnaireVersion:
    """Resolve 'ID' (newest version) or 'ID@VERSION' to a registered version."""
    family, _, version = reference.partition("@")
    rows = list_questionnaire_versions(session=session, family=family)
    if not rows:
        known = sorted({r.family for r in list_questionnaire_versions(session=session)})
        raise StorageError(
            f"questionnaire {family!r} is not registered (registered: {', '.join(known) or 'none'})"
        )
    if not version:
        return rows[-1]
    for row in rows:
        if row.version == version:
            return row
    raise StorageError(
        f"questionnaire {family!r} has no version {version!r} "
        f"(versions: {', '.join(r.version for r in rows)})"
    )


def get_questionnaire_version_by_id(*, session: Session, version_id: int) -> QuestionnaireVersion:
    row = session.get(QuestionnaireVersion, version_id)
    if row is None:
        raise StorageError(f"questionnaire version #{version_id} does not exist")
    return row


def responses_by_version(
    *, session: Session, unit_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """Stored responses per questionnaire version id (within `unit_ids` when given)."""
    query = select(Response.questionnaire_version_id, func.count()).group_by(
        Response.questionnaire_version_id)
    if unit_ids is not None:
        query = query.where(col(Response.unit_id).in_(list(unit_ids)))
    return {version_id: int(count) for version_id, count in session.exec(query)}


def default_questionnaire_version(
    *, session: Session, unit_ids: Iterable[int] | None = None
) -> QuestionnaireVersion | None:
    """The questionnaire a page pre-selects: the family with the most responses (within
    `unit_ids`; the seven-dimension survey `dtxhh-*` when nothing is collected yet), in its
    latest version. Never simply the last registered."""
    rows = list_questionnaire_versions(session=session)
    if not rows:
        return None
    counts = responses_by_version(session=session, unit_ids=unit_ids)
    by_family: dict[str, int] = {}
    for row in rows:
        by_family[row.family] = by_family.get(row.family, 0) + counts.get(row.id, 0)
    family = max(by_family, key=lambda f: (by_family[f], f.startswith("dtxhh"), f))
    return [row for row in rows if row.family == family][-1]
