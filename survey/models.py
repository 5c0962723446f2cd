"""Database tables (SQLModel). All reads and writes go through `survey.storage`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

CHANNELS = ("qr", "paper", "kiosk")
CAMPAIGN_STATES = ("open", "closed", "revoked")
ORGANISATION_KINDS = ("province", "unit", "subunit")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (SQLModel stores aware datetimes)."""
    return datetime.now(UTC)


class Organisation(SQLModel, table=True):
    """A province, a unit (Cục, Sở…) or a sub-unit (Chi cục…), as a tree."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=300)
    kind: str = Field(default="unit", max_length=20)
    parent_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class QuestionnaireVersion(SQLModel, table=True):
    """A registered questionnaire version; `content` is the file exactly as registered."""

    __tablename__ = "questionnaire_version"
    __table_args__ = (UniqueConstraint("family", "version", name="uq_questionnaire_family_version"),)

    id: int | None = Field(default=None, primary_key=True)
    family: str = Field(max_length=40, index=True)
    version: str = Field(max_length=40)
    title: str = Field(max_length=300)
    content: str = Field(sa_column=Column(Text, nullable=False))
    content_hash: str = Field(max_length=64)
    registered_at: datetime = Field(default_factory=utcnow)


class Campaign(SQLModel, table=True):
    """A collection campaign: one unit × quarter × questionnaire version, reached by QR link."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="organisation.id", index=True)
    period: str = Field(max_length=10)
    questionnaire_version_id: int = Field(foreign_key="questionnaire_version.id")
    status: str = Field(default="open", max_length=10)
    link_generation: int = 1  # rotating the link bumps this; older tokens stop working
    opened_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    closed_at: datetime | None = None


class SingleUseLink(SQLModel, table=True):
    """A link valid for one answer (printed on a case's appointment slip, or sent by SMS).

    Holds no case code (only its keyed hash, to give a case the same link when issued again)
    and no time of use; no response refers to it, and it refers to no response: the used mark
    says that some answer came through it, never which.
    """

    __tablename__ = "single_use_link"
    __table_args__ = (
        UniqueConstraint("campaign_id", "case_hash", name="uq_single_use_link_case"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    case_hash: str | None = Field(default=None, max_length=64)  # None: an anonymous link
    expires_at: datetime
    used: bool = False


class ImportBatch(SQLModel, table=True):
    """One imported paper-form file; the same file is never imported twice."""

    __tablename__ = "import_batch"
    __table_args__ = (
        UniqueConstraint("file_sha256", "questionnaire_version_id", name="uq_import_file"),
    )

    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=300)
    file_sha256: str = Field(max_length=64)
    questionnaire_version_id: int = Field(foreign_key="questionnaire_version.id")
    rows: int
    imported_at: datetime = Field(default_factory=utcnow)


class ImportRow(SQLModel, table=True):
    """The content fingerprint of rows an import stored (survey/fingerprints.py), one line per
    distinct content with its number of copies: a later file repeating them is caught."""

    __tablename__ = "import_row"
    __table_args__ = (Index("ix_import_row_row_hash", "row_hash"),)

    import_batch_id: int = Field(foreign_key="import_batch.id", primary_key=True)
    row_hash: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    copies: int = 1


class Response(SQLModel, table=True):
    """One anonymous respondent's form. No name and no raw network address is stored."""

    __table_args__ = (
        Index("ix_response_domain", "unit_id", "period"),
        Index("ix_response_version_period", "questionnaire_version_id", "period"),
        # The flagged responses only (a partial index): `data_version` counts them on every
        # page view without a pass over the table.
        Index("ix_response_flagged", "id", sqlite_where=text("flagged"),
              postgresql_where=text("flagged")),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="organisation.id")
    period: str = Field(max_length=10)  # a quarter, e.g. 2024-Q3
    questionnaire_version_id: int = Field(foreign_key="questionnaire_version.id")
    group_code: str | None = Field(default=None, max_length=40)
    channel: str = Field(default="qr", max_length=10)
    submitted_at: datetime = Field(default_factory=utcnow)
    idempotency_key: str = Field(max_length=100, unique=True)
    receipt: str | None = Field(default=None, max_length=20)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)
    flagged: bool = False
    flag_reason: str | None = Field(default=None, max_length=200)
    # Every answer in one compact value: one byte per question of the version (see
    # survey/answer_codes.py for the layout).
    answers: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))


ROLES = ("admin", "province", "unit")


class User(SQLModel, table=True):
    """A staff account. `organisation_id` is the root of what the user may see (None = all)."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    password_hash: str = Field(max_length=300)
    role: str = Field(max_length=20)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    active: bool = True
    must_change_password: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class LoginAttempt(SQLModel, table=True):
    """One login attempt, kept to slow down password guessing."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, index=True)
    succeeded: bool
    at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """Who did what, when. The application only ever appends to this table."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    username: str = Field(max_length=80, index=True)
    action: str = Field(max_length=60, index=True)
    target: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, sa_column=Column(Text))


class TransactionCount(SQLModel, table=True):
    """Files handled by a unit in a quarter (hồ sơ giải quyết), entered by the unit."""

    __tablename__ = "transaction_count"
    __table_args__ = (UniqueConstraint("unit_id", "period", name="uq_transactions_unit_period"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="organisation.id")
    period: str = Field(max_length=10)
    transactions: int = Field(ge=0)


class AppraisalRow(SQLModel, table=True):
    """One criterion of a unit's appraised PAR table for a year (điểm chuẩn, tự chấm, thẩm định)."""

    __tablename__ = "appraisal_row"
    __table_args__ = (
        UniqueConstraint("unit_id", "year", "criterion", name="uq_appraisal_unit_year_criterion"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="organisation.id", index=True)
    year: int
    criterion: str = Field(max_length=40)
    position: int = 0
    maximum: float
    self_assessed: float | None = None
    appraised: float | None = None


class AppraisalStatedTotal(SQLModel, table=True):
    """The total maximum a unit's appraisal table states (it may differ from its rows' sum)."""

    __tablename__ = "appraisal_stated_total"
    __table_args__ = (UniqueConstraint("unit_id", "year", name="uq_appraisal_total_unit_year"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="organisation.id")
    year: int
    stated_maximum: float


class StaffSession(SQLModel, table=True):
    """A signed-in staff browser. Only the SHA-256 of the cookie's random token is stored,
    so a copy of the database cannot be used to sign in. Times are stored with their zone."""

    __tablename__ = "staff_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    username: str = Field(max_length=80, index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    last_seen_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
