"""The form's write path: batched inserts, the writer thread, link checks at store time."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import select

from survey.answer_codes import codec_of
from survey.bootstrap import register_shipped_questionnaires
from survey.db import new_session
from survey.links import LinkClaims, LinkError, open_campaign_link
from survey.models import QuestionnaireVersion, Response, utcnow
from survey.questionnaire import load_questionnaire
from survey.storage.campaigns import close_campaign, link_states, revoke_campaign
from survey.storage.new_responses import NewResponse, insert_new_responses
from survey.storage.organisations import add_organisation
from survey.storage.responses import answers_by_response, store_response
from survey.webform.writer import PendingResponse, ResponseWriter

ANSWERS = {"1.1": "A", "1.2": "B", "2.1": "C"}


@pytest.fixture
def campaigns(engine):
    """Two open campaigns (units HG01 and HG02, 2024-Q3) on the 2024 questionnaire."""
    register_shipped_questionnaires(engine)
    with new_session(engine) as session:
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        links = []
        for code in ("HG01", "HG02"):
            add_organisation(session=session, code=code, name=f"Đơn vị {code}", parent_code="HG")
            links.append(
                open_campaign_link(actor="test",
                    session=session, unit_code=code, period="2024-Q3", questionnaire="dtxhh-haugiang"
                ).campaign
            )
        session.commit()
    return links


CODEC_2024 = codec_of(load_questionnaire(
    Path(__file__).resolve().parent.parent / "questionnaires" / "dtxhh-haugiang-2024.yaml"))


def new_response(campaign, key: str, receipt: str, **changes) -> NewResponse:
    """A response to insert; `answers` given as {question: option} and encoded here."""
    changes["answers"] = CODEC_2024.encode(changes.get("answers", ANSWERS))
    values = dict(
        unit_id=campaign.unit_id,
        period=campaign.period,
        questionnaire_version_id=campaign.questionnaire_version_id,
        group_code="DAN",
        answers=ANSWERS,
        idempotency_key=key,
        channel="qr",
        campaign_id=campaign.id,
        receipt=receipt,
    )
    return NewResponse(**{**values, **changes})


def pending(campaign, key: str, receipt: str, **changes) -> PendingResponse:
    claims = LinkClaims(campaign.id, campaign.link_generation, utcnow() + timedelta(days=1))
    return PendingResponse(claims, new_response(campaign, key, receipt, **changes))


def stored_rows(engine) -> dict[str, tuple[str | None, dict[str, str]]]:
    """{idempotency key: (receipt, {question: option})} of every stored response."""
    with new_session(engine) as session:
        responses = session.exec(select(Response)).all()
        by_id = answers_by_response(session=session)
    return {row.idempotency_key: (row.receipt, by_id[row.id]) for row in responses}


def test_insert_new_responses_stores_each_key_once_with_its_answers(engine, campaigns):
    first, second = campaigns
    with new_session(engine) as session:
        store_response(
            session=session,
            questionnaire_row=session.get(QuestionnaireVersion, first.questionnaire_version_id),
            unit_id=first.unit_id,
            period=first.period,
            group_code="DN",
            answers={"1.1": "D"},
            idempotency_key="earlier",
            receipt="EARLIER1",
        )
    batch = [
        new_response(first, "a", "RECEIPTA"),
        new_response(second, "b", "RECEIPTB", answers={"1.1": "B"}, flagged=True, flag_reason="x"),
        new_response(first, "a", "RECEIPTZ"),  # the same key again in the batch
        new_response(first, "earlier", "NEVERSET"),  # stored before
    ]
    with new_session(engine) as session:
        results = insert_new_responses(session=session, responses=batch)
        session.commit()
    assert results == {
        "a": ("RECEIPTA", True),
        "b": ("RECEIPTB", True),
        "earlier": ("EARLIER1", False),
    }
    rows = stored_rows(engine)
    assert rows == {
        "a": ("RECEIPTA", ANSWERS),
        "b": ("RECEIPTB", {"1.1": "B"}),
        "earlier": ("EARLIER1", {"1.1": "D"}),
    }
    with new_session(engine) as session:
        flagged = session.exec(select(Response).where(Response.idempotency_key == "b")).one()
        assert flagged.flagged and flagged.flag_reason == "x" and flagged.unit_id == second.unit_id
        assert flagged.submitted_at is not None and flagged.channel == "qr"


def test_insert_new_responses_keeps_text_verbatim(engine, campaigns):
    """Codes travel as JSON (SQLite) or arrays (PostgreSQL): quotes, Unicode and SQL survive."""
    [first, _] = campaigns
    odd = {"1.1": "A", "1.2": "B"}
    key = "web-1-'; DROP TABLE answer; --\"Đ"
    with new_session(engine) as session:
        insert_new_responses(session=session, responses=[new_response(first, key, "R1", answers=odd)])
        session.commit()
    assert stored_rows(engine) == {key: ("R1", odd)}


def test_link_states_reads_only_the_campaigns_asked(engine, campaigns):
    first, second = campaigns
    with new_session(engine) as session:
        states = link_states(session=session, campaign_ids=[first.id, 999])
    assert list(states) == [first.id]
    assert states[first.id].status == "open" and states[first.id].link_generation == 1


def test_a_batch_checks_every_link_and_stores_only_the_open_ones(engine, campaigns):
    first, second = campaigns
    with new_session(engine) as session:
        close_campaign(session=session, campaign=session.merge(second))
        session.commit()
    outcomes = ResponseWriter(engine).write_batch(
        [pending(first, "a", "RA"), pending(second, "b", "RB"), pending(first, "c", "RC")]
    )
    assert outcomes[0] == ("RA", True) and outcomes[2] == ("RC", True)
    assert isinstance(outcomes[1], LinkError) and outcomes[1].reason == "closed"
    assert set(stored_rows(engine)) == {"a", "c"}


def test_one_bad_response_fails_alone(engine, campaigns):
    [first, _] = campaigns
    outcomes = ResponseWriter(engine).write_batch(
        [
            pending(first, "a", "RA"),
            pending(first, "bad", "RX", unit_id=424242),  # no such unit: a foreign key fails
            pending(first, "c", "RC"),
        ]
    )
    assert outcomes[0] == ("RA", True) and outcomes[2] == ("RC", True)
    assert isinstance(outcomes[1], IntegrityError)
    assert set(stored_rows(engine)) == {"a", "c"}


def test_database_unavailable_fails_the_whole_batch_and_stores_nothing(campaigns):
    [first, _] = campaigns
    dead = create_engine("sqlite:////proc/no/such/dir/survey.db")
    outcomes = ResponseWriter(dead).write_batch([pending(first, "a", "RA"), pending(first, "b", "RB")])
    assert all(isinstance(outcome, OperationalError) for outcome in outcomes)


def test_concurrent_submissions_from_several_event_loops_are_stored_once(engine, campaigns):
    """Four threads, each with its own event loop, send 40 submissions; every key twice."""
    first, second = campaigns
    writer = ResponseWriter(engine)
    results: dict[int, list] = {}

    def client(number: int) -> None:
        async def send_all():
            jobs = []
            for index in range(10):
                campaign = first if index % 2 else second
                key = f"k{number % 2}-{index}"  # threads 0/2 and 1/3 send the same keys
                jobs.append(writer.store(pending(campaign, key, f"R{number}{index:02d}")))
            return await asyncio.gather(*jobs)

        results[number] = asyncio.run(send_all())

    threads = [threading.Thread(target=client, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    rows = stored_rows(engine)
    assert len(rows) == 20 and all(answers == ANSWERS for _, answers in rows.values())
    for number, outcomes in results.items():
        for index, (receipt, _created) in enumerate(outcomes):
            # whoever came first, both senders of a key are told the one stored receipt
            assert rows[f"k{number % 2}-{index}"][0] == receipt
    created = sum(was_created for outcomes in results.values() for _, was_created in outcomes)
    assert created == 20


def test_store_raises_the_link_error_to_the_request(engine, campaigns):
    [first, _] = campaigns
    with new_session(engine) as session:
        revoke_campaign(session=session, campaign=session.merge(first))
        session.commit()
    with pytest.raises(LinkError) as caught:
        asyncio.run(ResponseWriter(engine).store(pending(first, "a", "RA")))
    assert caught.value.reason == "revoked"
    assert stored_rows(engine) == {}


def test_the_writer_thread_stops_when_idle_and_starts_again(engine, campaigns):
    [first, _] = campaigns
    writer = ResponseWriter(engine, idle_seconds=0.05)
    assert asyncio.run(writer.store(pending(first, "a", "RA"))) == ("RA", True)
    deadline = time.monotonic() + 5
    while writer._thread is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert writer._thread is None
    assert asyncio.run(writer.store(pending(first, "b", "RB"))) == ("RB", True)
    assert set(stored_rows(engine)) == {"a", "b"}
