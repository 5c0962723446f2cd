"""Single-use links tied to case files (mã hồ sơ): issue them, read the case list, write them.

A province or unit prints a link valid for one answer on each citizen's appointment slip
(phiếu hẹn trả kết quả), or sends it by SMS/Zalo. The link is the campaign's signed token
plus the id of a row of `single_use_link` (survey/links.py); the row holds only a keyed hash
of the case code (HMAC-SHA256 under the server secret, so that the same case gets the same
link when issued again), the expiry and a used mark. No response refers to the row, the row
refers to no response and records no time of use: nothing in the database joins an answer to
a case code.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from survey.config import server_secret, settings
from survey.links import FORM_PATH, CampaignLink, make_token, open_campaign_link
from survey.models import utcnow
from survey.storage import StorageError
from survey.storage.campaigns import MAX_CAMPAIGN_DAYS, as_utc
from survey.storage.single_use_links import issue_links

CASE_COLUMN = "ma_ho_so"
MAX_CASE_LENGTH = 100
MAX_LINKS = 20_000  # per issue


def case_hash(case_code: str, campaign_id: int, *, secret: bytes | None = None) -> str:
    """The keyed hash stored for a case code (never the code itself)."""
    message = f"case|{campaign_id}|{case_code.strip()}".encode()
    return hmac.new(secret or server_secret(), message, hashlib.sha256).hexdigest()


def read_case_codes(data: bytes) -> list[str]:
    """The distinct case codes of a CSV with a column `ma_ho_so` (comma, semicolon or tab;
    UTF-8, with or without BOM), in file order."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StorageError("links.unreadable", error=str(exc)) from None
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    if CASE_COLUMN not in columns:
        raise StorageError("links.no_case_column", columns=", ".join(columns) or "-")
    codes: dict[str, None] = {}
    try:
        for row in reader:
            code = (row.get(columns[CASE_COLUMN]) or "").strip()
            if not code:
                continue
            if len(code) > MAX_CASE_LENGTH:
                raise StorageError("links.case_too_long", maximum=MAX_CASE_LENGTH, code=code[:40])
            codes[code] = None
    except csv.Error as exc:
        raise StorageError("links.unreadable", error=str(exc)) from None
    if not codes:
        raise StorageError("links.no_case")
    if len(codes) > MAX_LINKS:
        raise StorageError("links.count", maximum=MAX_LINKS, count=len(codes))
    return list(codes)


@dataclass(frozen=True)
class IssuedLink:
    """One single-use link: its case code (None for an anonymous one), URL and expiry."""

    case_code: str | None
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedLinks:
    campaign: CampaignLink
    links: list[IssuedLink]


def issue_single_use_links(
    *,
    session: Session,
    actor: str,
    unit_code: str,
    period: str,
    questionnaire: str,
    case_codes: list[str] | None = None,
    count: int | None = None,
    days: int | None = None,
    base_url: str | None = None,
    secret: bytes | None = None,
    now: datetime | None = None,
    allow_ended_period: bool = True,
) -> IssuedLinks:
    """One single-use link per case code (the same link again for a case issued before), or
    `count` anonymous ones, on the open campaign of unit × quarter × questionnaire (opened if
    needed). A link expires after `days` (default SURVEY_LINK_DAYS, 30) or with the campaign,
    whichever comes first. Flushed, not committed."""
    if (case_codes is None) == (count is None):
        raise ValueError("give either case codes or a count")
    if count is not None and not 1 <= count <= MAX_LINKS:
        raise StorageError("links.count", maximum=MAX_LINKS, count=count)
    days = settings().link_days if days is None else days
    if not 1 <= days <= MAX_CAMPAIGN_DAYS:
        raise StorageError("links.days", maximum=MAX_CAMPAIGN_DAYS, days=days)
    secret = secret or server_secret()
    link = open_campaign_link(session=session, actor=actor, unit_code=unit_code, period=period,
                              questionnaire=questionnaire, base_url=base_url,
                              allow_ended_period=allow_ended_period)
    campaign = link.campaign
    expires_at = as_utc(now or utcnow()) + timedelta(days=days)
    if campaign.expires_at is not None:
        expires_at = min(expires_at, as_utc(campaign.expires_at))
    expires_at = expires_at.replace(microsecond=0)
    codes: list[str | None] = list(case_codes) if case_codes is not None else [None] * count
    rows = issue_links(
        session=session,
        campaign_id=campaign.id,
        case_hashes=[None if code is None else case_hash(code, campaign.id, secret=secret)
                     for code in codes],
        expires_at=expires_at,
    )
    base = (base_url or settings().base_url).rstrip("/")
    issued = []
    for code, row in zip(codes, rows, strict=True):
        token = make_token(campaign_id=campaign.id, generation=campaign.link_generation,
                           expires_at=row.expires_at, secret=secret, link_id=row.id)
        issued.append(IssuedLink(code, f"{base}{FORM_PATH}{token}", as_utc(row.expires_at)))
    return IssuedLinks(link, issued)


def links_csv(links: IssuedLinks) -> bytes:
    """One line per link: case code, URL, valid until (UTF-8 with BOM, for Excel)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([CASE_COLUMN, "url", "hieu_luc_den"])
    for link in links.links:
        writer.writerow([link.case_code or "", link.url, f"{link.expires_at:%Y-%m-%d}"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def slips_pdf_of(issued: IssuedLinks) -> bytes:
    """The slips of issued links, ten per A4 page (survey/posters.py)."""
    from survey.periods import parse_period
    from survey.posters import SlipContent, slips_pdf

    unit = issued.campaign.unit
    period = parse_period(issued.campaign.campaign.period).label("vi")
    return slips_pdf([
        SlipContent(unit.name, period, link.url, link.case_code or "",
                    f"{link.expires_at:%d/%m/%Y}")
        for link in issued.links
    ])


def issue_links_as(
    *,
    session: Session,
    scope,
    unit_code: str,
    period: str,
    questionnaire: str,
    case_codes: list[str] | None = None,
    count: int | None = None,
    days: int | None = None,
    base_url: str | None = None,
    allow_ended_period: bool = False,
) -> IssuedLinks:
    """Issue single-use links from a page or the command line: checks the right and the unit's scope, issues,
    audits (single_use_links_issued, with the number only: no case code) and commits. A
    campaign for a quarter that has ended is opened only with `allow_ended_period` (the
    person confirmed, see `survey.links.refuse_ended_period`)."""
    from survey.auth import AccessDenied
    from survey.storage.audit import append_audit
    from survey.storage.organisations import get_organisation

    if not scope.can_manage("campaigns"):
        raise AccessDenied("access.right.campaigns", role=scope.role)
    unit = get_organisation(session=session, code=unit_code)
    if not scope.allows(unit):
        raise AccessDenied("access.unit", code=unit_code)
    issued = issue_single_use_links(session=session, actor=scope.username, unit_code=unit_code,
                                    period=period, questionnaire=questionnaire,
                                    case_codes=case_codes, count=count, days=days,
                                    base_url=base_url, allow_ended_period=allow_ended_period)
    append_audit(session=session, username=scope.username, action="single_use_links_issued",
                 target=f"#{issued.campaign.campaign.id} {unit_code} {period}",
                 detail={"links": len(issued.links),
                         "kind": "cases" if case_codes is not None else "anonymous"})
    session.commit()
    return issued


@dataclass(frozen=True)
class LinkResponseRate:
    """Single-use links of one campaign: issued, answered, and the response rate with its
    Wilson score interval."""

    campaign_id: int
    period: str
    issued: int
    answered: int
    rate: float
    low: float
    high: float


def wilson_interval(successes, trials, level: float = 0.95):
    """The Wilson score interval of a binomial proportion (vectorised; NaN for no trial)."""
    import numpy as np
    from scipy.stats import norm

    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def link_response_rates(
    *, session: Session, unit_id: int, quarters: list[str], level: float = 0.95
) -> list[LinkResponseRate]:
    """The unit's campaigns in these quarters that have single-use links, with their rates."""
    from survey.storage.campaigns import find_campaigns
    from survey.storage.single_use_links import link_counts

    campaigns = [c for quarter in quarters
                 for c in find_campaigns(session=session, unit_id=unit_id, period=quarter)]
    counts = link_counts(session=session, campaign_ids=[c.id for c in campaigns])
    shown = [c for c in campaigns if c.id in counts]
    if not shown:
        return []
    issued = [counts[c.id][0] for c in shown]
    answered = [counts[c.id][1] for c in shown]
    low, high = wilson_interval(answered, issued, level)
    return [
        LinkResponseRate(c.id, c.period, n, k, k / n, float(lo), float(hi))
        for c, n, k, lo, hi in zip(shown, issued, answered, low, high, strict=True)
    ]
