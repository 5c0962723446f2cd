"""Storage of campaigns: open (or reuse), close, revoke, rotate the link, list with counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from survey.models import (
    Campaign,
    Organisation,
    QuestionnaireVersion,
    Response,
    utcnow,
)
from survey.periods import canonical_quarter
from survey.storage import StorageError

DEFAULT_CAMPAIGN_DAYS = 90
MAX_CAMPAIGN_DAYS = 3650
MAX_LINK_GENERATION = 65535  # the link token holds it in two bytes


def get_campaign(*, session: Session, campaign_id: int) -> Campaign | None:
    return session.get(Campaign, campaign_id)


@dataclass(frozen=True)
class LinkState:
    """What decides whether a campaign's link may still be used (see links.check_campaign)."""

    id: int
    status: str
    link_generation: int
    expires_at: datetime | None


def link_states(*, session: Session, campaign_ids: Iterable[int]) -> dict[int, LinkState]:
    """The link state of each of these campaigns that exists, by id; one query."""
    wanted = set(campaign_ids)
    if not wanted:
        return {}
    rows = session.connection().execute(  # Core, not ORM: this runs for every form batch
        select(
            Campaign.id, Campaign.status, Campaign.link_generation, Campaign.expires_at
        ).where(col(Campaign.id).in_(wanted))
    ).all()
    return {row[0]: LinkState(*row) for row in rows}


def find_open_campaign(
    *, session: Session, unit_id: int, period: str, version_id: int
) -> Campaign | None:
    return session.exec(
        select(Campaign).where(
            Campaign.unit_id == unit_id,
            Campaign.period == canonical_quarter(period),
            Campaign.questionnaire_version_id == version_id,
            Campaign.status == "open",
        )
    ).first()


def list_campaigns(*, session: Session, unit_ids: Iterable[int] | None = None) -> list[Campaign]:
    query = select(Campaign).order_by(col(Campaign.opened_at).desc())
    if unit_ids is not None:
        query = query.where(col(Campaign.unit_id).in_(list(unit_ids)))
    return list(session.exec(query))


def find_campaigns(
    *,
    session: Session,
    unit_id: int,
    period: str,
    version_ids: Iterable[int] | None = None,
    status: str | None = None,
) -> list[Campaign]:
    """Campaigns of a unit and quarter, newest first, optionally of some versions or one status."""
    query = select(Campaign).where(Campaign.unit_id == unit_id,
                                   Campaign.period == canonical_quarter(period))
    if version_ids is not None:
        query = query.where(col(Campaign.questionnaire_version_id).in_(list(version_ids)))
    if status is not None:
        query = query.where(Campaign.status == status)
    return list(session.exec(query.order_by(col(Campaign.id).desc())))


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC (as SQLite returns them)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _check_days(days: int) -> int:
    if not 1 <= days <= MAX_CAMPAIGN_DAYS:
        raise StorageError("campaign.days", maximum=MAX_CAMPAIGN_DAYS, days=days)
    return days


def open_campaign(
    *,
    session: Session,
    unit_id: int,
    period: str,
    version_id: int,
    days: int | None = None,
    now: datetime | None = None,
) -> tuple[Campaign, bool]:
    """The open campaign of unit × quarter × version, opened if needed; (campaign, created).

    A new campaign runs `days` (default 90) from now. Reusing an open one keeps its
    expiry unless `days` is given, which sets it anew from now. An open campaign whose
    expiry has passed is closed and a new one opened.
    """
    period = canonical_quarter(period)
    now = now or utcnow()
    existing = find_open_campaign(
        session=session, unit_id=unit_id, period=period, version_id=version_id
    )
    if (
        existing is not None
        and existing.expires_at is not None
        and as_utc(existing.expires_at) <= as_utc(now)
    ):
        existing.status, existing.closed_at = "closed", existing.expires_at
        session.add(existing)
        existing = None
    if existing is not None:
        if days is not None:
            existing.expires_at = now + timedelta(days=_check_days(days))
            session.add(existing)
            session.flush()
        return existing, False
    campaign = Campaign(
        unit_id=unit_id,
        period=period,
        questionnaire_version_id=version_id,
        status="open",
        opened_at=now,
        expires_at=now
        + timedelta(days=_check_days(DEFAULT_CAMPAIGN_DAYS if days is None else days)),
    )
    session.add(campaign)
    session.flush()
    return campaign, True


def _end_campaign(session: Session, campaign: Campaign, status: str) -> Campaign:
    if campaign.status != "open":
        raise StorageError(f"campaign #{campaign.id} is already {campaign.status}")
    campaign.status, campaign.closed_at = status, utcnow()
    session.add(campaign)
    session.flush()
    return campaign


def close_campaign(*, session: Session, campaign: Campaign) -> Campaign:
    """End collection normally: the link answers 'this survey has ended'; responses stay."""
    return _end_campaign(session, campaign, "closed")


def revoke_campaign(*, session: Session, campaign: Campaign) -> Campaign:
    """Withdraw a link (e.g. a poster went astray): it answers 'this link was withdrawn'."""
    return _end_campaign(session, campaign, "revoked")


def rotate_campaign_link(*, session: Session, campaign: Campaign) -> Campaign:
    """Issue a new link for an open campaign; every older link of it stops working."""
    if campaign.status != "open":
        raise StorageError(
            f"campaign #{campaign.id} is {campaign.status}: only an open one has a link"
        )
    if campaign.link_generation >= MAX_LINK_GENERATION:
        raise StorageError(
            f"campaign #{campaign.id}: the link was rotated too often; open a new one"
        )
    campaign.link_generation += 1
    session.add(campaign)
    session.flush()
    return campaign


@dataclass(frozen=True)
class CampaignSummary:
    """One row of the campaign list."""

    campaign: Campaign
    unit_code: str
    unit_name: str
    family: str
    version: str
    responses: int
    flagged: int


def list_campaign_summaries(
    *,
    session: Session,
    unit_ids: Iterable[int] | None = None,
    period: str | None = None,
    status: str | None = None,
) -> list[CampaignSummary]:
    """Campaigns with their unit, questionnaire and response counts, by unit then period."""
    counts = (
        select(
            Response.campaign_id,
            func.count(Response.id).label("responses"),
            func.sum(case((col(Response.flagged), 1), else_=0)).label("flagged"),
        )
        .where(col(Response.campaign_id).is_not(None))
        .group_by(Response.campaign_id)
        .subquery()
    )
    query = (
        select(
            Campaign,
            Organisation.code,
            Organisation.name,
            QuestionnaireVersion.family,
            QuestionnaireVersion.version,
            func.coalesce(counts.c.responses, 0),
            func.coalesce(counts.c.flagged, 0),
        )
        .join(Organisation, Organisation.id == Campaign.unit_id)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == Campaign.questionnaire_version_id)
        .outerjoin(counts, counts.c.campaign_id == Campaign.id)
        .order_by(Organisation.code, Campaign.period, col(Campaign.id))
    )
    if unit_ids is not None:
        query = query.where(col(Campaign.unit_id).in_(list(unit_ids)))
    if period is not None:
        query = query.where(Campaign.period == canonical_quarter(period))
    if status is not None:
        query = query.where(Campaign.status == status)
    return [CampaignSummary(*row) for row in session.exec(query).all()]


def campaign_details(
    *, session: Session, campaign: Campaign
) -> tuple[Organisation, QuestionnaireVersion]:
    """The unit and the questionnaire version of a campaign."""
    unit = session.get(Organisation, campaign.unit_id)
    version = session.get(QuestionnaireVersion, campaign.questionnaire_version_id)
    if unit is None or version is None:
        raise StorageError(f"campaign #{campaign.id} refers to a missing unit or questionnaire")
    return unit, version


def campaign_has_receipt(*, session: Session, campaign_id: int, receipt: str) -> bool:
    """True when a response of this campaign carries this receipt code."""
    query = select(Response.id).where(
        Response.campaign_id == campaign_id, Response.receipt == receipt
    )
    return session.exec(query).first() is not None
