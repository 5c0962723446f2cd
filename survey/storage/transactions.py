"""Storage of the transactions (hồ sơ giải quyết) a unit handled per quarter."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from survey.models import TransactionCount
from survey.periods import parse_quarter
from survey.storage import StorageError


def set_transactions(*, session: Session, unit_id: int, period: str, transactions: int) -> None:
    """Record (or correct) the number of transactions of a unit in a quarter."""
    period = str(parse_quarter(period))
    if transactions < 0:
        raise StorageError("the number of transactions cannot be negative")
    row = session.exec(select(TransactionCount).where(
        TransactionCount.unit_id == unit_id, TransactionCount.period == period)).first()
    if row is None:
        row = TransactionCount(unit_id=unit_id, period=period, transactions=transactions)
    row.transactions = int(transactions)
    session.add(row)
    session.flush()


def transactions_in(*, session: Session, unit_id: int, quarters: Iterable[str]) -> dict[str, int]:
    """Recorded transactions by quarter (quarters without a record are absent)."""
    rows = session.exec(select(TransactionCount).where(
        TransactionCount.unit_id == unit_id, col(TransactionCount.period).in_(list(quarters))))
    return {row.period: row.transactions for row in rows}
