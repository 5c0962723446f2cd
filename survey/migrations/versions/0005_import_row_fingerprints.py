"""Content fingerprints of imported rows (table `import_row`), so that a file repeating some
rows of an earlier import is caught, not only a file repeating all of them.

Earlier imports are back-filled from their responses (every imported response names its
batch in `response.import_batch_id`): each response's fingerprint is computed from its unit,
quarter, group and answers exactly as a new import computes it (survey/fingerprints.py), in
chunks of response ids, so a large database migrates in bounded memory.

Revision ID: 0005_import_row_fingerprints
"""

import numpy as np
import pandas as pd
import sqlalchemy as sa
from alembic import op

revision = "0005_import_row_fingerprints"
down_revision = "0004_single_use_links"
branch_labels = None
depends_on = None

CHUNK = 50_000


def upgrade() -> None:
    from survey.fingerprints import row_fingerprints

    op.create_table(
        "import_row",
        sa.Column("import_batch_id", sa.Integer(), sa.ForeignKey("import_batch.id"),
                  primary_key=True, nullable=False),
        sa.Column("row_hash", sa.BigInteger(), primary_key=True, autoincrement=False,
                  nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
    )
    op.create_index("ix_import_row_row_hash", "import_row", ["row_hash"])
    connection = op.get_bind()
    counts: dict[tuple[int, int], int] = {}  # (batch, fingerprint) → copies
    last = 0
    while True:
        rows = connection.execute(sa.text(
            "SELECT id, import_batch_id, questionnaire_version_id, unit_id, period, group_code, "
            "answers FROM response WHERE import_batch_id IS NOT NULL AND id > :last "
            "ORDER BY id LIMIT :chunk"), {"last": last, "chunk": CHUNK}).all()
        if not rows:
            break
        last = rows[-1][0]
        chunk = pd.DataFrame([tuple(row) for row in rows],
                             columns=["id", "batch", "version", "unit", "period", "group",
                                      "answers"])
        for version_id, members in chunk.groupby("version"):
            answers = members["answers"].map(bytes).to_numpy()
            matrix = np.frombuffer(b"".join(answers), dtype=np.uint8).reshape(len(members), -1)
            prints = row_fingerprints(
                version_id=int(version_id), unit_ids=members["unit"].to_numpy(),
                periods=members["period"].to_numpy(dtype=object),
                groups=members["group"].to_numpy(dtype=object), answers=matrix)
            found = pd.DataFrame({"batch": members["batch"].to_numpy(), "hash": prints})
            for (batch, fingerprint), copies in found.value_counts().items():
                key = (int(batch), int(fingerprint))
                counts[key] = counts.get(key, 0) + int(copies)
    if counts:
        connection.execute(
            sa.text("INSERT INTO import_row (import_batch_id, row_hash, copies) "
                    "VALUES (:batch, :hash, :copies)"),
            [{"batch": batch, "hash": fingerprint, "copies": copies}
             for (batch, fingerprint), copies in counts.items()])


def downgrade() -> None:
    op.drop_index("ix_import_row_row_hash", table_name="import_row")
    op.drop_table("import_row")
