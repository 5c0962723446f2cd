"""Storage of single-use links (table `single_use_link`): issue, claim, state, counts.

A row holds the campaign, a keyed hash of the case code (or nothing for an anonymous link),
the expiry and a used mark. Claiming a link (marking it used) happens in the transaction
that inserts the response (survey/webform/writer.py), and nothing records which response.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from survey.models import SingleUseLink


def issue_links(
    *,
    session: Session,
    campaign_id: int,
    case_hashes: Sequence[str | None],
    expires_at: datetime,
) -> list[SingleUseLink]:
    """One link per entry, in order (None: a new anonymous link); a case hash already issued
    for this campaign gets its existing link back, not a second one. Flushed, not committed."""
    wanted = [h for h in case_hashes if h is not None]
    existing: dict[str, SingleUseLink] = {}
    for start in range(0, len(wanted), 5000):
        rows = session.exec(
            select(SingleUseLink).where(
                SingleUseLink.campaign_id == campaign_id,
                col(SingleUseLink.case_hash).in_(wanted[start:start + 5000]),
            )
        ).all()
        existing.update((row.case_hash, row) for row in rows)
    links: list[SingleUseLink] = []
    for case_hash in case_hashes:
        if case_hash is not None and case_hash in existing:
            links.append(existing[case_hash])
            continue
        row = SingleUseLink(campaign_id=campaign_id, case_hash=case_hash, expires_at=expires_at)
        session.add(row)
        links.append(row)
        if case_hash is not None:
            existing[case_hash] = row
    session.flush()
    return links


def link_is_used(*, session: Session, link_id: int, campaign_id: int) -> bool | None:
    """Whether the link was used; None when this campaign has no such link."""
    row = session.connection().execute(
        select(SingleUseLink.used).where(
            SingleUseLink.id == link_id, SingleUseLink.campaign_id == campaign_id
        )
    ).first()
    return None if row is None else bool(row[0])


def claim_links(*, session: Session, links: Iterable[tuple[int, int]]) -> set[int]:
    """Mark unused links (link id, campaign id) used, in the session's transaction; the ids
    marked now. A link already used (or not of that campaign) is not in the answer; of two
    transactions claiming the same link, the second waits for the first and claims nothing."""
    pairs = dict(links)
    if not pairs:
        return set()
    claimed = session.connection().execute(
        update(SingleUseLink)
        .where(col(SingleUseLink.id).in_(list(pairs)), col(SingleUseLink.used).is_(False))
        .values(used=True)
        .returning(SingleUseLink.id, SingleUseLink.campaign_id)
    ).all()
    wrong = {link_id for link_id, campaign_id in claimed if pairs[link_id] != campaign_id}
    if wrong:  # a token never names another campaign's link (it is signed); refuse anyway
        session.connection().execute(
            update(SingleUseLink).where(col(SingleUseLink.id).in_(wrong)).values(used=False)
        )
    return {link_id for link_id, _campaign in claimed} - wrong


def link_counts(
    *, session: Session, campaign_ids: Iterable[int] | None = None
) -> dict[int, tuple[int, int]]:
    """{campaign id: (links issued, links used)} of campaigns with single-use links."""
    query = select(
        SingleUseLink.campaign_id,
        func.count(SingleUseLink.id),
        func.count(SingleUseLink.id).filter(col(SingleUseLink.used).is_(True)),
    ).group_by(SingleUseLink.campaign_id)
    if campaign_ids is not None:
        query = query.where(col(SingleUseLink.campaign_id).in_(list(campaign_ids)))
    return {cid: (int(issued), int(used)) for cid, issued, used in session.exec(query).all()}
