"""The citizen's form through Starlette's TestClient: rendering, validation, idempotency, abuse."""

from __future__ import annotations

import base64
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from survey.bootstrap import register_shipped_questionnaires
from survey.db import new_session
from survey.links import open_campaign_link
from survey.models import Response
from survey.storage.campaigns import (
    close_campaign,
    get_campaign,
    revoke_campaign,
    rotate_campaign_link,
)
from survey.storage.organisations import add_organisation
from survey.storage.questionnaires import questionnaire_of
from survey.storage.responses import answers_by_response
from survey.webform import routes, startup, writer
from survey.webform.abuse import AbuseGuard, AbuseLimits, client_address, flag_reasons
from survey.webform.routes import form_routes

UNIT_NAME = "Cục Thi hành án dân sự tỉnh Hậu Giang"
QUIET = AbuseLimits(burst_count=1000, flood_per_minute=1000)


@pytest.fixture
def campaign(engine, monkeypatch):
    """An open campaign of HG01 for 2024-Q3 on the 2024 social-survey questionnaire."""
    monkeypatch.setenv("SURVEY_SECRET", "test-secret")
    register_shipped_questionnaires(engine)
    with new_session(engine) as session:
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        add_organisation(session=session, code="HG01", name=UNIT_NAME, parent_code="HG")
        link = open_campaign_link(actor="test",
            session=session, unit_code="HG01", period="2024-Q3", questionnaire="dtxhh-haugiang"
        )
        session.commit()
    return link


def make_client(engine, limits=QUIET, **options) -> TestClient:
    app = Starlette(routes=form_routes(engine=engine, limits=limits, **options))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(engine):
    return make_client(engine)


def path_of(link) -> str:
    return "/s/" + link.url.rsplit("/", 1)[1]


def submit_path(link) -> str:
    """Where the form posts (its action, relative to the form page)."""
    return path_of(link) + "/gui"


def form_key(page: str) -> str:
    return re.search(r'name="k" value="([^"]+)"', page).group(1)


def full_answers(link, page: str, option: str = "B") -> dict[str, str]:
    questionnaire = questionnaire_of(link.version)
    fields = {"k": form_key(page), "lang": "vi", "website": "", "g": "DAN"}
    fields.update({f"q_{code}": option for code in questionnaire.question_codes})
    return fields


def stored(engine) -> list[Response]:
    with new_session(engine) as session:
        return list(session.exec(select(Response)))


def answer_count(engine) -> int:
    with new_session(engine) as session:
        return sum(map(len, answers_by_response(session=session).values()))


def receipt_of(page: str) -> str:
    return re.search(r'id="receipt">([^<]+)<', page).group(1)


# --- the page ------------------------------------------------------------------------------


def test_form_page_is_light_and_complete(client, campaign):
    page = client.get(path_of(campaign))
    html = page.text
    assert page.status_code == 200
    assert len(page.content) < 60_000
    assert UNIT_NAME in html and "Quý 3/2024" in html
    assert "Phiếu không ghi tên" in html
    assert html.index('name="g"') < html.index('name="q_1.1"')  # respondent group first
    assert "Phần 1/7" in html and "Phần 7/7" in html
    assert "Câu 1/28" in html and "Câu 28/28" in html
    assert html.count("Không biết / không có ý kiến") == 28
    token = path_of(campaign).rsplit("/", 1)[1]
    assert f'href="{token}?lang=en"' in html and f'action="{token}/gui"' in html
    assert "<link" not in html and "src=" not in html
    assert not re.search(r'(href|action)="https?:', html)  # no external resource or target
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    # One inline script, the answer keeper, allowed by the hash of its exact text.
    [script] = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'; connect-src 'self'" in policy
    assert html.count("<script") == 1 and "localStorage" in script and len(script) < 4000


def test_english_switch(client, campaign):
    html = client.get(path_of(campaign) + "?lang=en").text
    assert '<html lang="en">' in html
    assert "Part 1 of 7" in html and "Q3 2024" in html and "Don&#39;t know / no opinion" in html
    assert re.search(r'href="[\w-]{32}\?lang=vi"', html)


def test_text_is_escaped(engine, campaign):
    with new_session(engine) as session:
        add_organisation(
            session=session, code="X1", name='<script>alert("x")</script> & Co', parent_code="HG"
        )
        link = open_campaign_link(actor="test",
            session=session, unit_code="X1", period="2024-Q3", questionnaire="sipas"
        )
        session.commit()
    html = make_client(engine).get(path_of(link)).text
    assert html.count("<script>") == 1  # the form's own answer keeper, nothing else
    assert "&lt;script&gt;" in html and "&amp; Co" in html


# --- submitting ------------------------------------------------------------------------------


def test_good_submission_is_stored_once_with_a_receipt(client, engine, campaign):
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    posted = client.post(submit_path(campaign), data=fields, follow_redirects=False)
    assert posted.status_code == 303
    assert posted.headers["location"] == "cam-on"  # relative to /s/<token>/gui: no receipt
    thanks = client.post(submit_path(campaign), data=fields)
    assert thanks.status_code == 200 and "Cảm ơn" in thanks.text
    assert thanks.url.path == path_of(campaign) + "/cam-on" and thanks.url.query == b""
    receipt = receipt_of(thanks.text)
    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}", receipt)
    [response] = stored(engine)
    assert response.receipt == receipt and response.campaign_id == campaign.campaign.id
    assert (response.unit_id, response.period, response.group_code) == (
        campaign.unit.id,
        "2024-Q3",
        "DAN",
    )
    assert response.channel == "qr" and not response.flagged
    assert answer_count(engine) == 28


def test_resubmission_shows_the_same_receipt(client, engine, campaign):
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    receipts = {receipt_of(client.post(submit_path(campaign), data=fields).text) for _ in range(3)}
    assert len(receipts) == 1 and len(stored(engine)) == 1


def test_concurrent_double_taps_store_one_response(engine, campaign):
    page = make_client(engine).get(path_of(campaign)).text
    fields = full_answers(campaign, page)

    def tap(_):
        return make_client(engine).post(submit_path(campaign), data=fields).text

    with ThreadPoolExecutor(max_workers=4) as pool:
        pages = list(pool.map(tap, range(4)))
    assert len({receipt_of(p) for p in pages}) == 1
    assert len(stored(engine)) == 1 and answer_count(engine) == 28


def test_posting_to_the_form_address_works_too(client, engine, campaign):
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    posted = client.post(path_of(campaign), data=fields, follow_redirects=False)
    token = path_of(campaign).rsplit("/", 1)[1]
    assert posted.status_code == 303 and posted.headers["location"] == f"{token}/cam-on"
    assert (
        receipt_of(client.post(submit_path(campaign), data=fields).text)
        == stored(engine)[0].receipt
    )


def test_re_rendered_form_links_stay_relative(client, campaign):
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    del fields["q_1.1"]
    html = client.post(submit_path(campaign), data=fields).text
    token = path_of(campaign).rsplit("/", 1)[1]
    assert 'action="gui"' in html and f'href="../{token}?lang=en"' in html
    back = client.get(submit_path(campaign) + "?lang=en", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == f"../{token}?lang=en"
    assert client.get(submit_path(campaign)).status_code == 200  # followed to the form


def test_each_rendered_form_is_a_new_response(client, engine, campaign):
    for _ in range(2):
        fields = full_answers(campaign, client.get(path_of(campaign)).text)
        client.post(submit_path(campaign), data=fields)
    assert len(stored(engine)) == 2


def test_english_submission_thanks_in_english(client, campaign):
    fields = full_answers(campaign, client.get(path_of(campaign) + "?lang=en").text)
    fields["lang"] = "en"
    posted = client.post(submit_path(campaign), data=fields, follow_redirects=False)
    assert posted.headers["location"] == "cam-on?lang=en"
    assert "Thank you" in client.post(submit_path(campaign), data=fields).text


def test_missing_answers_come_back_kept_and_marked(client, engine, campaign):
    fields = full_answers(campaign, client.get(path_of(campaign)).text, option="C")
    for code in ("1.2", "5.3"):
        del fields[f"q_{code}"]
    del fields["g"]
    page = client.post(submit_path(campaign), data=fields)
    assert page.status_code == 422
    html = page.text
    assert "Còn 3 câu chưa trả lời" in html
    assert html.count('<fieldset id="q-1.2" class="miss" tabindex="-1">') == 1
    assert html.count('class="miss"') == 3
    assert html.count('value="C" checked') == 26
    assert form_key(html) == fields["k"]
    assert stored(engine) == []
    fields.update({"q_1.2": "A", "q_5.3": "X", "g": "CB"})
    assert client.post(submit_path(campaign), data=fields).status_code == 200
    [response] = stored(engine)
    assert response.group_code == "CB"


@pytest.mark.parametrize(
    "change",
    [
        {"q_1.1": "Z"},  # option not on the scale
        {"q_9.9": "A"},  # unknown question
        {"email": "x"},  # unknown field
        {"g": "ROBOT"},  # unknown group
        {"k": "forged" * 5 + "ab"},  # forged form key
        {"k": None},  # no form key
    ],
)
def test_invalid_submissions_are_refused(client, engine, campaign, change):
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    for name, value in change.items():
        if value is None:
            fields.pop(name)
        else:
            fields[name] = value
    page = client.post(submit_path(campaign), data=fields)
    assert page.status_code == 400
    assert "Phiếu gửi lên không hợp lệ" in page.text
    assert stored(engine) == []


def test_a_field_sent_twice_is_refused(client, engine, campaign):
    fields = list(full_answers(campaign, client.get(path_of(campaign)).text).items())
    fields.append(("q_1.1", "A"))
    body = "&".join(f"{name}={value}" for name, value in fields)
    page = client.post(
        path_of(campaign),
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 400 and stored(engine) == []


def test_a_key_of_another_campaign_is_refused(engine, client, campaign):
    with new_session(engine) as session:
        other = open_campaign_link(actor="test",
            session=session, unit_code="HG01", period="2024-Q3", questionnaire="sipas"
        )
        session.commit()
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    fields["k"] = form_key(client.get(path_of(other)).text)
    assert client.post(submit_path(campaign), data=fields).status_code == 400


def test_multipart_is_refused(client, engine, campaign):
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    page = client.post(submit_path(campaign), files={"f": ("a.txt", b"x")}, data=fields)
    assert page.status_code == 400 and stored(engine) == []


# --- links that no longer work ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "status", "title"),
    [
        (close_campaign, 410, "Đợt khảo sát đã kết thúc"),
        (revoke_campaign, 410, "Đường dẫn đã bị thu hồi"),
        (rotate_campaign_link, 410, "Đường dẫn đã được thay mới"),
    ],
)
def test_ended_campaigns_refuse_and_store_nothing(engine, campaign, end, status, title):
    client = make_client(engine, link_state_seconds=0)  # the link state is read every time
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    with new_session(engine) as session:
        end(session=session, campaign=campaign.campaign)
        session.commit()
    for page in (client.get(path_of(campaign)), client.post(submit_path(campaign), data=fields)):
        assert page.status_code == status and title in page.text
        assert "vui lòng" in page.text.lower()  # says what to do
    assert stored(engine) == []


@pytest.mark.parametrize("end", [close_campaign, revoke_campaign, rotate_campaign_link])
def test_a_link_ended_moments_ago_may_show_the_form_but_never_stores(client, engine, campaign, end):
    """Within the link-state window the form is served from memory; the store checks the
    campaign in the database, in the transaction of the insert."""
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    with new_session(engine) as session:
        end(session=session, campaign=campaign.campaign)
        session.commit()
    assert client.get(path_of(campaign)).status_code == 200  # remembered for 2 s
    refused = client.post(submit_path(campaign), data=fields)
    assert refused.status_code == 410 and "vui lòng" in refused.text.lower()
    assert stored(engine) == []


def test_tampered_and_expired_links(client, engine, campaign):
    token = path_of(campaign).rsplit("/", 1)[1]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    page = client.get(f"/s/{forged}")
    assert page.status_code == 400 and "Đường dẫn không hợp lệ" in page.text
    assert client.get("/s/short").status_code == 400
    with new_session(engine) as session:
        row = get_campaign(session=session, campaign_id=campaign.campaign.id)
        row.expires_at = row.opened_at
        session.add(row)
        session.commit()
    page = client.get(path_of(campaign))
    assert page.status_code == 410 and "hết hạn" in page.text


# --- abuse -----------------------------------------------------------------------------------


def test_honeypot_is_stored_flagged(client, engine, campaign):
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    fields["website"] = "http://spam.example"
    page = client.post(submit_path(campaign), data=fields)
    assert page.status_code == 200 and "Cảm ơn" in page.text
    [response] = stored(engine)
    assert response.flagged and response.flag_reason == "honeypot"


def test_bursts_are_stored_flagged(engine, campaign):
    client = make_client(engine, AbuseLimits(burst_count=2, flood_per_minute=1000))
    for _ in range(4):
        client.post(
            path_of(campaign), data=full_answers(campaign, client.get(path_of(campaign)).text)
        )
    responses = sorted(stored(engine), key=lambda r: r.id)
    assert [r.flag_reason for r in responses] == [None, None, "burst", "burst"]


def test_resubmissions_do_not_count_as_a_burst(engine, campaign):
    client = make_client(engine, AbuseLimits(burst_count=1, flood_per_minute=1000))
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    for _ in range(3):
        client.post(submit_path(campaign), data=fields)
    [response] = stored(engine)
    assert not response.flagged


def test_floods_are_refused_with_429(engine, campaign):
    client = make_client(engine, AbuseLimits(burst_count=1000, flood_per_minute=3))
    pages = [
        client.post(
            path_of(campaign), data=full_answers(campaign, client.get(path_of(campaign)).text)
        )
        for _ in range(4)
    ]
    assert [p.status_code for p in pages] == [200, 200, 200, 429]
    assert "Quá nhiều lượt gửi" in pages[-1].text
    assert len(stored(engine)) == 3


def test_forwarded_for_is_used_only_when_trusted(engine, campaign):
    for trusted, flagged in ((False, 1), (True, 0)):
        client = make_client(
            engine, AbuseLimits(burst_count=1, flood_per_minute=1000, trust_proxy=trusted)
        )
        before = len(stored(engine))
        for number in range(2):
            fields = full_answers(campaign, client.get(path_of(campaign)).text)
            client.post(
                path_of(campaign), data=fields, headers={"x-forwarded-for": f"10.0.0.{number}"}
            )
        assert sum(r.flagged for r in stored(engine)[before:]) == flagged


def test_client_address():
    assert client_address("1.2.3.4", "9.9.9.9, 5.6.7.8", trust_proxy=False) == "1.2.3.4"
    assert client_address("1.2.3.4", "9.9.9.9, 5.6.7.8", trust_proxy=True) == "5.6.7.8"
    assert client_address(None, None, trust_proxy=True) == "unknown"


def test_address_hash_salt_changes_daily_and_no_raw_address_is_kept():
    day = [date(2024, 8, 1)]
    guard = AbuseGuard(AbuseLimits(burst_count=1), today=lambda: day[0])
    first = guard.address_hash("203.0.113.5")
    assert first == guard.address_hash("203.0.113.5") and "203.0.113.5" not in first
    guard.note_response("203.0.113.5")
    assert guard.is_burst("203.0.113.5")
    assert all("203.0.113" not in key for key in guard._windows)
    day[0] = date(2024, 8, 2)
    assert guard.address_hash("203.0.113.5") != first
    assert not guard.is_burst("203.0.113.5")  # yesterday's counts are gone with the salt


def test_burst_window_slides():
    now = [0.0]
    guard = AbuseGuard(AbuseLimits(burst_count=2, burst_window_s=60), clock=lambda: now[0])
    guard.note_response("a")
    guard.note_response("a")
    assert guard.is_burst("a") and not guard.is_burst("b")
    now[0] = 61.0
    assert not guard.is_burst("a")


def test_limits_from_environment():
    limits = AbuseLimits.from_env(
        {"SURVEY_BURST_COUNT": "5", "SURVEY_FLOOD_PER_MINUTE": "7", "SURVEY_TRUST_PROXY": "1"}
    )
    assert (limits.burst_count, limits.flood_per_minute, limits.trust_proxy) == (5, 7, True)
    assert AbuseLimits.from_env({}).flood_per_minute == 60


def test_flag_reasons():
    assert flag_reasons(honeypot_value="", burst=False) is None
    assert flag_reasons(honeypot_value="x", burst=True) == "honeypot,burst"


# --- limits and failures ---------------------------------------------------------------------


def test_oversized_bodies_get_413(client, engine, campaign):
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    fields["website"] = "x" * 70_000
    page = client.post(submit_path(campaign), data=fields)
    assert page.status_code == 413 and "quá lớn" in page.text
    assert stored(engine) == []


def test_oversized_streamed_body_without_length_gets_413(engine, campaign):
    client = make_client(engine, max_body_bytes=1000)

    def chunks():
        for _ in range(10):
            yield b"a" * 200

    page = client.post(
        path_of(campaign),
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 413


def test_database_down_while_storing_keeps_the_answers(client, engine, campaign, monkeypatch):
    fields = full_answers(campaign, client.get(path_of(campaign)).text, option="D")

    def broken(**_):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(writer, "insert_new_responses", broken)
    page = client.post(submit_path(campaign), data=fields)
    assert page.status_code == 503
    assert "vui lòng thử lại" in page.text
    assert page.text.count('value="D" checked') == 28 and form_key(page.text) == fields["k"]
    monkeypatch.undo()
    assert stored(engine) == []
    assert client.post(submit_path(campaign), data=fields).status_code == 200
    assert len(stored(engine)) == 1


def test_database_down_before_the_form_is_known(campaign):
    dead = create_engine("sqlite:////proc/no/such/dir/survey.db")
    page = make_client(dead).get(path_of(campaign))
    assert page.status_code == 503 and "Hệ thống đang bận" in page.text


def test_database_down_on_submit_re_renders_from_memory(engine, campaign, monkeypatch):
    client = make_client(engine, link_state_seconds=0)  # the POST asks the database
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    fields.pop("q_2.1")

    def down(self, claims):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(routes.FormService, "_open_form", down)
    page = client.post(submit_path(campaign), data=fields)
    assert page.status_code == 503 and "vui lòng thử lại" in page.text
    assert page.text.count('value="B" checked') == 27


def test_unexpected_errors_show_a_plain_page(client, engine, campaign, monkeypatch):
    def boom(*_):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes, "new_form_key", boom)
    page = client.get(path_of(campaign))
    assert page.status_code == 500
    assert "Đã có lỗi xảy ra" in page.text
    assert "Traceback" not in page.text and "secret internals" not in page.text


# --- the thank-you page: the receipt in a cookie, never in an address -----------------------

THANKS_COOKIE = re.compile(r"bn=(\w{8}); HttpOnly; Max-Age=600; SameSite=strict(; Secure)?")


def stored_receipt(engine, campaign_id: int) -> str:
    """The receipt of the campaign's one response, read from the database."""
    with new_session(engine) as session:
        [receipt] = session.exec(select(Response.receipt).where(Response.campaign_id == campaign_id))
    return receipt


def thanks_cookie(posted) -> re.Match:
    [cookie] = [c for c in posted.headers.get_list("set-cookie") if c.startswith("bn=")]
    found = THANKS_COOKIE.fullmatch(cookie)
    assert found, cookie
    return found


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_receipt_is_in_no_address_yet_the_thank_you_page_shows_it(engine, campaign, lang):
    client = make_client(engine)
    fields = {**full_answers(campaign, client.get(path_of(campaign)).text), "lang": lang}
    posted = client.post(submit_path(campaign), data=fields, follow_redirects=False)
    receipt = stored_receipt(engine, campaign.campaign.id)
    assert posted.status_code == 303
    assert posted.headers["location"] == ("cam-on?lang=en" if lang == "en" else "cam-on")
    assert receipt not in str(posted.url) + posted.headers["location"]
    # short-lived, HttpOnly, Strict, no Path (the browser scopes it to /s/<token>/), http here
    assert thanks_cookie(posted).group(1) == receipt and "Path" not in posted.headers["set-cookie"]
    thanks = client.get(f"{path_of(campaign)}/{posted.headers['location']}")
    assert thanks.status_code == 200 and receipt_of(thanks.text) == receipt
    assert thanks.headers["cache-control"] == "no-store"  # one address for every citizen
    assert (f'<html lang="{lang}">' in thanks.text) and (
        ("Thank you!" if lang == "en" else "Cảm ơn Ông/Bà!") in thanks.text)
    assert receipt_of(client.get(thanks.url).text) == receipt  # a reload: the same page
    # the whole way through, as a browser goes: no address that was asked for holds the receipt
    followed = make_client(engine).post(submit_path(campaign), data=fields)
    assert receipt_of(followed.text) == receipt
    assert all(receipt not in str(r.url) for r in [*followed.history, followed])


def test_on_https_the_receipt_cookie_is_secure(engine, campaign):
    app = Starlette(routes=form_routes(engine=engine, limits=QUIET))
    client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    posted = client.post(submit_path(campaign), data=fields, follow_redirects=False)
    assert thanks_cookie(posted).group(2) == "; Secure"
    assert receipt_of(client.get(path_of(campaign) + "/cam-on").text) == stored_receipt(
        engine, campaign.campaign.id)


def check_no_receipt(page, lang: str = "vi") -> None:
    """The thank-you page without a receipt: neither "recorded" nor "not found"."""
    assert page.status_code == 200 and 'id="receipt"' not in page.text
    if lang == "en":
        assert "shows the receipt code only for a few minutes" in page.text
    else:
        assert "Trang này chỉ hiện mã biên nhận trong ít phút sau khi gửi phiếu" in page.text
        assert "Phiếu khảo sát của Ông/Bà đã được ghi nhận" not in page.text
        assert "Không tìm thấy" not in page.text


def test_the_thank_you_page_shows_only_this_campaigns_receipt_from_the_cookie(engine, campaign):
    with new_session(engine) as session:
        add_organisation(session=session, code="HG02", name="Sở Tư pháp", parent_code="HG")
        other = open_campaign_link(actor="test", session=session, unit_code="HG02",
                                   period="2024-Q3", questionnaire="dtxhh-haugiang")
        session.commit()
    client = make_client(engine)
    client.post(submit_path(other), data=full_answers(other, client.get(path_of(other)).text))
    other_receipt = stored_receipt(engine, other.campaign.id)
    thanks = path_of(campaign) + "/cam-on"

    def shown(cookie: str | None, url: str = thanks):
        return make_client(engine).get(url, headers={"cookie": cookie} if cookie else {})

    check_no_receipt(shown(None))  # none, or expired: the browser sends nothing
    check_no_receipt(shown(None, thanks + "?lang=en"), "en")
    check_no_receipt(shown("bn=ABCDEFGH"))  # well formed, but no such receipt
    check_no_receipt(shown("bn=<b>"))
    check_no_receipt(shown(f"bn={other_receipt}"))  # another campaign's
    check_no_receipt(shown(None, f"{thanks}?r={other_receipt}"))  # an address says nothing
    assert other_receipt not in shown(f"bn={other_receipt}").text
    assert receipt_of(shown(f"bn={other_receipt}", path_of(other) + "/cam-on").text) == (
        other_receipt)
    assert shown("bn=ABCDEFGH", "/s/not-a-token/cam-on").status_code == 400


def test_form_lifespan_initialises_the_database(tmp_path, monkeypatch):
    import asyncio

    from sqlmodel import func

    from survey.db import shared_engine
    from survey.models import QuestionnaireVersion

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("SURVEY_DATABASE_URL", url)
    monkeypatch.setenv("SURVEY_DEMO", "0")

    async def start():
        async with startup.form_lifespan(None) as state:
            return state

    import gc

    gc.unfreeze()
    try:
        assert asyncio.run(start()) is None
        # the objects of the start are out of the collector's full passes
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
    with new_session(shared_engine(url)) as session:
        assert session.exec(select(func.count()).select_from(QuestionnaireVersion)).one() >= 3


def test_a_retry_after_the_campaign_closed_still_gets_its_receipt(client, engine, campaign):
    fields = full_answers(campaign, client.get(path_of(campaign)).text)
    receipt = receipt_of(client.post(submit_path(campaign), data=fields).text)
    with new_session(engine) as session:
        close_campaign(session=session, campaign=campaign.campaign)
        session.commit()
    again = client.post(submit_path(campaign), data=fields)  # refused by the writer's check
    assert again.status_code == 200 and receipt_of(again.text) == receipt
    strict = make_client(engine, link_state_seconds=0)  # refused before the writer
    again = strict.post(submit_path(campaign), data=fields)
    assert again.status_code == 200 and receipt_of(again.text) == receipt
    fields["k"] = fields["k"][:20] + "A" * 12  # a key the server never gave out
    assert strict.post(submit_path(campaign), data=fields).status_code == 410
    assert len(stored(engine)) == 1


def test_requests_that_find_the_memory_stale_together_share_one_database_read(
    engine, campaign, monkeypatch
):
    import asyncio
    import time as clock

    from survey.links import read_token

    service = routes.FormService(engine=engine, limits=QUIET)
    claims = read_token(path_of(campaign).rsplit("/", 1)[1], secret=service.secret)
    reads = []
    real_open_form = routes.FormService._open_form

    def slow_open_form(self, claims):
        reads.append(claims)
        clock.sleep(0.05)  # while the read runs, the other requests arrive
        return real_open_form(self, claims)

    monkeypatch.setattr(routes.FormService, "_open_form", slow_open_form)

    async def twenty_requests():
        return await asyncio.gather(*(service._current_form(claims) for _ in range(20)))

    forms = asyncio.run(twenty_requests())
    assert len(reads) == 1 and all(form is forms[0] for form in forms)
    assert forms[0].campaign_id == campaign.campaign.id
    asyncio.run(twenty_requests())  # fresh in memory now: no read at all
    assert len(reads) == 1
