"""Answers in one compact value per response (column response.answers), table `answer` dropped.

Every response's answer rows are encoded with its questionnaire version's codec
(survey/answer_codes.py) in chunks of response ids, so a large database migrates in bounded
memory. An answer that does not fit its version's scale stops the migration with the response
named (the transaction rolls back; nothing is lost).

Revision ID: 0002_compact_answers
"""

import numpy as np
import pandas as pd
import sqlalchemy as sa
from alembic import op

revision = "0002_compact_answers"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

CHUNK = 50_000


def upgrade() -> None:
    from survey.answer_codes import codec_of
    from survey.questionnaire import parse_questionnaire

    with op.batch_alter_table("response") as batch:
        batch.add_column(sa.Column("answers", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    codecs = {
        version_id: codec_of(parse_questionnaire(content, source=f"{family}@{version}"))
        for version_id, family, version, content in connection.execute(sa.text(
            "SELECT id, family, version, content FROM questionnaire_version"))
    }
    update = sa.text("UPDATE response SET answers = :answers WHERE id = :id")
    last = 0
    while True:
        heads = pd.DataFrame(connection.execute(sa.text(
            "SELECT id, questionnaire_version_id FROM response WHERE id > :last "
            "ORDER BY id LIMIT :chunk"), {"last": last, "chunk": CHUNK}).all(),
            columns=["id", "version_id"])
        if heads.empty:
            break
        first, last = int(heads["id"].iloc[0]), int(heads["id"].iloc[-1])
        answers = pd.DataFrame(connection.execute(sa.text(
            "SELECT response_id, question_code, option_code FROM answer "
            "WHERE response_id BETWEEN :first AND :last"), {"first": first, "last": last}).all(),
            columns=["id", "question", "option"])
        values = []
        for version_id, members in heads.groupby("version_id"):
            codec = codecs[int(version_id)]
            ids = members["id"].to_numpy()
            mine = answers[answers["id"].isin(ids)]
            matrix = np.zeros((ids.size, len(codec.question_codes)), dtype=np.uint8)
            for question, rows in mine.groupby("question"):
                if question not in codec.question_codes:
                    raise RuntimeError(f"response #{int(rows['id'].iloc[0])}: question "
                                       f"{question!r} is not in its questionnaire version")
                bad = codec.invalid_rows(question, rows["option"].to_numpy())
                if bad.size:
                    raise RuntimeError(
                        f"response #{int(rows['id'].iloc[bad[0]])}: option "
                        f"{rows['option'].iloc[bad[0]]!r} is not on the scale of {question}")
                positions = pd.Index(ids).get_indexer(rows["id"])
                matrix[positions, codec.question_codes.index(question)] = codec.column_bytes(
                    question, rows["option"].to_numpy())
            values += [{"id": int(i), "answers": matrix[k].tobytes()}
                       for k, i in enumerate(ids)]
        connection.execute(update, values)
    op.drop_table("answer")
    with op.batch_alter_table("response") as batch:
        batch.alter_column("answers", existing_type=sa.LargeBinary(), nullable=False)


def downgrade() -> None:
    raise NotImplementedError("answers are not split back into rows")
