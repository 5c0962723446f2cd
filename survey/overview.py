"""The home page's figures: units, questionnaire versions and responses per quarter."""

from __future__ import annotations

import pandas as pd
from sqlmodel import Session

from survey.auth import Scope
from survey.storage.organisations import list_organisations
from survey.storage.questionnaires import count_responses_for_version, list_questionnaire_versions
from survey.storage.responses import response_counts


def units_table(*, session: Session, scope: Scope) -> pd.DataFrame:
    """The units a scope sees, with their parent and kind, by code."""
    organisations = [o for o in list_organisations(session=session) if scope.allows(o)]
    by_id = {o.id: o for o in organisations}
    return pd.DataFrame(
        [
            {
                "code": o.code,
                "name": o.name,
                "kind": o.kind,
                "parent": by_id[o.parent_id].code if o.parent_id in by_id else "",
            }
            for o in organisations
        ],
        columns=["code", "name", "kind", "parent"],
    )


def questionnaires_table(*, session: Session, scope: Scope) -> pd.DataFrame:
    """Registered questionnaire versions with their response counts within a scope."""
    return pd.DataFrame(
        [
            {
                "family": row.family,
                "version": row.version,
                "title": row.title,
                "responses": count_responses_for_version(
                    session=session, version_id=row.id, unit_ids=scope.unit_ids()
                ),
            }
            for row in list_questionnaire_versions(session=session)
        ],
        columns=["family", "version", "title", "responses"],
    )


def responses_by_quarter(
    *, session: Session, scope: Scope, family: str | None = None
) -> pd.DataFrame:
    """Units × quarters: number of responses (0 where none), units as rows, within a scope."""
    counts = response_counts(session=session, unit_ids=scope.unit_ids())
    if family:
        counts = counts[counts["family"] == family]
    if counts.empty:
        return pd.DataFrame()
    table = counts.pivot_table(
        index=["unit", "name"], columns="period", values="responses", aggfunc="sum", fill_value=0
    )
    table.columns.name = None
    return table.reset_index()
