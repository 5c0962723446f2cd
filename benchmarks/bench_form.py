"""How the citizen's form feels on a slow phone connection, against a plain Streamlit page.

Starts the real app (`streamlit run survey_app.py`, temporary SQLite database, a
campaign opened for the run), then in headless Chromium with network emulation
(Chrome DevTools Protocol: 1.6 Mbit/s down, 750 kbit/s up, 150 ms latency) and a
cold cache for every run measures:

- the form (/s/<token>): time until the first question is visible, bytes transferred,
  time from tapping "Gửi phiếu" to the receipt being visible;
- the app's Streamlit page (/): time until its first heading is visible, bytes.

With `--lighthouse PATH` (Lighthouse 12 on Node 20, e.g. `npm install --prefix /tmp/lh
lighthouse@12.2.3` then `--lighthouse /tmp/lh/node_modules/.bin/lighthouse`), also prints
Lighthouse's performance, accessibility and best-practices scores of the form, the thank-you page
and the sign-in page, on Lighthouse's emulated
mid-range phone with its simulated slow 4G (the default mobile settings).

Prints the figures (median of --runs); asserts nothing.

    python benchmarks/bench_form.py [--runs 3] [--chromium /usr/bin/chromium] [--lighthouse PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the shared live-server helper

from live_server import CHROMIUM_ARGS, free_port  # noqa: E402

from survey.bootstrap import initialise  # noqa: E402
from survey.db import make_engine, new_session  # noqa: E402
from survey.links import open_campaign_link  # noqa: E402
from survey.storage.organisations import add_organisation  # noqa: E402

SLOW_PHONE_NETWORK = {
    "offline": False,
    "latency": 150,  # ms
    "downloadThroughput": 1_600_000 / 8,  # bytes per second
    "uploadThroughput": 750_000 / 8,
}


def prepare_database(url: str, base_url: str) -> str:
    """Schema, one unit and an open campaign; returns the campaign's link."""
    engine = make_engine(url)
    initialise(engine, load_demo=False)
    with new_session(engine) as session:
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        add_organisation(
            session=session,
            code="HG01",
            name="Cục Thi hành án dân sự tỉnh Hậu Giang",
            parent_code="HG",
        )
        link = open_campaign_link(actor="test",
            session=session,
            unit_code="HG01",
            period="2024-Q3",
            questionnaire="dtxhh-haugiang",
            base_url=base_url,
        )
        session.commit()
    engine.dispose()
    return link.url


def start_app(folder: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    log = (folder / "streamlit.log").open("w")
    command = [
        sys.executable, "-m", "streamlit", "run", "survey_app.py",
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the app exited: see {folder / 'streamlit.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("the app did not become healthy in 90 s")


class Transfer:
    """Bytes received over the network, from CDP Network.loadingFinished events."""

    def __init__(self, cdp):
        self.cdp = cdp
        self.bytes = 0
        self.requests = 0
        cdp.on("Network.loadingFinished", self._finished)

    def _finished(self, event: dict) -> None:
        self.bytes += int(event.get("encodedDataLength", 0))
        self.requests += 1


def slow_page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", SLOW_PHONE_NETWORK)
    return context, page, Transfer(cdp)


def measure_form(browser, url: str) -> dict[str, float]:
    context, page, transfer = slow_page(browser)
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.locator("fieldset legend").first.wait_for(state="visible")
    first_question = time.perf_counter() - start
    page.wait_for_load_state("load")
    loaded_bytes, requests = transfer.bytes, transfer.requests
    for fieldset in page.locator("fieldset").all():
        fieldset.locator("label.o").nth(1).click()
    # The first visit was cold; a phone's cache is on while it answers. (The form's script
    # fetches the thank-you page to know the answer was stored, then opens it: a second
    # request, as the page is never cached, its one address serving every citizen's receipt.)
    transfer.cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
    start = time.perf_counter()
    page.get_by_role("button", name="Gửi phiếu").click()
    # Waiting for the navigation event, not polling the old page for the receipt (a poll
    # backs off to 500 ms while the script sends in the background and would add that).
    page.wait_for_url("**/cam-on", wait_until="domcontentloaded")
    page.locator("#receipt").wait_for(state="visible")
    submit_to_receipt = time.perf_counter() - start
    context.close()
    return {
        "first_question_s": first_question,
        "bytes": loaded_bytes,
        "requests": requests,
        "submit_to_receipt_s": submit_to_receipt,
    }


def thank_you_page(browser, url: str) -> str:
    """The address of a thank-you page (a form answered and sent). Opened elsewhere (as
    Lighthouse does), without this browser's receipt cookie, it is the page without a receipt."""
    page = browser.new_page()
    page.goto(url)
    for fieldset in page.locator("fieldset").all():
        fieldset.locator("label.o").first.click()
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/cam-on")
    address = page.url
    page.close()
    return address


def measure_streamlit(browser, url: str) -> dict[str, float]:
    context, page, transfer = slow_page(browser)
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.locator("h1").first.wait_for(state="visible", timeout=120_000)
    first_heading = time.perf_counter() - start
    at_heading, requests = transfer.bytes, transfer.requests
    context.close()
    return {"first_heading_s": first_heading, "bytes": at_heading, "requests": requests}


LIGHTHOUSE_CATEGORIES = ("performance", "accessibility", "best-practices")


def lighthouse_scores(lighthouse: str, chromium: str, url: str) -> dict[str, int]:
    """Lighthouse's scores (0-100) of one page, mobile defaults (emulated phone, slow 4G)."""
    command = [
        lighthouse, url, "--output=json", "--output-path=stdout", "--quiet",
        f"--chrome-path={chromium}", "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        f"--only-categories={','.join(LIGHTHOUSE_CATEGORIES)}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    categories = json.loads(done.stdout)["categories"]
    return {name: round(100 * categories[name]["score"]) for name in LIGHTHOUSE_CATEGORIES}


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="cold-cache runs of each page (median)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable")
    parser.add_argument("--lighthouse", help="the lighthouse executable (12.x): also print its "
                        "scores")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-form-") as temporary:
        folder = Path(temporary)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "SURVEY_DATABASE_URL": f"sqlite:///{folder / 'survey.db'}",
            "SURVEY_DATA_DIR": str(folder / "data"),
            "SURVEY_DEMO": "0",
            "SURVEY_SECRET": "benchmark-secret",
            "SURVEY_BASE_URL": base_url,
        }
        os.environ.update(SURVEY_SECRET=env["SURVEY_SECRET"])
        url = prepare_database(env["SURVEY_DATABASE_URL"], base_url)
        server = start_app(folder, port, env)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=args.chromium, args=CHROMIUM_ARGS
                )
                measure_form(browser, url)  # warm the server (imports, questionnaire parsing)
                measure_streamlit(browser, base_url + "/")
                forms = [measure_form(browser, url) for _ in range(args.runs)]
                pages = [measure_streamlit(browser, base_url + "/") for _ in range(args.runs)]
                thanks = thank_you_page(browser, url)
                browser.close()
            scores = {}
            if args.lighthouse:
                for name, address in (("form", url), ("thank-you page", thanks),
                                      ("sign-in page", base_url + "/dang-nhap")):
                    scores[name] = lighthouse_scores(args.lighthouse, args.chromium, address)
        finally:
            server.terminate()
            server.wait(timeout=20)

    print("Slow phone network: 1.6 Mbit/s down, 750 kbit/s up, 150 ms latency; cold cache;")
    print(f"viewport 390×844; median of {args.runs} runs.\n")
    print(f"{'page':<34}{'first visible':>15}{'transferred':>14}{'requests':>10}")
    print(
        f"{'citizen form /s/<token>':<34}{median(forms, 'first_question_s'):>13.2f} s"
        f"{median(forms, 'bytes') / 1024:>11.1f} KB{median(forms, 'requests'):>10.0f}"
    )
    print(
        f"{'Streamlit page / (first heading)':<34}{median(pages, 'first_heading_s'):>13.2f} s"
        f"{median(pages, 'bytes') / 1024:>11.1f} KB{median(pages, 'requests'):>10.0f}"
    )
    print(f"\nform: submit → receipt visible {median(forms, 'submit_to_receipt_s'):.2f} s")
    if scores:
        print("\nLighthouse (mobile: emulated phone, simulated slow 4G)")
        print(f"{'page':<20}" + "".join(f"{name:>16}" for name in LIGHTHOUSE_CATEGORIES))
        for name, row in scores.items():
            print(f"{name:<20}" + "".join(f"{row[c]:>16}" for c in LIGHTHOUSE_CATEGORIES))


if __name__ == "__main__":
    main()
