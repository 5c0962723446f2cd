"""Signed campaign links: the token in `/s/<token>` and what it resolves to.

A token names a campaign, its link generation and an expiry, signed with
HMAC-SHA256 under the server secret. It is 32 URL-safe characters, so the whole
link fits a small QR code::

    payload = version (1 byte) | campaign id (4) | link generation (2) | expiry, Unix s (4)
    token   = base64url(payload | HMAC-SHA256(secret, "survey-link" | payload)[:13])

A single-use link (one answer, e.g. printed on a case's appointment slip) adds the id of its
row in `single_use_link` to the payload, signed the same way (38 characters)::

    payload = version 2 (1 byte) | campaign id (4) | link generation (2) | expiry (4) | link id (4)

Checking a link has two steps: `read_token` (no database: tampered or expired)
and `resolve_link` (the campaign must exist, be open, not expired, and carry the
same link generation; a rotated link fails here).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlmodel import Session

from survey.config import server_secret, settings
from survey.models import Campaign, Organisation, QuestionnaireVersion, utcnow
from survey.periods import ended_on, parse_quarter
from survey.storage import StorageError
from survey.storage.campaigns import (
    LinkState,
    as_utc,
    find_open_campaign,
    get_campaign,
    open_campaign,
)
from survey.storage.organisations import descendant_ids, get_organisation, list_organisations
from survey.storage.questionnaires import get_questionnaire_version
from survey.text import Text

TOKEN_VERSION = 1
SINGLE_USE_VERSION = 2
_PAYLOAD = struct.Struct(">BIHI")
_SINGLE_USE_PAYLOAD = struct.Struct(">BIHII")
_MAC_BYTES = 13
_TOKEN_BYTES = _PAYLOAD.size + _MAC_BYTES  # 24 bytes → 32 characters
_SINGLE_USE_BYTES = _SINGLE_USE_PAYLOAD.size + _MAC_BYTES  # 28 bytes → 38 characters
_TOKEN_LENGTHS = (32, 38)
_DOMAIN = b"survey-link|"
FORM_PATH = "/s/"


class LinkError(Exception):
    """A link that cannot be used; `reason` says why (see REASONS)."""

    REASONS = ("tampered", "expired", "unknown", "closed", "revoked", "rotated", "used")

    def __init__(self, reason: str, detail: str = ""):
        assert reason in self.REASONS, reason
        self.reason = reason
        super().__init__(detail or reason)


@dataclass(frozen=True)
class LinkClaims:
    """What a genuine token says."""

    campaign_id: int
    generation: int
    expires_at: datetime  # aware UTC
    link_id: int | None = None  # a single-use link's row in `single_use_link`

    @property
    def key_scope(self) -> str:
        """What a form key is bound to: the campaign, or the single-use link."""
        if self.link_id is None:
            return str(self.campaign_id)
        return f"{self.campaign_id}.{self.link_id}"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _DOMAIN + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _unix(moment: datetime) -> int:
    return int(as_utc(moment).timestamp())


def make_token(
    *,
    campaign_id: int,
    generation: int,
    expires_at: datetime,
    secret: bytes | None = None,
    link_id: int | None = None,
) -> str:
    """The signed token for a campaign's current link (a naive `expires_at` is UTC), or for
    one of its single-use links (`link_id`)."""
    if not 0 < campaign_id < 2**32 or not 0 < generation < 2**16:
        raise ValueError("campaign id or link generation out of range")
    expiry = max(_unix(expires_at), 0)
    if link_id is None:
        payload = _PAYLOAD.pack(TOKEN_VERSION, campaign_id, generation, expiry)
    else:
        if not 0 < link_id < 2**32:
            raise ValueError("single-use link id out of range")
        payload = _SINGLE_USE_PAYLOAD.pack(
            SINGLE_USE_VERSION, campaign_id, generation, expiry, link_id
        )
    return _b64encode(payload + _mac(secret or server_secret(), payload))


def read_token(
    token: str,
    *,
    secret: bytes | None = None,
    now: datetime | None = None,
    allow_expired: bool = False,
) -> LinkClaims:
    """The claims of a genuine, unexpired token; LinkError('tampered' | 'expired') otherwise.

    `allow_expired` checks the signature only (the thank-you page after a last-minute answer).
    """
    if not isinstance(token, str) or len(token) not in _TOKEN_LENGTHS or not token.isascii():
        raise LinkError("tampered", "the token has the wrong length")
    try:
        raw = _b64decode(token)
    except (binascii.Error, ValueError):
        raise LinkError("tampered", "the token is not base64url") from None
    if len(raw) not in (_TOKEN_BYTES, _SINGLE_USE_BYTES) or _b64encode(raw) != token:
        raise LinkError("tampered", "the token is not canonical base64url")
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(secret or server_secret(), payload)):
        raise LinkError("tampered", "the signature does not match")
    link_id = None
    if len(raw) == _SINGLE_USE_BYTES:
        version, campaign_id, generation, expiry, link_id = _SINGLE_USE_PAYLOAD.unpack(payload)
        expected = SINGLE_USE_VERSION
    else:
        version, campaign_id, generation, expiry = _PAYLOAD.unpack(payload)
        expected = TOKEN_VERSION
    if version != expected:
        raise LinkError("tampered", f"unknown token version {version}")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if not allow_expired and as_utc(now or utcnow()) >= expires_at:
        raise LinkError("expired", f"the link expired at {expires_at:%Y-%m-%d %H:%M} UTC")
    return LinkClaims(campaign_id, generation, expires_at, link_id)


def campaign_token(campaign: Campaign, *, secret: bytes | None = None) -> str:
    """The token of a campaign's current link."""
    expires_at = campaign.expires_at or (campaign.opened_at + timedelta(days=3650))
    return make_token(
        campaign_id=campaign.id,
        generation=campaign.link_generation,
        expires_at=expires_at,
        secret=secret,
    )


def campaign_url(
    campaign: Campaign, *, base_url: str | None = None, secret: bytes | None = None
) -> str:
    """The full link citizens open: `<SURVEY_BASE_URL>/s/<token>`."""
    base = (base_url or settings().base_url).rstrip("/")
    return f"{base}{FORM_PATH}{campaign_token(campaign, secret=secret)}"


CampaignLike = TypeVar("CampaignLike", Campaign, LinkState)


def check_campaign(
    campaign: CampaignLike | None, claims: LinkClaims, *, now: datetime | None = None
) -> CampaignLike:
    """The campaign (or its link state) when the link is still usable; LinkError otherwise."""
    if campaign is None:
        raise LinkError("unknown", f"campaign #{claims.campaign_id} does not exist")
    if campaign.status == "revoked":
        raise LinkError("revoked", f"campaign #{campaign.id} was revoked")
    if campaign.status != "open":
        raise LinkError("closed", f"campaign #{campaign.id} is {campaign.status}")
    if campaign.link_generation != claims.generation:
        raise LinkError("rotated", f"campaign #{campaign.id} has a newer link")
    if campaign.expires_at is not None and as_utc(now or utcnow()) >= as_utc(campaign.expires_at):
        raise LinkError("expired", f"campaign #{campaign.id} expired")
    return campaign


def resolve_link(
    *, session: Session, token: str, secret: bytes | None = None, now: datetime | None = None
) -> Campaign:
    """The open campaign a token names; LinkError with the reason otherwise."""
    claims = read_token(token, secret=secret, now=now)
    return check_campaign(
        get_campaign(session=session, campaign_id=claims.campaign_id), claims, now=now
    )


@dataclass(frozen=True)
class CampaignLink:
    """An open campaign with everything a poster or the CLI shows about it."""

    campaign: Campaign
    unit: Organisation
    version: QuestionnaireVersion
    url: str
    created: bool = False


def open_campaign_link(
    *,
    session: Session,
    actor: str,
    unit_code: str,
    period: str,
    questionnaire: str,
    days: int | None = None,
    base_url: str | None = None,
    allow_ended_period: bool = True,
) -> CampaignLink:
    """Open (or reuse) the campaign of unit × quarter × questionnaire ('ID' or 'ID@VERSION'),
    in the session's transaction (the caller commits); a campaign opened now is audited as
    `actor`'s "campaign_opened" in the same transaction.

    With `allow_ended_period=False` (what a person asks for until they confirm: the QR page's
    checkbox, the command line's flag), opening a new campaign for a quarter that has ended is
    refused by `refuse_ended_period`; an open campaign is still reused."""
    unit = get_organisation(session=session, code=unit_code)
    if unit is None:
        raise StorageError("unit.missing", code=unit_code)
    version = get_questionnaire_version(session=session, reference=questionnaire)
    if not allow_ended_period:
        existing = find_open_campaign(session=session, unit_id=unit.id, period=period,
                                      version_id=version.id)
        if existing is None or (existing.expires_at is not None
                                and as_utc(existing.expires_at) <= as_utc(utcnow())):
            refuse_ended_period(period)
    campaign, created = open_campaign(
        session=session, unit_id=unit.id, period=period, version_id=version.id, days=days
    )
    if created:
        from survey.storage.audit import append_audit

        append_audit(session=session, username=actor, action="campaign_opened",
                     target=f"#{campaign.id} {unit.code} {campaign.period} "
                            f"{version.family}@{version.version}")
    return CampaignLink(campaign, unit, version, campaign_url(campaign, base_url=base_url), created)


def refuse_ended_period(period: str, today: date | None = None) -> None:
    """Refuse (StorageError `campaign.period_ended`) to open a campaign for a quarter that has
    ended: responses collected now would count in that past quarter. The one rule behind the
    QR page's confirmation and the command line's --allow-ended-period."""
    end = ended_on(period, today)
    if end is not None:
        quarter = parse_quarter(period)
        raise StorageError("campaign.period_ended", period=Text(quarter.label("vi"),
                                                                 quarter.label("en")),
                           ended=f"{end:%d/%m/%Y}")


def province_links(
    *,
    session: Session,
    actor: str,
    period: str,
    questionnaire: str,
    province_code: str | None = None,
    days: int | None = None,
    base_url: str | None = None,
    within: Collection[int] | None = None,
    allow_ended_period: bool = True,
) -> list[CampaignLink]:
    """The open campaign links of every active unit under a province, opened as needed.

    Without `province_code` the database must hold exactly one province. `within`
    keeps only the units with these ids (a user's scope).
    """
    provinces = [o for o in list_organisations(session=session) if o.kind == "province"]
    if province_code is not None:
        provinces = [o for o in provinces if o.code == province_code]
        if not provinces:
            raise StorageError(f"province {province_code} does not exist")
    elif len(provinces) != 1:
        codes = ", ".join(o.code for o in provinces) or "none"
        raise StorageError(f"name the province (provinces: {codes})")
    below = descendant_ids(session=session, organisation_id=provinces[0].id)
    units = [
        o
        for o in list_organisations(session=session)
        if o.id in below and o.kind != "province" and (within is None or o.id in within)
    ]
    if not units:
        raise StorageError(f"province {provinces[0].code} has no active unit")
    return [
        open_campaign_link(
            session=session,
            actor=actor,
            unit_code=unit.code,
            period=period,
            questionnaire=questionnaire,
            days=days,
            base_url=base_url,
            allow_ended_period=allow_ended_period,
        )
        for unit in units
    ]


def province_of(*, session: Session, organisation: Organisation) -> Organisation | None:
    """The province an organisation belongs to (itself for a province), or None."""
    by_id = {o.id: o for o in list_organisations(session=session, include_inactive=True)}
    current: Organisation | None = organisation
    while current is not None and current.kind != "province":
        current = by_id.get(current.parent_id)
    return current


CAMPAIGN_ACTIONS = ("close", "revoke", "rotate")


def change_campaign(*, session: Session, scope, campaign_id: int, action: str) -> Campaign:
    """Close, revoke or rotate the link of a campaign from a page: checks the right and the
    unit's scope, changes, audits (campaign_closed / _revoked / _rotated) and commits."""
    from survey.auth import AccessDenied
    from survey.storage.audit import append_audit
    from survey.storage.campaigns import close_campaign, revoke_campaign, rotate_campaign_link

    if not scope.can_manage("campaigns"):
        raise AccessDenied("access.right.campaigns", role=scope.role)
    campaign = get_campaign(session=session, campaign_id=campaign_id)
    unit = session.get(Organisation, campaign.unit_id) if campaign else None
    if campaign is None or not scope.allows(unit):
        raise AccessDenied("access.unit", code=unit.code if unit else f"#{campaign_id}")
    change = {"close": close_campaign, "revoke": revoke_campaign,
              "rotate": rotate_campaign_link}[action]
    changed = change(session=session, campaign=campaign)
    verb = {"close": "closed", "revoke": "revoked", "rotate": "rotated"}[action]
    append_audit(session=session, username=scope.username, action=f"campaign_{verb}",
                 target=f"#{campaign.id} {unit.code} {campaign.period}")
    session.commit()
    return changed
