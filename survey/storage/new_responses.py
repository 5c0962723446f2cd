"""Storage of many new responses at once: the citizen form's batched write path.

A batch takes the same few statements whatever its size: the response rows (a key already
stored is skipped: ON CONFLICT (idempotency_key) DO NOTHING) and the answers of the rows
inserted, then, only when some key was stored before, the receipts of those keys. On
PostgreSQL rows and answers travel as arrays (`unnest`) in one statement, whose text is
the same for every batch (parsed and prepared once): one round trip. On SQLite the answers
travel as one JSON array.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from survey.models import Response, utcnow


@dataclass(frozen=True)
class NewResponse:
    """A checked response to insert: the values of its row and its answers."""

    unit_id: int
    period: str
    questionnaire_version_id: int
    group_code: str | None
    answers: Mapping[str, str]
    idempotency_key: str
    channel: str
    campaign_id: int | None = None
    receipt: str | None = None
    flagged: bool = False
    flag_reason: str | None = None


# The response columns a batch fills (besides submitted_at), with their PostgreSQL types.
_COLUMNS = {
    "unit_id": "integer",
    "period": "varchar",
    "questionnaire_version_id": "integer",
    "group_code": "varchar",
    "channel": "varchar",
    "idempotency_key": "varchar",
    "receipt": "varchar",
    "campaign_id": "integer",
    "flagged": "boolean",
    "flag_reason": "varchar",
}
# One statement, one round trip: the new rows, then the answers of the rows inserted
# (joined on the idempotency key), returning the new rows' ids.
_POSTGRES_INSERT = text(
    "WITH new AS ("
    f"INSERT INTO response ({', '.join(_COLUMNS)}, submitted_at) "
    "SELECT *, CAST(:submitted_at AS timestamp) FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _COLUMNS.items())
    + ") ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key), "
    "answers AS (INSERT INTO answer (response_id, question_code, option_code) "
    "SELECT new.id, given.question_code, given.option_code FROM new JOIN unnest("
    "CAST(:answer_keys AS varchar[]), CAST(:questions AS varchar[]), "
    "CAST(:options AS varchar[])) AS given (response_key, question_code, option_code) "
    "ON given.response_key = new.idempotency_key) "
    "SELECT id, idempotency_key FROM new"
)
# Not an executemany: SQLite's driver releases Python's GIL around every row it steps, and
# under load each release costs a wait for the event loop's thread to hand it back
# (hundreds of milliseconds for a thousand answers). One statement is one step.
_SQLITE_ANSWERS = text(
    "INSERT INTO answer (response_id, question_code, option_code) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]') FROM json_each(:rows)"
)


def insert_new_responses(
    *, session: Session, responses: Sequence[NewResponse]
) -> dict[str, tuple[str | None, bool]]:
    """Insert, in the session's transaction (the caller commits), the responses whose
    idempotency key is not stored yet, with their answers; {key: (receipt, created)} for
    every key, the stored receipt for one already there. A key given twice is inserted once.
    """
    firsts: dict[str, NewResponse] = {}
    for item in responses:
        firsts.setdefault(item.idempotency_key, item)
    if not firsts:
        return {}
    connection = session.connection()
    rows = [
        {name: getattr(item, name) for name in _COLUMNS} | {"group_code": item.group_code or None}
        for item in firsts.values()
    ]
    if connection.dialect.name == "postgresql":
        created = _insert_postgres(connection, rows, firsts)
    else:
        created = _insert_rows_sqlite(connection, rows)
        answers = [
            (response_id, code, option)
            for key, response_id in created.items()
            for code, option in firsts[key].answers.items()
        ]
        if answers:
            connection.execute(_SQLITE_ANSWERS, {"rows": json.dumps(answers, ensure_ascii=False)})
    results: dict[str, tuple[str | None, bool]] = {
        key: (firsts[key].receipt, True) for key in created
    }
    earlier = [key for key in firsts if key not in created]
    if earlier:
        stored = connection.execute(
            select(Response.idempotency_key, Response.receipt).where(
                Response.idempotency_key.in_(earlier)
            )
        ).all()
        results.update((key, (receipt, False)) for key, receipt in stored)
    return results


def _insert_postgres(
    connection: Connection, rows: list[dict], items: dict[str, NewResponse]
) -> dict[str, int]:
    """Rows and answers in one statement; {key: id} of the rows inserted."""
    parameters = {name: [row[name] for row in rows] for name in _COLUMNS}
    parameters["submitted_at"] = utcnow()
    given = [(key, code, option) for key, item in items.items() for code, option in item.answers.items()]
    parameters["answer_keys"], parameters["questions"], parameters["options"] = (
        [answer[column] for answer in given] for column in range(3)
    )
    returned = connection.execute(_POSTGRES_INSERT, parameters).all()
    return {key: response_id for response_id, key in returned}


def _insert_rows_sqlite(connection: Connection, rows: list[dict]) -> dict[str, int]:
    table = Response.__table__
    now = utcnow()
    statement = (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(table.c.id, table.c.idempotency_key)
    )
    returned = connection.execute(statement, [{**row, "submitted_at": now} for row in rows]).all()
    return {key: response_id for response_id, key in returned}
