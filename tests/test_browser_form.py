"""A real phone-sized browser against the real app: open a link, answer, submit, one response;
a dropped connection, answers kept on the device, single-use links, and accessibility.

Starts `streamlit run survey_app.py` on a free port with a temporary SQLite file
and drives headless Chromium (Playwright) at 390×844. Skipped only on a machine
without /usr/bin/chromium that is not CI.

Accessibility: axe-core (npm, tests/package.json: `npm ci --prefix tests`) is injected into
every citizen page and the sign-in page at 390 and 1280 px; no WCAG 2.1 A/AA violation may
be found. What an engine cannot see is tested directly: the missing-answer summary is an
alert that takes the focus, each of its entries moves the focus to its question, and the
pages reflow at 320 px (= 1280 px at 400 %) and 640 px (200 %) without sideways scrolling.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from live_server import BROWSER_TEST, LiveServer
from sqlmodel import select

from survey.bootstrap import initialise
from survey.db import make_engine, new_session
from survey.links import open_campaign_link
from survey.models import Response
from survey.single_use import issue_single_use_links
from survey.storage.organisations import add_organisation
from survey.storage.responses import answers_by_response

SECRET = "browser-test-secret"
THANKS = re.compile(r"/cam-on$")  # the thank-you page's address: the receipt is not in it
THANKS_EN = re.compile(r"/cam-on\?lang=en$")

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The running app, and (engine, links) of two open campaigns in its database."""
    folder = tmp_path_factory.mktemp("browser")
    server = LiveServer(f"sqlite:///{folder / 'survey.db'}", folder, SECRET)
    base_url = server.base_url
    saved = {name: os.environ.get(name) for name in ("SURVEY_SECRET", "SURVEY_BASE_URL")}
    os.environ.update(SURVEY_SECRET=SECRET, SURVEY_BASE_URL=base_url)
    engine = make_engine(server.database_url)
    initialise(engine, load_demo=False)
    with new_session(engine) as session:
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        add_organisation(
            session=session,
            code="HG01",
            name="Cục Thi hành án dân sự tỉnh Hậu Giang",
            parent_code="HG",
        )
        add_organisation(
            session=session,
            code="HG02",
            name="Chi cục Thi hành án dân sự Vị Thanh",
            parent_code="HG01",
        )
        for code in ("HG03", "HG04", "HG05"):
            add_organisation(session=session, code=code, name=f"Chi cục {code}",
                             parent_code="HG01")
        links = {
            code: open_campaign_link(actor="test",
                session=session, unit_code=code, period="2024-Q3", questionnaire="dtxhh-haugiang"
            )
            for code in ("HG01", "HG02", "HG03", "HG04")
        }
        single = issue_single_use_links(session=session, actor="test", unit_code="HG05", period="2024-Q3",
                                        questionnaire="dtxhh-haugiang", count=2,
                                        secret=SECRET.encode(), base_url=base_url)
        links["single"] = single
        session.commit()
    try:
        server.start()
        yield engine, links
    finally:
        server.stop()
        engine.dispose()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def responses_of(engine, campaign_id: int) -> list[Response]:
    with new_session(engine) as session:
        return list(session.exec(select(Response).where(Response.campaign_id == campaign_id)))


def answers_of(engine, response_id: int) -> dict[str, str]:
    with new_session(engine) as session:
        return answers_by_response(session=session, response_ids=[response_id])[response_id]


def answer_everything(page, option_index: int = 1) -> int:
    """Tap the n-th option (or the last) of every question, the group first; returns how many."""
    fieldsets = page.locator("fieldset").all()
    for fieldset in fieldsets:
        options = fieldset.locator("label.o")
        options.nth(min(option_index, options.count() - 1)).click()
    return len(fieldsets)


def test_citizen_answers_on_a_phone(app, browser):
    engine, links = app
    link = links["HG01"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    page = context.new_page()
    page.goto(link.url)
    assert page.locator("legend").first.is_visible()
    assert page.get_by_text("Quý 3/2024").is_visible()
    assert page.get_by_text("Cục Thi hành án dân sự tỉnh Hậu Giang").is_visible()
    no_scroll = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_scroll, "the form must fit 390 px without sideways scrolling"
    first_option = page.locator("label.o").first.bounding_box()
    assert first_option["height"] >= 44, "options must be large tap targets"

    assert answer_everything(page) == 29  # the respondent group and 28 questions
    key = page.locator("input[name=k]").get_attribute("value")
    asked = []  # every address the browser asks for: what a proxy's access log would hold
    page.on("request", lambda request: asked.append(request.url))
    page.get_by_role("button", name="Gửi phiếu").click()
    page.wait_for_url(THANKS)
    receipt = page.locator("#receipt").inner_text()
    assert "Cảm ơn" in page.content()
    assert receipt == responses_of(engine, link.campaign.id)[0].receipt
    assert any(url.endswith("/gui") for url in asked) and asked[-1].endswith("/cam-on")
    assert not [url for url in asked if receipt in url]
    [cookie] = [c for c in context.cookies() if c["name"] == "bn"]
    assert cookie["value"] == receipt and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/s/" + link.url.rsplit("/", 1)[1]  # this link's pages only
    page.reload()  # within the cookie's ten minutes, a reload shows it again
    assert page.locator("#receipt").inner_text() == receipt

    # Back button and a second tap on "Gửi phiếu": still one response, same receipt.
    page.go_back()
    page.wait_for_selector("form")
    assert page.locator("input[name=k]").get_attribute("value") == key  # the cached form
    assert page.locator("input[type=radio]:checked").count() == 29  # answers restored
    page.get_by_role("button", name="Gửi phiếu").click()
    page.wait_for_url(THANKS)
    assert page.locator("#receipt").inner_text() == receipt
    context.close()

    [response] = responses_of(engine, link.campaign.id)
    assert response.receipt == receipt and response.group_code == "DN" and not response.flagged
    answers = answers_of(engine, response.id)
    assert len(answers) == 28 and set(answers.values()) == {"B"}


def test_form_works_without_javascript(app, browser):
    engine, links = app
    link = links["HG02"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    page.goto(link.url + "?lang=en")
    assert page.get_by_text("Q3 2024").is_visible()
    page.locator("fieldset").first.locator("label.o").first.click()  # only the group
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector(".box")
    assert "28 questions are not answered yet" in page.content()
    assert page.locator("fieldset.miss").count() == 28
    assert page.locator("input[name=g]:checked").count() == 1  # the answer given is kept
    answer_everything(page, option_index=4)  # "don't know" everywhere
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(THANKS_EN)
    assert "Thank you" in page.content()
    [response] = responses_of(engine, link.campaign.id)
    assert page.locator("#receipt").inner_text() == response.receipt
    assert response.receipt not in page.url
    context.close()
    assert response.group_code == "CB"  # the last tap on the group counts
    assert set(answers_of(engine, response.id).values()) == {"X"}


# --- a dropped connection -------------------------------------------------------------------


def test_a_lost_answer_is_sent_again_with_the_same_key_and_stored_once(app, browser):
    """The first POST reaches the server (stored) but its answer is lost on the way back: the
    page says so in Vietnamese and sends again by itself; one response, the answers kept."""
    engine, links = app
    link = links["HG03"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    page = context.new_page()
    posts = []

    def lose_the_first_answer(route):
        posts.append(route.request.post_data)
        if len(posts) == 1:
            route.fetch(max_redirects=0)  # the server stores it...
            route.abort("connectionreset")  # ...and the phone never hears back
        else:
            route.continue_()

    page.route(re.compile(r"/gui$"), lose_the_first_answer)
    page.goto(link.url)
    answer_everything(page, option_index=0)
    page.get_by_role("button", name="Gửi phiếu").click()
    notice = page.locator("#mat-ket-noi")
    notice.wait_for(state="visible")
    assert "Chưa gửi được phiếu vì kết nối bị gián đoạn" in notice.inner_text()
    assert notice.get_attribute("role") == "alert"
    assert len(responses_of(engine, link.campaign.id)) == 1  # stored, though the phone failed
    page.wait_for_url(THANKS)  # the retry, by itself
    assert len(posts) == 2 and posts[0] == posts[1]  # the same answers, the same key
    [response] = responses_of(engine, link.campaign.id)
    assert page.locator("#receipt").inner_text() == response.receipt
    assert set(answers_of(engine, response.id).values()) == {"A"}
    assert page.evaluate("window.localStorage.length") == 0  # acknowledged: forgotten
    context.close()


def test_answers_are_kept_on_the_device_until_the_form_is_acknowledged(app, browser):
    engine, links = app
    link = links["HG04"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    first = context.new_page()
    first.goto(link.url)
    fieldsets = first.locator("fieldset")
    for index in range(5):  # the group and four questions, then the phone is put away
        fieldsets.nth(index).locator("label.o").nth(2).click()
    key = first.locator("input[name=k]").get_attribute("value")
    first.close()

    again = context.new_page()  # the link opened again later: the answers are back
    again.goto(link.url)
    checked = again.locator("input[type=radio]:checked")
    assert checked.count() == 5
    assert [checked.nth(i).get_attribute("value") for i in range(1, 5)] == ["C"] * 4
    assert again.locator("input[name=k]").get_attribute("value") == key
    answer_everything(again, option_index=2)
    again.get_by_role("button", name="Gửi phiếu").click()
    again.wait_for_url(THANKS)
    assert len(responses_of(engine, link.campaign.id)) == 1

    fresh = context.new_page()  # acknowledged: a new visit starts blank, with a new key
    fresh.goto(link.url)
    assert fresh.locator("input[type=radio]:checked").count() == 0
    assert fresh.locator("input[name=k]").get_attribute("value") != key
    context.close()


# --- single-use links -------------------------------------------------------------------------


def test_a_single_use_link_answers_once_then_shows_its_receipt(app, browser):
    engine, links = app
    single = links["single"]
    url = single.links[0].url
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    page = context.new_page()
    page.goto(url)
    answer_everything(page)
    page.get_by_role("button", name="Gửi phiếu").click()
    page.wait_for_url(THANKS)
    receipt = page.locator("#receipt").inner_text()
    page.goto(url)
    assert page.get_by_role("heading", name="Phiếu này đã được trả lời").is_visible()
    assert page.locator("#receipt").inner_text() == receipt
    assert page.locator("form").count() == 0
    context.close()
    assert len(responses_of(engine, single.campaign.campaign.id)) == 1


# --- accessibility ---------------------------------------------------------------------------

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    assert AXE.exists(), "axe-core is missing: run `npm ci --prefix tests`"
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' '))})))",
        WCAG_AA,
    )
    return found


def citizen_pages(base_url: str, links, context) -> dict[str, object]:
    """Each citizen page and the sign-in page, opened in its own tab of `context`."""
    pages = {}

    def tab(name: str, url: str):
        page = context.new_page()
        page.goto(url)
        pages[name] = page
        return page

    tab("form", links["HG02"].url)
    tab("form, English", links["HG02"].url + "?lang=en")
    missing = tab("form with missing answers", links["HG02"].url)
    missing.locator("fieldset").first.locator("label.o").first.click()
    missing.get_by_role("button", name="Gửi phiếu").click()
    missing.wait_for_selector("#thieu")
    offline = tab("form, connection lost", links["HG02"].url)
    offline.route(re.compile(r"/gui$"), lambda route: route.abort("connectionreset"))
    answer_everything(offline)
    offline.get_by_role("button", name="Gửi phiếu").click()
    offline.locator("#mat-ket-noi").wait_for(state="visible")
    tab("error page", f"{base_url}/s/not-a-valid-link")
    tab("thank-you page", links["thanks"])
    tab("thank-you page without a receipt", links["HG02"].url + "/cam-on")
    tab("used single-use link", links["used"])
    tab("sign-in", f"{base_url}/dang-nhap")
    return pages


@pytest.fixture(scope="module")
def answered(app, browser):
    """The addresses of a thank-you page and of a used single-use link (with its receipt)."""
    _engine, links = app
    url = links["single"].links[1].url
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    answer_everything(page)
    page.get_by_role("button", name="Gửi phiếu").click()
    page.wait_for_url(THANKS)
    thanks = page.url
    cookies = context.cookies()
    context.close()
    return {**links, "thanks": thanks, "used": url, "cookies": cookies}


@pytest.mark.parametrize("width", [390, 1280])
def test_no_wcag_aa_violation_on_any_citizen_page_or_the_sign_in_page(app, answered, browser,
                                                                     width):
    base_url = re.match(r"https?://[^/]+", answered["HG02"].url).group(0)
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="vi-VN",
                                  bypass_csp=True)  # to inject axe-core; the pages' own CSP
    context.add_cookies(answered["cookies"])      # is tested in test_webform.py
    pages = citizen_pages(base_url, answered, context)
    assert pages["used single-use link"].locator("#receipt").count() == 1
    assert pages["thank-you page"].locator("#receipt").count() == 1
    assert pages["thank-you page without a receipt"].locator("#receipt").count() == 0
    found = {name: axe_violations(page) for name, page in pages.items()}
    context.close()
    assert {name: v for name, v in found.items() if v} == {}, json.dumps(found, indent=1)


def test_missing_answers_are_announced_and_each_entry_moves_the_focus(app, browser):
    _engine, links = app
    for javascript in (True, False):
        context = browser.new_context(viewport={"width": 390, "height": 844},
                                      java_script_enabled=javascript)
        page = context.new_page()
        page.goto(links["HG02"].url)
        page.locator("fieldset").first.locator("label.o").first.click()
        page.get_by_role("button", name="Gửi phiếu").click()
        summary = page.locator("#thieu")
        summary.wait_for()
        assert summary.get_attribute("role") == "alert"
        page.wait_for_function("document.activeElement && document.activeElement.id === 'thieu'")
        entries = summary.locator("a")
        assert entries.count() == 28
        for index in (0, 13, 27):
            entry = entries.nth(index)
            target = entry.get_attribute("href").removeprefix("#")
            entry.click()
            assert page.evaluate("document.activeElement.id") == target
            assert page.locator(f"[id='{target}']").is_visible()
        context.close()


@pytest.mark.parametrize("width", [320, 640])
def test_pages_reflow_without_sideways_scrolling(app, answered, browser, width):
    """320 CSS px is a 1280 px screen at 400 % zoom; 640 px is 200 %."""
    base_url = re.match(r"https?://[^/]+", answered["HG02"].url).group(0)
    context = browser.new_context(viewport={"width": width, "height": 640})
    context.add_cookies(answered["cookies"])
    pages = citizen_pages(base_url, answered, context)
    for name, page in pages.items():
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, f"{name}: scrolls sideways at {width} px"
        clipped = page.evaluate(
            "[...document.querySelectorAll('label, legend, h1, h2, p, a, button')]"
            ".filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1 &&"
            " getComputedStyle(e).overflowX !== 'visible').length")
        assert clipped == 0, f"{name}: text cut off at {width} px"
    context.close()


def test_the_axe_check_finds_what_it_is_meant_to_find(browser):
    """Guards the check above against passing vacuously (axe not run, rules not selected)."""
    page = browser.new_page()
    page.set_content('<html lang="vi"><head><title>x</title></head><body><main>'
                     '<img src="data:,"><p style="color:#999;background:#fff">chữ nhạt</p>'
                     '<input type="radio" name="q"></main></body></html>')
    found = {violation["id"] for violation in axe_violations(page)}
    page.close()
    assert {"image-alt", "color-contrast", "label"} <= found
