"""Storage of import batches."""


from __future__ import annotations

from sqlmodel import Session, select

from survey.models import (
    ImportBatch,
)


def find_import_batch(*, session: Session, file_sha256: str, version_id: int) -> ImportBatch | None:
    return session.exec(
        select(ImportBatch).where(
            ImportBatch.file_sha256 == file_sha256,
            ImportBatch.questionnaire_version_id == version_id,
        )
    ).first()
