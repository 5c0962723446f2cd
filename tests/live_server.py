"""The real app in a subprocess, for tests and benchmarks (a helper module, not a test file).

`LiveServer` runs `streamlit run survey_app.py` on a free loopback port against a given
database, and can be killed (SIGKILL), stopped and started again on the same database
and port. `open_form_campaign` prepares a database with one unit and an open campaign
and returns its signed form path; `form_fields` reads a served form into the fields a
citizen who answers every question would send.

Imported as `from live_server import ...` (tests/ is on sys.path in pytest's prepend
import mode; benchmarks add it themselves).
"""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import select

from survey.bootstrap import initialise
from survey.db import make_engine, new_session
from survey.links import campaign_token
from survey.models import Response
from survey.storage.campaigns import open_campaign
from survey.storage.organisations import add_organisation, get_organisation
from survey.storage.questionnaires import get_questionnaire_version
from survey.storage.responses import answers_by_response

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright drives it by path
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Browser tests run wherever Chromium is installed, and always in CI (which installs it).
BROWSER_TEST = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("CI"),
        reason="needs /usr/bin/chromium (always runs in CI)",
    ),
]
UNIT_CODE = "HG01"
UNIT_NAME = "Cục Thi hành án dân sự tỉnh Hậu Giang"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(
    base_url: str, server: subprocess.Popen, log: Path, seconds: float = 90,
    path: str = "/_stcore/health",
) -> None:
    """Wait until the app answers `path`; RuntimeError with the log's end otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the app exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}{path}", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app did not become healthy:\n{log.read_text()[-3000:]}")


@dataclass
class LiveServer:
    """`streamlit run survey_app.py` on 127.0.0.1:<port> over `database_url`."""

    database_url: str
    folder: Path  # the data folder (secret file, logs)
    secret: str
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    # > 0: the form application alone (survey.webform.app) in this many uvicorn processes
    form_workers: int = 0
    process: subprocess.Popen | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / f"streamlit-{self.starts}.log"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SURVEY_DATABASE_URL": self.database_url,
            "SURVEY_DATA_DIR": str(self.folder / "data"),
            "SURVEY_DEMO": "0",
            "SURVEY_SECRET": self.secret,
            "SURVEY_BASE_URL": self.base_url,
            **self.extra_env,
        }

    def start(self, *, timeout: float = 90) -> LiveServer:
        """Start the app and wait until it is healthy."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        command = [
            sys.executable, "-m", "streamlit", "run", "survey_app.py",
            "--server.port", str(self.port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ]  # fmt: skip
        health = "/_stcore/health"
        if self.form_workers:
            command = [
                sys.executable, "-m", "uvicorn", "survey.webform.app:app",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(self.form_workers), "--no-access-log",
            ]  # fmt: skip
            health = "/healthz"
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env(), stdout=output, stderr=subprocess.STDOUT
            )
        try:
            wait_for_health(self.base_url, self.process, self.log, timeout, health)
        except RuntimeError:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, requests in flight are cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


# --- the database side ----------------------------------------------------------------


def open_form_campaign(
    database_url: str,
    secret: str,
    *,
    unit_code: str = UNIT_CODE,
    unit_name: str = UNIT_NAME,
    questionnaire: str = "dtxhh-haugiang",
    period: str = "2024-Q3",
) -> tuple[int, str]:
    """Schema, questionnaires, a unit and its open campaign; (campaign id, "/s/<token>")."""
    engine = make_engine(database_url)
    try:
        initialise(engine, load_demo=False)
        with new_session(engine) as session:
            if get_organisation(session=session, code="HG") is None:
                add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
            if get_organisation(session=session, code=unit_code) is None:
                add_organisation(session=session, code=unit_code, name=unit_name, parent_code="HG")
            unit = get_organisation(session=session, code=unit_code)
            version = get_questionnaire_version(session=session, reference=questionnaire)
            campaign, _created = open_campaign(
                session=session, unit_id=unit.id, period=period, version_id=version.id
            )
            session.commit()
            token = campaign_token(campaign, secret=secret.encode("utf-8"))
            return campaign.id, f"/s/{token}"
    finally:
        engine.dispose()


_INPUT = re.compile(r"<input\b([^>]*)>")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


def form_fields(page: str, choice: int = 0) -> list[tuple[str, str]]:
    """The fields a citizen who answers everything sends: the hidden ones, the empty
    honeypot, and for every radio group the `choice`-th option (the last if fewer)."""
    hidden: list[tuple[str, str]] = []
    radios: dict[str, list[str]] = {}
    for match in _INPUT.finditer(page):
        attributes = {k: html.unescape(v) for k, v in _ATTRIBUTE.findall(match.group(1))}
        kind, name = attributes.get("type"), attributes.get("name")
        if name is None:
            continue
        if kind == "radio":
            radios.setdefault(name, []).append(attributes["value"])
        elif kind in ("hidden", "text"):
            hidden.append((name, attributes.get("value", "")))
    return hidden + [(name, values[min(choice, len(values) - 1)]) for name, values in radios.items()]


def form_key(page: str) -> str:
    return re.search(r'name="k" value="([^"]+)"', page).group(1)


# The thank-you redirect: a plain address (the language at most), the receipt in cookie `bn`.
THANKS_LOCATION = re.compile(r"(?:[^/?]+/)?cam-on(?:\?lang=en)?")  # relative to the post
RECEIPT_COOKIE = re.compile(r"bn=([23456789A-HJKMNP-Z]{8});")


def receipt_of(headers) -> str | None:
    """The receipt a thank-you redirect sets in its cookie, from its headers (httpx's or
    aiohttp's); None for any other answer, and for a Location that says more than the plain
    thank-you address (a receipt there would land in a proxy's access log)."""
    if not THANKS_LOCATION.fullmatch(headers.get("location", "")):
        return None
    cookies = (headers.get_list("set-cookie") if hasattr(headers, "get_list")
               else headers.getall("set-cookie", []))
    found = [m.group(1) for m in map(RECEIPT_COOKIE.match, cookies) if m]
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class StoredState:
    """What a campaign holds: receipts by idempotency key, answer counts, orphan answers."""

    receipts: dict[str, str]  # idempotency key -> receipt
    answer_counts: dict[int, int]  # response id -> number of answers
    orphan_answers: int  # answers whose response does not exist (any campaign)
    groups: dict[int, str | None]  # response id -> respondent group

    @property
    def responses(self) -> int:
        return len(self.receipts)


def stored_state(engine, campaign_id: int) -> StoredState:
    """One query for the campaign (one snapshot, so a concurrent store cannot split it).
    Answers live in the response row, so none can be orphaned: `orphan_answers` is 0 by
    construction of the schema."""
    with new_session(engine) as session:
        rows = session.exec(
            select(Response.id, Response.idempotency_key, Response.receipt, Response.group_code,
                   Response.answers)
            .where(Response.campaign_id == campaign_id)
        ).all()
    return StoredState(
        receipts={key: receipt for _id, key, receipt, _group, _answers in rows},
        answer_counts={response_id: sum(1 for b in answers if b)
                       for response_id, *_, answers in rows},
        orphan_answers=0,
        groups={response_id: group for response_id, _key, _receipt, group, _answers in rows},
    )


@dataclass(frozen=True)
class StoredForm:
    """One stored response of a campaign, as the tests compare it with what was sent."""

    response_id: int
    receipt: str | None
    group: str | None
    answers: dict[str, str]  # question code -> option code


def stored_forms(engine, campaign_id: int) -> dict[str, StoredForm]:
    """Every stored response of a campaign with its answers, by idempotency key (one query,
    so one snapshot even while submissions are being stored)."""
    with new_session(engine) as session:
        rows = session.exec(
            select(Response.id, Response.idempotency_key, Response.receipt, Response.group_code)
            .where(Response.campaign_id == campaign_id)
        ).all()
        answers = answers_by_response(session=session, response_ids=[row[0] for row in rows])
    return {key: StoredForm(response_id, receipt, group, answers.get(response_id, {}))
            for response_id, key, receipt, group in rows}
