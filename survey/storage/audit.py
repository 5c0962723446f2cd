"""Storage of the audit log: append and read, never update or delete."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
from sqlmodel import Session, col, select

from survey.models import AuditEntry


def append_audit(
    *, session: Session, username: str, action: str, target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry (flushed with the caller's transaction)."""
    entry = AuditEntry(
        username=username, action=action, target=target,
        detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
    )
    session.add(entry)
    session.flush()
    return entry


def read_audit(
    *, session: Session, username: str | None = None, action: str | None = None,
    since: datetime | None = None, limit: int = 1000,
) -> pd.DataFrame:
    """Entries, newest first, filtered by user, action and start time."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if username:
        query = query.where(AuditEntry.username == username)
    if action:
        query = query.where(AuditEntry.action == action)
    if since:
        query = query.where(col(AuditEntry.at) >= since)
    rows = [e.model_dump() for e in session.exec(query)]
    return pd.DataFrame(rows, columns=["id", "at", "username", "action", "target", "detail"])
