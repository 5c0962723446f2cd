"""Single-use links (table `single_use_link`): one answer per link, printed on a case's slip.

The table holds a keyed hash of the case code (never the code), the link's expiry and a used
mark; no response refers to it and it refers to no response.

Revision ID: 0004_single_use_links
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004_single_use_links"
down_revision = "0003_canonical_periods"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "single_use_link",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("case_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("campaign_id", "case_hash", name="uq_single_use_link_case"),
    )
    op.create_index("ix_single_use_link_campaign_id", "single_use_link", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_single_use_link_campaign_id", table_name="single_use_link")
    op.drop_table("single_use_link")
