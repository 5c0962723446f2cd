"""Storage of appraised PAR tables (one per unit-year)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, delete, select

from survey.models import AppraisalRow, AppraisalStatedTotal
from survey.storage import StorageError


def save_appraisal(
    *, session: Session, unit_id: int, year: int, rows: Sequence[dict], stated_maximum: float | None
) -> None:
    """Replace a unit-year's table: rows of {criterion, max, self, appraised}."""
    codes = [str(r["criterion"]).strip() for r in rows]
    if any(not c for c in codes):
        raise StorageError("every row needs a criterion code")
    if len(set(codes)) != len(codes):
        raise StorageError("a criterion appears twice in the table")
    for row in rows:
        for key in ("max", "self", "appraised"):
            value = row.get(key)
            if value is not None and float(value) < 0:
                raise StorageError(f"criterion {row['criterion']}: {key} cannot be negative")
    session.exec(delete(AppraisalRow).where(AppraisalRow.unit_id == unit_id, AppraisalRow.year == year))
    session.exec(delete(AppraisalStatedTotal).where(
        AppraisalStatedTotal.unit_id == unit_id, AppraisalStatedTotal.year == year))
    for position, row in enumerate(rows):
        session.add(AppraisalRow(
            unit_id=unit_id, year=year, criterion=str(row["criterion"]).strip(), position=position,
            maximum=float(row["max"] or 0), self_assessed=_optional(row.get("self")),
            appraised=_optional(row.get("appraised"))))
    if stated_maximum is not None:
        session.add(AppraisalStatedTotal(unit_id=unit_id, year=year, stated_maximum=float(stated_maximum)))
    session.flush()


def _optional(value) -> float | None:
    return None if value is None or value != value else float(value)


def load_appraisal(*, session: Session, unit_id: int, year: int) -> tuple[list[dict], float | None]:
    """A unit-year's rows (in order) and its stated maximum (None when not stated)."""
    rows = session.exec(select(AppraisalRow).where(
        AppraisalRow.unit_id == unit_id, AppraisalRow.year == year).order_by(AppraisalRow.position))
    stated = session.exec(select(AppraisalStatedTotal).where(
        AppraisalStatedTotal.unit_id == unit_id, AppraisalStatedTotal.year == year)).first()
    return ([{"criterion": r.criterion, "max": r.maximum, "self": r.self_assessed,
              "appraised": r.appraised} for r in rows],
            stated.stated_maximum if stated else None)


def units_with_appraisal(*, session: Session, year: int) -> list[int]:
    """Ids of the units that have a table for `year`."""
    return sorted(set(session.exec(select(AppraisalRow.unit_id).where(AppraisalRow.year == year))))
