"""The one write path of responses: the citizen form's writer, the paper import, the demo data
and single stores all insert through `insert_new_responses`.

A batch takes the same few statements whatever its size: the response rows, each with its
answers in one compact value (survey/answer_codes.py), a key already stored being skipped
(ON CONFLICT (idempotency_key) DO NOTHING), then, only when some key was stored before, the
receipts of those keys. On PostgreSQL the rows travel as arrays (`unnest`) in one statement
whose text is the same for every batch (parsed and prepared once); on SQLite as one
multi-row INSERT per thousand rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from survey.models import Response, utcnow


@dataclass(frozen=True)
class NewResponse:
    """A checked response to insert: the values of its row, its answers already encoded
    (`AnswerCodec.encode`, after `AnswerCodec.problems` found nothing)."""

    unit_id: int
    period: str
    questionnaire_version_id: int
    group_code: str | None
    answers: bytes
    idempotency_key: str
    channel: str
    campaign_id: int | None = None
    import_batch_id: int | None = None
    receipt: str | None = None
    flagged: bool = False
    flag_reason: str | None = None
    submitted_at: datetime | None = None  # default: now


def stored_time(moment: datetime) -> datetime:
    """Submission times are kept to the minute: a proxy's access log, which has the second,
    cannot be joined to a response row by its time."""
    return moment.replace(second=0, microsecond=0)


# The response columns a batch fills, with their PostgreSQL types.
_COLUMNS = {
    "unit_id": "integer",
    "period": "varchar",
    "questionnaire_version_id": "integer",
    "group_code": "varchar",
    "channel": "varchar",
    "idempotency_key": "varchar",
    "receipt": "varchar",
    "campaign_id": "integer",
    "import_batch_id": "integer",
    "flagged": "boolean",
    "flag_reason": "varchar",
    "answers": "bytea",
    "submitted_at": "timestamp",
}
# One statement, one round trip, returning the new rows' ids.
_POSTGRES_INSERT = text(
    f"INSERT INTO response ({', '.join(_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _COLUMNS.items())
    + ") ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key"
)


def insert_new_responses(
    *, session: Session, responses: Sequence[NewResponse]
) -> dict[str, tuple[str | None, bool]]:
    """Insert, in the session's transaction (the caller commits), the responses whose
    idempotency key is not stored yet; {key: (receipt, created)} for every key, the stored
    receipt for one already there. A key given twice is inserted once.
    """
    firsts: dict[str, NewResponse] = {}
    for item in responses:
        firsts.setdefault(item.idempotency_key, item)
    if not firsts:
        return {}
    connection = session.connection()
    now = stored_time(utcnow())
    rows = [
        {name: getattr(item, name) for name in _COLUMNS}
        | {"group_code": item.group_code or None,
           "submitted_at": stored_time(item.submitted_at) if item.submitted_at else now}
        for item in firsts.values()
    ]
    if connection.dialect.name == "postgresql":
        created = _insert_postgres(connection, rows)
    else:
        created = _insert_rows_sqlite(connection, rows)
    results: dict[str, tuple[str | None, bool]] = {
        key: (firsts[key].receipt, True) for key in created
    }
    earlier = [key for key in firsts if key not in created]
    for start in range(0, len(earlier), 10_000):
        stored = connection.execute(
            select(Response.idempotency_key, Response.receipt).where(
                Response.idempotency_key.in_(earlier[start:start + 10_000])
            )
        ).all()
        results.update((key, (receipt, False)) for key, receipt in stored)
    return results


def stored_receipts(*, session: Session, keys: Sequence[str]) -> dict[str, str | None]:
    """{idempotency key: receipt} of the keys already stored (in the session's transaction)."""
    if not keys:
        return {}
    rows = session.connection().execute(
        select(Response.idempotency_key, Response.receipt).where(
            Response.idempotency_key.in_(list(keys))
        )
    ).all()
    return dict(rows)


def _insert_postgres(connection: Connection, rows: list[dict]) -> dict[str, int]:
    """All rows in one statement per 20,000; {key: id} of the rows inserted."""
    created: dict[str, int] = {}
    for start in range(0, len(rows), 20_000):
        part = rows[start:start + 20_000]
        parameters = {name: [row[name] for row in part] for name in _COLUMNS}
        parameters["submitted_at"] = [moment.replace(tzinfo=None) for moment in
                                      parameters["submitted_at"]]
        returned = connection.execute(_POSTGRES_INSERT, parameters).all()
        created.update((key, response_id) for response_id, key in returned)
    return created


def _insert_rows_sqlite(connection: Connection, rows: list[dict]) -> dict[str, int]:
    table = Response.__table__
    statement = (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(table.c.id, table.c.idempotency_key)
    )
    returned = connection.execute(statement, rows).all()
    return {key: response_id for response_id, key in returned}
