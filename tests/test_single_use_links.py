"""Single-use links per case file: issued by the CLI as slips or CSV, one answer each, no tie
between an answer and a case code in the database."""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import MetaData, inspect, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from survey.bootstrap import register_shipped_questionnaires
from survey.cli import main
from survey.db import new_session
from survey.links import LinkClaims, read_token
from survey.models import Response
from survey.single_use import issue_single_use_links, read_case_codes
from survey.storage import StorageError
from survey.storage.organisations import add_organisation
from survey.storage.single_use_links import link_counts
from survey.webform.routes import form_routes
from survey.webform.writer import PendingResponse, ResponseWriter
from tests.test_qr_posters import decode, embedded_images
from tests.test_webform import QUIET, form_key, full_answers, receipt_of

SECRET = "test-secret-not-for-production"
CASES = ["000.00.18.H27-240701-0001", "000.00.18.H27-240701-0002", "HS/2024/ÂÊ-03"]


@pytest.fixture
def unit(engine, monkeypatch):
    monkeypatch.setenv("SURVEY_SECRET", SECRET)
    monkeypatch.setenv("SURVEY_BASE_URL", "https://khaosat.example.vn")
    register_shipped_questionnaires(engine)
    with new_session(engine) as session:
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        add_organisation(session=session, code="HG01", name="Cục THADS Hậu Giang",
                         parent_code="HG")
        session.commit()


def issue(engine, **options):
    with new_session(engine) as session:
        issued = issue_single_use_links(session=session, actor="test", unit_code="HG01", period="2024-Q3",
                                        questionnaire="dtxhh-haugiang", **options)
        session.commit()
        return issued


def client_of(engine) -> TestClient:
    return TestClient(Starlette(routes=form_routes(engine=engine, limits=QUIET)),
                      raise_server_exceptions=False)


def path(url: str) -> str:
    return url.removeprefix("https://khaosat.example.vn")


def responses(engine) -> list[Response]:
    with new_session(engine) as session:
        return list(session.exec(select(Response)).scalars())


def test_case_csv_is_read_by_its_column_in_any_delimiter():
    data = "STT;ma_ho_so;ngay\r\n1;A-1;x\r\n2; A-2 ;y\r\n3;A-1;z\r\n4;;w\r\n".encode("utf-8-sig")
    assert read_case_codes(data) == ["A-1", "A-2"]  # distinct, trimmed, blanks skipped
    assert read_case_codes(b"ma_ho_so\nB\n") == ["B"]
    with pytest.raises(StorageError) as error:
        read_case_codes(b"so_ho_so\nB\n")
    assert error.value.code == "links.no_case_column"


def test_one_link_per_case_and_the_same_link_when_issued_again(engine, unit):
    first = issue(engine, case_codes=CASES)
    again = issue(engine, case_codes=[CASES[1], "NEW-4"])
    assert len({link.url for link in first.links}) == 3
    assert again.links[0].url == first.links[1].url  # no second link for a case
    assert again.links[1].url not in {link.url for link in first.links}
    claims = [read_token(path(link.url).rsplit("/", 1)[1]) for link in first.links]
    assert {c.campaign_id for c in claims} == {first.campaign.campaign.id}
    assert len({c.link_id for c in claims}) == 3 and None not in {c.link_id for c in claims}
    with new_session(engine) as session:
        assert link_counts(session=session) == {first.campaign.campaign.id: (4, 0)}


def test_link_expires_after_its_days_or_with_the_campaign(engine, unit):
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    issued = issue(engine, count=1, days=7, now=now)
    assert issued.links[0].expires_at == now + timedelta(days=7)
    long = issue(engine, count=1, days=3000)  # beyond the campaign's 90 days
    campaign_end = issued.campaign.campaign.expires_at.replace(tzinfo=UTC, microsecond=0)
    assert long.links[0].expires_at == campaign_end
    expired = issue(engine, count=1, days=1, now=datetime.now(UTC) - timedelta(days=2))
    page = client_of(engine).get(path(expired.links[0].url))
    assert page.status_code == 410 and "hết hạn" in page.text


def test_one_answer_per_link_then_the_used_page(engine, unit):
    [link] = issue(engine, case_codes=CASES[:1]).links
    client, other_device = client_of(engine), client_of(engine)
    first_page = client.get(path(link.url))
    second_page = other_device.get(path(link.url))  # the same slip opened twice before answering
    assert first_page.status_code == second_page.status_code == 200
    campaign_link = issue(engine, count=1).campaign

    sent = client.post(path(link.url) + "/gui", data=full_answers(campaign_link, first_page.text),
                       follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == "cam-on"  # the receipt only in the thank-you cookie
    receipt = sent.cookies["bn"]
    assert receipt_of(client.get(path(link.url) + "/cam-on").text) == receipt
    assert len(responses(engine)) == 1

    # The same form sent again: the same receipt, nothing more stored.
    again = client.post(path(link.url) + "/gui", data=full_answers(campaign_link, first_page.text),
                        follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "cam-on"
    assert again.cookies["bn"] == receipt
    # Another form through the used link: the used page, nothing stored.
    other = other_device.post(path(link.url) + "/gui",
                              data=full_answers(campaign_link, second_page.text, option="A"))
    assert "Phiếu này đã được trả lời" in other.text and 'id="receipt"' not in other.text
    assert len(responses(engine)) == 1
    # Reopening the link: the used page; with the receipt in the browser that answered.
    reopened = client.get(path(link.url))
    assert "Phiếu này đã được trả lời" in reopened.text and receipt_of(reopened.text) == receipt
    assert 'name="k"' not in reopened.text
    elsewhere = other_device.get(path(link.url))
    assert "Phiếu này đã được trả lời" in elsewhere.text and receipt not in elsewhere.text
    with new_session(engine) as session:
        assert link_counts(session=session)[campaign_link.campaign.id] == (2, 1)


def test_forged_or_altered_links_are_refused(engine, unit):
    first, second = issue(engine, case_codes=CASES[:2]).links
    client = client_of(engine)
    token = path(first.url).rsplit("/", 1)[1]
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/s/{altered}").status_code == 400
    flipped = token[:17] + ("x" if token[17] != "x" else "y") + token[18:]  # in the link id
    assert client.get(f"/s/{flipped}").status_code == 400
    # A key of one link does not pass on another: refused, nothing stored, link still unused.
    campaign_link = issue(engine, count=1).campaign
    page = client.get(path(first.url)).text
    refused = client.post(path(second.url) + "/gui", data=full_answers(campaign_link, page))
    assert refused.status_code == 400 and responses(engine) == []
    assert client.get(path(second.url)).status_code == 200 and 'name="k"' in client.get(
        path(second.url)).text


def test_a_batch_with_two_forms_through_one_link_stores_one(engine, unit):
    issued = issue(engine, count=1)
    campaign = issued.campaign
    claims = read_token(path(issued.links[0].url).rsplit("/", 1)[1])
    assert isinstance(claims, LinkClaims)
    page = client_of(engine).get(path(issued.links[0].url)).text
    from survey.answer_codes import codec_of
    from survey.storage.new_responses import NewResponse
    from survey.storage.questionnaires import questionnaire_of

    questionnaire = questionnaire_of(campaign.version)
    answers = codec_of(questionnaire).encode({code: "B" for code in questionnaire.question_codes})

    def pending(key: str, receipt: str) -> PendingResponse:
        return PendingResponse(claims, NewResponse(
            unit_id=campaign.unit.id, period="2024-Q3",
            questionnaire_version_id=campaign.version.id, group_code="DAN", answers=answers,
            idempotency_key=key, channel="qr", campaign_id=campaign.campaign.id, receipt=receipt))

    assert form_key(page)
    outcomes = ResponseWriter(engine).write_batch(
        [pending("k1", "AAAAAAAA"), pending("k2", "BBBBBBBB"), pending("k1", "CCCCCCCC")])
    assert outcomes[0] == ("AAAAAAAA", True)
    assert outcomes[1].reason == "used"
    assert outcomes[2] == ("AAAAAAAA", False)
    later = ResponseWriter(engine).write_batch([pending("k1", "DDDDDDDD"), pending("k3", "E")])
    assert later[0] == ("AAAAAAAA", False) and later[1].reason == "used"
    assert [r.receipt for r in responses(engine)] == ["AAAAAAAA"]


def test_two_writers_claiming_one_link_at_once_store_one(engine, unit):
    """Two processes' writers (each its own transaction) take two forms of one link together:
    the second waits for the first's lock and claims nothing (PostgreSQL: row lock; SQLite:
    one writer at a time)."""
    issued = issue(engine, count=1)
    campaign = issued.campaign
    claims = read_token(path(issued.links[0].url).rsplit("/", 1)[1])
    from survey.answer_codes import codec_of
    from survey.storage.new_responses import NewResponse
    from survey.storage.questionnaires import questionnaire_of

    questionnaire = questionnaire_of(campaign.version)
    answers = codec_of(questionnaire).encode({code: "B" for code in questionnaire.question_codes})

    def write(key: str):
        pending = PendingResponse(claims, NewResponse(
            unit_id=campaign.unit.id, period="2024-Q3",
            questionnaire_version_id=campaign.version.id, group_code="DAN", answers=answers,
            idempotency_key=key, channel="qr", campaign_id=campaign.campaign.id, receipt=key))
        return ResponseWriter(engine).write_batch([pending])[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(write, [f"K{i}AAAAAA" for i in range(8)]))
    stored = [o for o in outcomes if isinstance(o, tuple)]
    assert len(stored) == 1 and stored[0][1] is True
    assert all(o.reason == "used" for o in outcomes if not isinstance(o, tuple))
    assert [r.receipt for r in responses(engine)] == [stored[0][0]]


def test_the_database_holds_no_case_code(engine, unit, tmp_path, cli_env):
    cases = tmp_path / "cases.csv"
    cases.write_text("ma_ho_so\n" + "\n".join(CASES) + "\n", encoding="utf-8")
    out = tmp_path / "links.csv"
    assert main(["links", "issue", "--unit", "HG01", "--period", "2024-Q3", "--questionnaire",
                 "dtxhh-haugiang", "--cases", str(cases), "--out", str(out),
                 "--allow-ended-period"]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [row["ma_ho_so"] for row in rows] == CASES
    client = client_of(engine)
    campaign_link = issue(engine, count=1).campaign
    for row in rows:
        page = client.get(path(row["url"])).text
        assert client.post(path(row["url"]) + "/gui", data=full_answers(campaign_link, page),
                           follow_redirects=False).status_code == 303
    assert len(responses(engine)) == 3
    # Every value of every table, as text: no case code, in any case, anywhere.
    metadata = MetaData()
    metadata.reflect(bind=engine)
    dump = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for record in connection.execute(table.select()):
                dump += [value.decode("latin-1") if isinstance(value, bytes) else str(value)
                         for value in record]
    text = "\n".join(dump).lower()
    for code in CASES:
        assert code.lower() not in text
        assert hashlib.sha256(code.encode()).hexdigest() not in text  # the hash is keyed
    # And nothing joins them: neither table refers to the other.
    inspector = inspect(engine)
    for table, other in (("response", "single_use_link"), ("single_use_link", "response")):
        assert other not in {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
    assert {c["name"] for c in inspector.get_columns("single_use_link")} == {
        "id", "campaign_id", "case_hash", "expires_at", "used"}


def test_slips_pdf_decodes_to_the_links(engine, unit, tmp_path, cli_env):
    out, listing = tmp_path / "slips.pdf", tmp_path / "slips.csv"
    base = ["links", "issue", "--unit", "HG01", "--period", "2024-Q3",
            "--questionnaire", "dtxhh-haugiang", "--count", "12", "--allow-ended-period"]
    assert main([*base, "--out", str(out)]) == 0
    pdf = out.read_bytes()
    assert pdf.count(b"/Type /Page\n") == 2  # ten slips per A4 page
    urls = [decode(image)[0] for image in embedded_images(pdf)]
    assert len(set(urls)) == 12
    for url in urls:
        assert f"/URI ({url})".encode() in pdf  # the printed short URL is the same link
        assert read_token(url.rsplit("/", 1)[1]).link_id is not None
    assert main(["links", "issue", "--unit", "HG01", "--period", "2024-Q3", "--questionnaire",
                 "dtxhh-haugiang", "--count", "2", "--out", str(listing)]) == 0
    assert len(listing.read_text(encoding="utf-8-sig").splitlines()) == 3
    assert main([*base, "--out", str(tmp_path / "slips.txt")]) == 2


def test_printed_slips_scan_to_their_links(engine, unit, tmp_path):
    """The first page of slips rendered at 150 dpi (as printed): ten codes, ten links."""
    issued = issue(engine, count=10)
    from survey.single_use import slips_pdf_of

    (tmp_path / "slips.pdf").write_bytes(slips_pdf_of(issued))
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1",
                    str(tmp_path / "slips.pdf"), str(tmp_path / "page")], check=True)
    [image] = tmp_path.glob("page-*.png")
    scanned = {barcode.text for barcode in zxingcpp.read_barcodes(Image.open(image))}
    assert scanned == {link.url for link in issued.links}
