"""Issue 12 in a real browser, over the demo province: every page address opened directly
while signed in shows its page and never Streamlit's English "Page not found" dialog (on a
freshly started server too); an address that is no page gets a Vietnamese page; a signed-out
deep link keeps its choices through sign-in; staff pages load nothing from outside the
server; the file uploader speaks Vietnamese in a Vietnamese session.

Starts `streamlit run survey_app.py` (tests/live_server.py) over a SQLite file holding the
demo data and one account per role, and drives headless Chromium (Playwright). Sessions are
made in the database and handed to the browser as the sign-in page's cookie, so a test
opens its page as the browser's first Streamlit page.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from live_server import BROWSER_TEST, LiveServer
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from tab_session import tab_auth

from survey.auth import create_user
from survey.bootstrap import initialise
from survey.db import make_engine, new_session
from survey.navigation import PAGES
from survey.sessions import COOKIE_NAME

SECRET = "browser-pages-test-secret"
PASSWORD = "mat khau du dai 2024"
ACCOUNTS = {"quantri": ("admin", None), "sonoivu": ("province", "HG"), "thads": ("unit", "HG01")}
TIMEOUT_MS = 90_000
DEEP_LINK = "/diem-don-vi?unit=HG10&period=2024-Q2"  # neither the first unit nor the last period
DEEP_LINK_HEADING = "Chi cục Thi hành án dân sự thành phố Vị Thanh — Quý 2/2024"

pytestmark = BROWSER_TEST

# Set synchronously when Streamlit's "Page not found" dialog ever appears in the document.
WATCH_DIALOG = """
window.__pageNotFound = false;
new MutationObserver(() => {
  const text = document.body ? document.body.innerText : "";
  if (text.includes("Page not found")) window.__pageNotFound = true;
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def demo_database(folder) -> str:
    url = f"sqlite:///{folder / 'survey.db'}"
    engine = make_engine(url)
    initialise(engine, load_demo=True)
    with new_session(engine) as session:
        for username, (role, unit) in ACCOUNTS.items():
            create_user(session=session, username=username, role=role, organisation_code=unit,
                        password=PASSWORD)
        session.commit()
    engine.dispose()
    return url


def session_cookie(server: LiveServer, username: str) -> dict:
    """The cookie the sign-in page would set for `username` (a server-side session)."""
    return {"name": COOKIE_NAME, "value": tab_auth(username, server.database_url)["token"],
            "url": server.base_url, "httpOnly": True, "sameSite": "Strict"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-pages")
    with LiveServer(database_url=demo_database(folder), folder=folder, secret=SECRET) as live:
        yield live


def signed_in_page(browser, server, username, *, width=1280, hosts=None):
    """A new browser context signed in as `username` (cookie), its page watching for the
    dialog; every requested URL's host is added to `hosts` when given."""
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  accept_downloads=True)
    context.add_cookies([session_cookie(server, username)])
    context.add_init_script(WATCH_DIALOG)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    if hosts is not None:
        page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    return context, page


def wait_for_page(page, username: str) -> None:
    """The page has drawn: the sidebar names the user and the main area has its title (or,
    where the data stops the page early, its first message)."""
    page.locator('[data-testid="stSidebar"]').get_by_text(username).first.wait_for()
    page.locator('[data-testid="stMain"] h1, [data-testid="stMain"] [data-testid="stAlert"]'
                 ).first.wait_for()


def saw_page_not_found(page) -> bool:
    return page.evaluate("window.__pageNotFound") or page.get_by_text("Page not found").count() > 0


def test_a_fresh_server_opens_a_deep_link_without_the_page_not_found_dialog(
        tmp_path, browser):
    """The first browser to reach a freshly started server opens a deep link signed in: the
    page shows, without Streamlit's "Page not found" (the `pages/` folder beside the entry
    script used to put the first sessions of a process in Streamlit's old multipage mode)."""
    with LiveServer(database_url=demo_database(tmp_path), folder=tmp_path, secret=SECRET) as fresh:
        context, page = signed_in_page(browser, fresh, "quantri")
        try:
            page.goto(f"{fresh.base_url}/nhap-phieu")
            page.get_by_role("heading", name="Nhập phiếu giấy").wait_for()
            wait_for_page(page, "quantri")
            assert not saw_page_not_found(page)
            assert urlsplit(page.url).path == "/nhap-phieu"
        finally:
            context.close()


@pytest.mark.parametrize("username", list(ACCOUNTS))
def test_every_page_address_opens_signed_in_and_loads_nothing_from_outside(
        server, browser, username):
    """Issue 12.7 and "staff pages load no resource from outside the server": each page's
    address (and a deep link with its choices) opened directly shows the page, never
    Streamlit's "Page not found", and every request goes to the server itself."""
    hosts: set[str] = set()
    context, page = signed_in_page(browser, server, username, hosts=hosts)
    try:
        for address in [f"/{spec.url}" for spec in PAGES] + [DEEP_LINK]:
            page.goto(server.base_url + address)
            wait_for_page(page, username)
            assert not saw_page_not_found(page), address
            assert page.url == server.base_url + address
        page.goto(server.base_url + DEEP_LINK)
        page.get_by_role("heading", name=DEEP_LINK_HEADING).wait_for()
    finally:
        context.close()
    assert hosts == {urlsplit(server.base_url).netloc}


@pytest.mark.parametrize("address", ["/trang-chu", "/khong-co-trang-nay"])
def test_an_address_that_is_no_page_gets_a_vietnamese_page(server, browser, address):
    context, page = signed_in_page(browser, server, "quantri")
    try:
        response = page.goto(server.base_url + address)
        assert response.status == 404
        assert page.locator("h1").inner_text() == "Không tìm thấy trang"
        link = page.get_by_role("link", name="Mở trang Tổng quan")
        assert link.get_attribute("href") == "/"
        link.click()
        wait_for_page(page, "quantri")
        assert not saw_page_not_found(page)
    finally:
        context.close()


def signed_out_deep_link(browser, server):
    """A new signed-out context opened on DEEP_LINK: (context, page, its sign-in link)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.base_url + DEEP_LINK)
    link = page.locator("#staff-login-link")
    link.wait_for()
    return context, page, link


def test_a_signed_out_deep_link_keeps_its_choices_through_sign_in(server, browser):
    context, page, link = signed_out_deep_link(browser, server)
    try:
        assert page.get_by_text("Page not found").count() == 0
        link.click()
        page.fill("#username", "thads")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.base_url + DEEP_LINK)
        page.get_by_role("heading", name=DEEP_LINK_HEADING).wait_for()
    finally:
        context.close()


@pytest.mark.parametrize(("lang", "shown", "absent"), [
    ("vi", ["Chọn tệp", "Tối đa 50 MB mỗi tệp • CSV, XLSX"], ["Upload", "per file", "Drag"]),
    ("en", ["Upload", "50MB per file • CSV, XLSX"], ["Chọn tệp", "Tối đa"]),
])
def test_the_file_uploader_speaks_the_session_language(server, browser, lang, shown, absent):
    """Issue 12.7: Streamlit's own uploader texts are Vietnamese in a Vietnamese session
    (what is drawn, read from the rendered text and the styles' generated content), English
    in an English one; the limit shown is the importer's own (50 MB), which is the limit the
    uploader enforces."""
    context, page = signed_in_page(browser, server, "quantri")
    try:
        page.goto(server.base_url + "/nhap-phieu")
        wait_for_page(page, "quantri")
        if lang == "en":
            page.locator('[data-testid="stSidebar"]').get_by_text("English").click()
            page.get_by_role("heading", name="Import paper forms").wait_for()
        uploader = page.locator('[data-testid="stFileUploader"]')
        uploader.wait_for()
        drawing = """root => {
            const parts = [root.innerText];
            for (const el of root.querySelectorAll("*")) {
              const after = getComputedStyle(el, "::after").content;
              if (after && after !== "none" && after !== "normal") parts.push(after);
            }
            return parts.join(" | ");
        }"""
        # The page's run ends (the other language's style, if any, removed) in a moment; if
        # it never draws what is expected, the assertions below say what it draws instead.
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(
                f"([shown, absent]) => {{ const root = document.querySelector("
                f"'[data-testid=\"stFileUploader\"]'); const drawn = ({drawing})(root);"
                " return shown.every(t => drawn.includes(t)) &&"
                " absent.every(t => !drawn.includes(t)); }", arg=[shown, absent], timeout=10_000)
        drawn = uploader.evaluate(drawing)
        for text in shown:
            assert text in drawn, drawn
        for text in absent:
            assert text not in drawn, drawn
        if lang == "vi":  # its accessible name too (awaited: the style may come a frame later)
            expect(uploader.get_by_role("button", name="Chọn tệp")).to_have_count(1)
    finally:
        context.close()


def test_sign_in_link_of_a_deep_link_names_it_and_its_choices(server, browser):
    context, _page, link = signed_out_deep_link(browser, server)
    try:
        assert re.fullmatch(r"/dang-nhap\?next=/diem-don-vi%3Funit%3DHG10%26period%3D2024-Q2",
                            link.get_attribute("href"))
    finally:
        context.close()


def test_three_downloads_clicked_at_once_all_arrive(server, browser):
    """Issue 12: three download buttons clicked within a second each deliver their file (none
    left spinning on "Deferred file … not found")."""
    context, page = signed_in_page(browser, server, "thads")
    try:
        page.goto(server.base_url + "/diem-don-vi?unit=HG01&period=2024-Q4")
        page.get_by_role("heading", name="Cục Thi hành án dân sự tỉnh Hậu Giang — Quý 4/2024"
                         ).wait_for()
        buttons = page.locator('[data-testid="stDownloadButton"] button')
        excel, word, answers = (buttons.filter(has_text=name) for name in (
            "Báo cáo Excel của đơn vị", "Báo cáo Word của đơn vị", "Phiếu trả lời (CSV"))
        with page.expect_download(lambda d: d.suggested_filename.endswith(".xlsx")) as xlsx, \
                page.expect_download(lambda d: d.suggested_filename.endswith(".docx")) as docx, \
                page.expect_download(lambda d: d.suggested_filename.startswith("phieu-")) as csv:
            for button in (excel, word, answers):
                button.click(no_wait_after=True)
        for download, magic in ((xlsx, b"PK"), (docx, b"PK"), (csv, None)):
            assert download.value.failure() is None
            content = Path(download.value.path()).read_bytes()
            assert content[:2] == magic if magic else content.count(b"\n") > 100
    finally:
        context.close()
