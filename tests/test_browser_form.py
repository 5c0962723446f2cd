"""A real phone-sized browser against the real app: open a link, answer, submit, one response.

Starts `streamlit run survey_app.py` on a free port with a temporary SQLite file
and drives headless Chromium (Playwright) at 390×844. Skipped only on a machine
without /usr/bin/chromium that is not CI.
"""

from __future__ import annotations

import os
import re

import pytest
from live_server import BROWSER_TEST, CHROMIUM, CHROMIUM_ARGS, LiveServer
from sqlmodel import select

from survey.bootstrap import initialise
from survey.db import make_engine, new_session
from survey.links import open_campaign_link
from survey.models import Response
from survey.storage.organisations import add_organisation
from survey.storage.responses import answers_by_response

SECRET = "browser-test-secret"

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
        links = {
            code: open_campaign_link(actor="test",
                session=session, unit_code=code, period="2024-Q3", questionnaire="dtxhh-haugiang"
            )
            for code in ("HG01", "HG02")
        }
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


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


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
    page.get_by_role("button", name="Gửi phiếu").click()
    page.wait_for_url(re.compile(r"/cam-on\?r="))
    receipt = page.locator("#receipt").inner_text()
    assert "Cảm ơn" in page.content()

    # Back button and a second tap on "Gửi phiếu": still one response, same receipt.
    page.go_back()
    page.wait_for_selector("form")
    assert page.locator("input[name=k]").get_attribute("value") == key  # the cached form
    assert page.locator("input[type=radio]:checked").count() == 29  # answers restored
    page.get_by_role("button", name="Gửi phiếu").click()
    page.wait_for_url(re.compile(r"/cam-on\?r="))
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
    page.wait_for_url(re.compile(r"/cam-on\?r=.*lang=en"))
    assert "Thank you" in page.content()
    context.close()
    [response] = responses_of(engine, link.campaign.id)
    assert response.group_code == "CB"  # the last tap on the group counts
    assert set(answers_of(engine, response.id).values()) == {"X"}
