"""Campaign commands: open, close, revoke, rotate, list; QR codes and posters (`survey qr`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlmodel import Session

from survey.admin import CLI_SCOPE
from survey.cli.common import CliError, ended_period_flag, print_json, session_scope
from survey.links import (
    CampaignLink,
    campaign_url,
    change_campaign,
    open_campaign_link,
    province_links,
)
from survey.models import Campaign
from survey.posters import campaign_poster_pdf, poster_content, posters_pdf
from survey.qr import qr_png, qr_svg
from survey.storage.campaigns import (
    campaign_details,
    find_campaigns,
    get_campaign,
    list_campaign_summaries,
)
from survey.storage.organisations import descendant_ids, get_organisation
from survey.storage.questionnaires import get_questionnaire_version, list_questionnaire_versions

QR_FORMATS = (".pdf", ".png", ".svg")


def _note(text: str) -> None:
    """A human note on stderr, so stdout holds only the URL or the data."""
    print(text, file=sys.stderr)


def _describe(session: Session, campaign: Campaign) -> str:
    unit, version = campaign_details(session=session, campaign=campaign)
    return f"campaign #{campaign.id} ({unit.code} {campaign.period} {version.family}@{version.version})"


def _unit_id(session: Session, code: str) -> int:
    unit = get_organisation(session=session, code=code)
    if unit is None:
        raise CliError(f"unit {code} does not exist")
    return unit.id


def _version_ids(session: Session, reference: str | None) -> list[int] | None:
    """'ID@VERSION' → that version; 'ID' → every version of the family; None → any."""
    if reference is None:
        return None
    if "@" in reference:
        return [get_questionnaire_version(session=session, reference=reference).id]
    rows = list_questionnaire_versions(session=session, family=reference)
    if not rows:
        get_questionnaire_version(session=session, reference=reference)  # raises the clear error
    return [row.id for row in rows]


def _only_open_campaign(session: Session, args: argparse.Namespace) -> Campaign:
    """The campaign named by --id, or the one open campaign of --unit × --period [× questionnaire]."""
    if args.id is not None:
        campaign = get_campaign(session=session, campaign_id=args.id)
        if campaign is None:
            raise CliError(f"campaign #{args.id} does not exist")
        return campaign
    if not (args.unit and args.period):
        raise CliError("name the campaign: --id N, or --unit U --period P [--questionnaire ID]")
    found = find_campaigns(
        session=session,
        unit_id=_unit_id(session, args.unit),
        period=args.period,
        version_ids=_version_ids(session, args.questionnaire),
        status="open",
    )
    if not found:
        raise CliError(f"no open campaign for {args.unit} in {args.period}")
    if len(found) > 1:
        names = "; ".join(_describe(session, c) for c in found)
        raise CliError(f"several open campaigns match ({names}): add --questionnaire or use --id")
    return found[0]


def _open(args: argparse.Namespace) -> int:
    with session_scope() as session, ended_period_flag():
        link = open_campaign_link(
            session=session,
            actor=CLI_SCOPE.username,
            unit_code=args.unit,
            period=args.period,
            questionnaire=args.questionnaire,
            days=args.days,
            base_url=args.base_url,
            allow_ended_period=args.allow_ended_period,
        )
        until = f"{link.campaign.expires_at:%Y-%m-%d}" if link.campaign.expires_at else "no expiry"
        verb = "opened" if link.created else "reused open"
        _note(f"{verb} {_describe(session, link.campaign)}, link valid until {until}")
        if not link.created and args.days is not None:
            _note(
                "the expiry is part of the link, so the link changed: print new posters "
                "(links printed before stop at the earlier of their own expiry and the new one)"
            )
    print(link.url)
    return 0


def _end(args: argparse.Namespace, action: str, verb: str) -> int:
    with session_scope() as session:
        campaign = change_campaign(session=session, scope=CLI_SCOPE, action=action,
                                   campaign_id=_only_open_campaign(session, args).id)
        print(f"{_describe(session, campaign)} {verb}")
    return 0


def _close(args: argparse.Namespace) -> int:
    """End collection: the link then says the survey has ended (audited)."""
    return _end(args, "close", "closed")


def _revoke(args: argparse.Namespace) -> int:
    """Withdraw the link: it then says it was withdrawn (audited)."""
    return _end(args, "revoke", "revoked")


def _rotate(args: argparse.Namespace) -> int:
    with session_scope() as session:
        campaign = change_campaign(session=session, scope=CLI_SCOPE, action="rotate",
                                   campaign_id=_only_open_campaign(session, args).id)
        _note(
            f"{_describe(session, campaign)}: new link (generation {campaign.link_generation}); "
            "older links and posters no longer work"
        )
        url = campaign_url(campaign, base_url=args.base_url)
    print(url)
    return 0


def _list(args: argparse.Namespace) -> int:
    with session_scope() as session:
        unit_ids = None
        if args.unit:
            unit_ids = descendant_ids(session=session, organisation_id=_unit_id(session, args.unit))
        summaries = list_campaign_summaries(
            session=session, unit_ids=unit_ids, period=args.period, status=args.status
        )
        rows = [
            {
                "id": s.campaign.id,
                "unit": s.unit_code,
                "unit_name": s.unit_name,
                "period": s.campaign.period,
                "questionnaire": f"{s.family}@{s.version}",
                "status": s.campaign.status,
                "link_generation": s.campaign.link_generation,
                "opened_at": s.campaign.opened_at,
                "expires_at": s.campaign.expires_at,
                "responses": int(s.responses),
                "flagged": int(s.flagged),
                "url": campaign_url(s.campaign, base_url=args.base_url)
                if s.campaign.status == "open"
                else None,
            }
            for s in summaries
        ]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        _note("no campaign")
    for row in rows:
        print(
            f"#{row['id']}\t{row['unit']}\t{row['period']}\t{row['questionnaire']}\t{row['status']}"
            f"\t{row['responses']} responses ({row['flagged']} flagged)\t{row['url'] or '-'}"
        )
    return 0


def _unit_link(session: Session, args: argparse.Namespace) -> CampaignLink:
    """The open link of --unit × --period, opened when needed."""
    questionnaire = args.questionnaire
    if questionnaire is None:
        found = find_campaigns(
            session=session, unit_id=_unit_id(session, args.unit), period=args.period, status="open"
        )
        if len(found) != 1:
            state = "no open campaign" if not found else "several open campaigns"
            raise CliError(f"{args.unit} has {state} in {args.period}: add --questionnaire ID")
        _unit, version = campaign_details(session=session, campaign=found[0])
        questionnaire = f"{version.family}@{version.version}"
    return open_campaign_link(
        session=session,
        actor=CLI_SCOPE.username,
        unit_code=args.unit,
        period=args.period,
        questionnaire=questionnaire,
        days=args.days,
        base_url=args.base_url,
        allow_ended_period=args.allow_ended_period,
    )


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc}") from None


def _qr(args: argparse.Namespace) -> int:
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in QR_FORMATS:
        raise CliError(f"--out must end in {', '.join(QR_FORMATS)} (got {out.name})")
    if (args.province is None) == (args.unit is None):
        raise CliError("use either --unit U or --province [CODE]")
    with session_scope() as session, ended_period_flag():
        if args.province is not None:
            if suffix != ".pdf":
                raise CliError(
                    "--province writes one PDF with every unit's poster: use --out FILE.pdf"
                )
            if args.questionnaire is None:
                raise CliError("--province needs --questionnaire ID[@VERSION]")
            links = province_links(
                session=session,
                actor=CLI_SCOPE.username,
                period=args.period,
                questionnaire=args.questionnaire,
                province_code=None if args.province is True else args.province,
                days=args.days,
                base_url=args.base_url,
                allow_ended_period=args.allow_ended_period,
            )
            _write(out, posters_pdf([poster_content(link) for link in links]))
            opened = sum(link.created for link in links)
            _note(f"{len(links)} posters written to {out} ({opened} campaigns opened now)")
            return 0
        link = _unit_link(session, args)
        content = {
            ".pdf": lambda: campaign_poster_pdf(link),
            ".png": lambda: qr_png(link.url),
            ".svg": lambda: qr_svg(link.url),
        }[suffix]()
        _write(out, content)
        _note(f"{_describe(session, link.campaign)}: {out} written")
    print(link.url)
    return 0
