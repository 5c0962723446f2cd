"""Storage of import batches and the content fingerprints of the rows they stored.

The fingerprints travel as whole arrays: on PostgreSQL in one statement (`unnest` of a bigint
array), on SQLite as one multi-row insert and a few IN lists of at most 10,000 values.
"""


from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlmodel import Session, col, select

from survey.models import ImportBatch, ImportRow

_LOOKUP_CHUNK = 10_000  # values in one SQLite IN list (its limit is 32,766)


def find_import_batch(*, session: Session, file_sha256: str, version_id: int) -> ImportBatch | None:
    return session.exec(
        select(ImportBatch).where(
            ImportBatch.file_sha256 == file_sha256,
            ImportBatch.questionnaire_version_id == version_id,
        )
    ).first()


def get_import_batches(*, session: Session, ids: Collection[int]) -> list[ImportBatch]:
    """The batches with these ids, oldest first."""
    if not ids:
        return []
    return list(session.exec(select(ImportBatch).where(col(ImportBatch.id).in_(list(ids)))
                             .order_by(ImportBatch.imported_at, ImportBatch.id)))


def store_import_rows(*, session: Session, batch_id: int, fingerprints: np.ndarray) -> None:
    """Keep the fingerprints of the rows batch `batch_id` stored (int64, one per row; identical
    rows are kept once with their number of copies), in the session's transaction."""
    hashes, copies = np.unique(np.asarray(fingerprints, dtype=np.int64), return_counts=True)
    if not hashes.size:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text(
            "INSERT INTO import_row (import_batch_id, row_hash, copies) SELECT :batch, * FROM "
            "unnest(CAST(:hashes AS bigint[]), CAST(:copies AS integer[]))"),
            {"batch": batch_id, "hashes": hashes.tolist(), "copies": copies.tolist()})
    else:
        connection.exec_driver_sql(
            "INSERT INTO import_row (import_batch_id, row_hash, copies) VALUES (?, ?, ?)",
            list(zip([batch_id] * hashes.size, hashes.tolist(), copies.tolist(), strict=True)))


def imported_rows(*, session: Session, version_id: int, fingerprints: np.ndarray) -> pd.DataFrame:
    """Where rows with these fingerprints were stored by imports of questionnaire version
    `version_id`: columns row_hash (int64), import_batch_id, copies; one line per batch and
    fingerprint."""
    hashes = np.unique(np.asarray(fingerprints, dtype=np.int64)).tolist()
    columns = ["row_hash", "import_batch_id", "copies"]
    connection = session.connection()
    found: list = []
    if connection.dialect.name == "postgresql":
        found = connection.execute(text(
            "SELECT r.row_hash, r.import_batch_id, r.copies FROM import_row r "
            "JOIN unnest(CAST(:hashes AS bigint[])) AS given(row_hash) "
            "ON r.row_hash = given.row_hash "
            "JOIN import_batch b ON b.id = r.import_batch_id "
            "WHERE b.questionnaire_version_id = :version"),
            {"hashes": hashes, "version": version_id}).all()
    else:
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            found += connection.execute(
                select(ImportRow.row_hash, ImportRow.import_batch_id, ImportRow.copies)
                .join(ImportBatch, col(ImportBatch.id) == col(ImportRow.import_batch_id))
                .where(ImportBatch.questionnaire_version_id == version_id,
                       col(ImportRow.row_hash).in_(hashes[start:start + _LOOKUP_CHUNK]))
            ).all()
    return pd.DataFrame([tuple(row) for row in found], columns=columns).astype(
        {"row_hash": np.int64, "import_batch_id": np.int64, "copies": np.int64})
