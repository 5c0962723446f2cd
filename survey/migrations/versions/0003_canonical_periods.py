"""Periods stored in another spelling (`2024-q3`, `Q3/2024`, `Quý 3/2024` …) rewritten in the
canonical form (`2024-Q3`), so that every response counts in its period's scores and no
campaign or transaction count stands apart under a second spelling.

Text that is no period at all is left as it is (nothing is deleted). Two transaction counts of
one unit that become the same quarter keep the later entry (the higher id).

Revision ID: 0003_canonical_periods
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_canonical_periods"
down_revision = "0002_compact_answers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from survey.periods import canonical_period_or_none

    connection = op.get_bind()
    for table in ("response", "campaign", "transaction_count"):
        stored = connection.execute(sa.text(f"SELECT DISTINCT period FROM {table}")).scalars()
        renames = {old: new for old in stored
                   if (new := canonical_period_or_none(old)) is not None and new != old}
        for old, new in renames.items():
            if table == "transaction_count":
                connection.execute(sa.text(
                    "DELETE FROM transaction_count WHERE period IN (:old, :new) AND id NOT IN "
                    "(SELECT max(id) FROM transaction_count WHERE period IN (:old, :new) "
                    "GROUP BY unit_id)"), {"old": old, "new": new})
            connection.execute(sa.text(f"UPDATE {table} SET period = :new WHERE period = :old"),
                               {"old": old, "new": new})


def downgrade() -> None:
    """Nothing to undo: the canonical spelling is read by every version."""
