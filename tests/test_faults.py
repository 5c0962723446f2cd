"""Faults on the citizen's form: nothing acknowledged is lost, nothing is counted twice.

The real app runs in a subprocess (tests/live_server.py) on SQLite and, when
SURVEY_TEST_POSTGRES_URL is set, on PostgreSQL:

- the server is killed (SIGKILL) in a storm of submissions and started again;
- the citizen never sees the reply (a client timeout, a dropped connection) and retries;
- the database is away for a moment: PostgreSQL stopped and started (a throwaway
  cluster of this test's own, initdb/pg_ctl on a free port), SQLite locked by another
  connection beyond the busy timeout.

"Nothing lost": every thank-you redirect's receipt is stored with the answers sent.
"Nothing twice": one row per hidden form key, and a retry shows the same receipt.
"Nothing half-written": every stored response holds exactly the answers sent, and no
answer is without its response.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from live_server import (
    LiveServer,
    form_fields,
    form_key,
    free_port,
    open_form_campaign,
    receipt_of,
    stored_forms,
    stored_state,
)
from sqlalchemy import event
from starlette.applications import Starlette
from starlette.testclient import TestClient

from survey.db import make_engine
from survey.webform.abuse import AbuseLimits
from survey.webform.keys import form_key_nonce, idempotency_key
from survey.webform.routes import LINK_STATE_SECONDS, form_routes

SECRET = "fault-test-secret"
# One loopback address stands for many phones here: no flood refusal, no burst flags.
MANY_PHONES = {"SURVEY_FLOOD_PER_MINUTE": "1000000", "SURVEY_BURST_COUNT": "1000000"}
QUIET = AbuseLimits(burst_count=1_000_000, flood_per_minute=1_000_000)
FORM_BODY = {"content-type": "application/x-www-form-urlencoded"}
RETRY_NOTICE = "Hệ thống đang bận nên chưa lưu được phiếu"
CHECKED = re.compile(r'<input type="radio" name="([^"]+)" value="([^"]*)" checked>')


# --- citizens ----------------------------------------------------------------------


@dataclass
class Attempt:
    """One form a citizen submitted, and what came back (status None: no reply)."""

    fields: list[tuple[str, str]]
    status: int | None = None
    receipt: str | None = None
    page: str = ""

    @property
    def key(self) -> str:
        return dict(self.fields)["k"]


def post(client: httpx.Client, form_path: str, fields, **options) -> httpx.Response:
    return client.post(
        f"{form_path}/gui",
        content=urlencode(fields),
        headers=FORM_BODY,
        follow_redirects=False,
        **options,
    )


def sent_answers(fields) -> dict[str, str]:
    return {name.removeprefix("q_"): value for name, value in fields if name.startswith("q_")}


def radio_choices(fields) -> dict[str, str]:
    return {name: value for name, value in fields if name == "g" or name.startswith("q_")}


def wait_until(condition: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


class Storm:
    """`clients` threads, each opening the form and submitting it answered, until stopped."""

    def __init__(self, base_url: str, form_path: str, clients: int):
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._citizen, args=(base_url, form_path, n), daemon=True)
            for n in range(clients)
        ]

    def start(self) -> Storm:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Attempt]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in self._threads)
        return self.attempts

    def acknowledged(self) -> int:
        with self._lock:
            return sum(attempt.receipt is not None for attempt in self.attempts)

    def _citizen(self, base_url: str, form_path: str, number: int) -> None:
        with httpx.Client(base_url=base_url, timeout=20) as client:
            while not self._stop.is_set():
                try:
                    page = client.get(form_path)
                except httpx.TransportError:  # the server is down
                    time.sleep(0.05)
                    continue
                if page.status_code != 200:  # e.g. 503 while the database is away
                    time.sleep(0.05)
                    continue
                attempt = Attempt(form_fields(page.text, choice=number % 5))
                with self._lock:
                    self.attempts.append(attempt)
                try:
                    posted = post(client, form_path, attempt.fields)
                except httpx.TransportError:
                    continue  # cut off: no reply
                attempt.status = posted.status_code
                attempt.receipt = receipt_of(posted.headers)
                if posted.status_code != 303:
                    attempt.page = posted.text


def stored_key(campaign_id: int, key: str) -> str:
    nonce = form_key_nonce(key, campaign_id, SECRET.encode())
    assert nonce is not None
    return idempotency_key(campaign_id, nonce)


def check_nothing_lost_or_partial(engine, campaign_id: int, attempts: list[Attempt]) -> dict:
    """Every acknowledged form stored with its receipt; every stored one whole; returns them."""
    stored = stored_forms(engine, campaign_id)
    sent = {stored_key(campaign_id, attempt.key): attempt for attempt in attempts}
    assert set(stored) <= set(sent), "a response that no citizen sent"
    for key, attempt in sent.items():
        if attempt.receipt is not None:
            assert key in stored, f"acknowledged with receipt {attempt.receipt} but not stored"
            assert stored[key].receipt == attempt.receipt
    for key, form in stored.items():
        assert form.answers == sent_answers(sent[key].fields), "a partial response"
        assert form.group == dict(sent[key].fields)["g"]
    assert stored_state(engine, campaign_id).orphan_answers == 0
    return stored


def resubmit_all(base_url: str, form_path: str, attempts: list[Attempt]) -> dict[str, str]:
    """Send every form again with its own key; receipts by form key (all must be 303)."""
    receipts = {}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for attempt in attempts:
            again = post(client, form_path, attempt.fields)
            assert again.status_code == 303, again.text[:300]
            receipts[attempt.key] = receipt_of(again.headers)
            if attempt.receipt is not None:
                assert receipts[attempt.key] == attempt.receipt, "a retry got a new receipt"
    return receipts


def check_retry_page(page: str, fields) -> None:
    """The 503 page: in Vietnamese, says to try again, every answer still checked, same key."""
    assert RETRY_NOTICE in page and "vui lòng thử lại" in page
    assert dict(CHECKED.findall(page)) == radio_choices(fields)
    assert form_key(page) == dict(fields)["k"]
    assert "Traceback" not in page


@pytest.fixture
def campaign(db_url):
    """(campaign id, form path) of an open campaign in the test database."""
    return open_form_campaign(db_url, SECRET)


@pytest.fixture
def server(db_url, campaign, tmp_path):
    app = LiveServer(db_url, tmp_path / "app", SECRET, extra_env=MANY_PHONES).start()
    yield app
    app.stop()


@pytest.fixture
def engine_of(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


# --- the server killed -------------------------------------------------------------


def test_server_killed_mid_storm_loses_nothing_acknowledged(server, campaign, engine_of):
    campaign_id, form_path = campaign
    storm = Storm(server.base_url, form_path, clients=20).start()
    began = time.monotonic()
    wait_until(lambda: storm.acknowledged() >= 30, what="30 stored submissions")
    time.sleep(max(0.0, 1.5 - (time.monotonic() - began)))
    server.kill()
    attempts = storm.stop()

    cut = [attempt for attempt in attempts if attempt.status is None]
    assert cut, "the kill cut no submission in flight"
    assert {attempt.status for attempt in attempts} <= {None, 303}

    server.start()  # the same database, the same port
    stored = check_nothing_lost_or_partial(engine_of, campaign_id, attempts)
    assert sum(a.receipt is not None for a in attempts) <= len(stored) <= len(attempts)

    receipts = resubmit_all(server.base_url, form_path, attempts)
    stored = check_nothing_lost_or_partial(engine_of, campaign_id, attempts)
    assert len(stored) == len(attempts)  # one response per form, the cut ones included
    assert {stored_key(campaign_id, k): r for k, r in receipts.items()} == {
        key: form.receipt for key, form in stored.items()
    }


# --- the reply never seen ----------------------------------------------------------


@contextmanager
def writes_held(url: str) -> Iterator[None]:
    """Another connection holds the write lock on the responses until the block ends."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    import psycopg

    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE response IN EXCLUSIVE MODE")  # reads pass, inserts wait
        try:
            yield
        finally:
            holder.rollback()


def test_retry_after_a_client_timeout_is_not_stored_twice(server, campaign, engine_of, db_url):
    campaign_id, form_path = campaign
    key_of = lambda attempt: stored_key(campaign_id, attempt.key)  # noqa: E731
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        attempt = Attempt(form_fields(client.get(form_path).text, choice=2))
        with writes_held(db_url):  # the submission is slowed behind the lock...
            with pytest.raises(httpx.ReadTimeout):
                post(client, form_path, attempt.fields, timeout=1.0)  # ...and given up on
            assert stored_forms(engine_of, campaign_id) == {}
        # The server finishes what the citizen gave up on; the citizen taps "Gửi" again.
        wait_until(lambda: key_of(attempt) in stored_forms(engine_of, campaign_id), what="store")
        retry = post(client, form_path, attempt.fields)
        again = post(client, form_path, attempt.fields)
    stored = stored_forms(engine_of, campaign_id)
    assert retry.status_code == again.status_code == 303
    assert len(stored) == 1
    receipt = stored[key_of(attempt)].receipt
    assert receipt_of(retry.headers) == receipt_of(again.headers) == receipt
    assert stored[key_of(attempt)].answers == sent_answers(attempt.fields)


def raw_post(port: int, form_path: str, body: bytes, *, send: int | None = None) -> socket.socket:
    """POST the form on a bare socket, `send` bytes of the body (all by default); the caller
    hangs up without reading the reply."""
    head = (
        f"POST {form_path}/gui HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(head + body[: len(body) if send is None else send])
    return connection


def test_retry_after_a_dropped_connection_is_not_stored_twice(server, campaign, engine_of, db_url):
    campaign_id, form_path = campaign
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        forms = [
            Attempt(form_fields(client.get(form_path).text, choice=n % 5)) for n in range(7)
        ]
        bodies = [urlencode(attempt.fields).encode() for attempt in forms]

        raw_post(server.port, form_path, bodies[0], send=len(bodies[0]) // 2).close()  # mid-upload
        for body in bodies[1:6]:  # whole, then dropped at once: stored or not, both are fine
            raw_post(server.port, form_path, body).close()
        with writes_held(db_url):  # whole, read by the server, dropped while it waits to store
            connection = raw_post(server.port, form_path, bodies[6])
            time.sleep(1.0)
            connection.close()
        held = stored_key(campaign_id, forms[6].key)
        wait_until(lambda: held in stored_forms(engine_of, campaign_id), what="the held store")
        time.sleep(0.3)  # the other hung-up posts are done too
        assert stored_key(campaign_id, forms[0].key) not in stored_forms(engine_of, campaign_id)
        assert len(stored_forms(engine_of, campaign_id)) <= 6

        receipts = resubmit_all(server.base_url, form_path, forms)
        assert resubmit_all(server.base_url, form_path, forms[6:]) == {
            forms[6].key: receipts[forms[6].key]
        }
        assert client.get("/_stcore/health").status_code == 200
    stored = check_nothing_lost_or_partial(engine_of, campaign_id, forms)
    assert len(stored) == len(forms)
    assert {key: form.receipt for key, form in stored.items()} == {
        stored_key(campaign_id, key): receipt for key, receipt in receipts.items()
    }


# --- the database away for a moment: PostgreSQL restarted --------------------------


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian layout, else on PATH)."""
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def needs_postgres_cluster() -> Path:
    """The binaries to run a throwaway cluster; skipped without them (never in CI)."""
    problem = None
    found = postgres_bin()
    if found is None:
        problem = "needs the PostgreSQL server binaries (initdb, pg_ctl)"
    elif os.geteuid() == 0 and shutil.which("runuser") is None:
        problem = "running as root needs runuser to start PostgreSQL as 'postgres'"
    if problem is None:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{problem} (CI must run this test)")
    pytest.skip(problem)


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary folder on a free loopback port."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="survey-fault-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
            shutil.chown(self.folder, "postgres", "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        with (self.folder / "tools.log").open("a") as log:
            done = subprocess.run(
                [*self.as_owner, str(self.bin / tool), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed:\n{(self.folder / 'tools.log').read_text()[-2000:]}")

    def init(self) -> ThrowawayPostgres:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-w", "-t", "60", "-o", options, "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        with suppress(RuntimeError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def own_postgres():
    cluster = ThrowawayPostgres(needs_postgres_cluster()).init()
    cluster.start()
    yield cluster
    cluster.destroy()


def test_postgres_restart_keeps_answers_and_stores_once(own_postgres, tmp_path):
    campaign_id, form_path = open_form_campaign(own_postgres.url, SECRET)
    engine = make_engine(own_postgres.url)
    server = LiveServer(own_postgres.url, tmp_path / "app", SECRET, extra_env=MANY_PHONES)
    try:
        server.start()
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            # One citizen: the database goes away between opening the form and sending it.
            fields = form_fields(client.get(form_path).text, choice=1)
            own_postgres.stop("fast")
            down = post(client, form_path, fields)
            assert down.status_code == 503
            check_retry_page(down.text, fields)
            # Opening the form once the link state in memory is too old to trust: a plain
            # "busy" page with a link to try again.
            time.sleep(LINK_STATE_SECONDS)
            closed = client.get(form_path)
            assert closed.status_code == 503 and "Hệ thống đang bận" in closed.text
            assert 'href="' in closed.text and "Thử lại" in closed.text
            own_postgres.start()
            first = post(client, form_path, fields)
            again = post(client, form_path, fields)
        assert first.status_code == again.status_code == 303
        receipt = receipt_of(first.headers)
        assert receipt_of(again.headers) == receipt
        [stored] = stored_forms(engine, campaign_id).values()
        assert stored.receipt == receipt and stored.answers == sent_answers(fields)

        # A storm across a fast stop: in-flight transactions are cut by the server.
        storm = Storm(server.base_url, form_path, clients=10).start()
        wait_until(lambda: storm.acknowledged() >= 10, what="10 stored submissions")
        own_postgres.stop("fast")
        time.sleep(1.0)
        own_postgres.start()
        back = storm.acknowledged()
        wait_until(lambda: storm.acknowledged() >= back + 10, what="submissions after the restart")
        attempts = storm.stop()
        engine.dispose()  # its pooled connections died with the server
        everyone = [*attempts, Attempt(fields, 303, receipt)]  # with the first citizen

        assert {attempt.status for attempt in attempts} <= {303, 503}
        refused = [attempt for attempt in attempts if attempt.status == 503]
        assert refused, "no submission met the stopped database"
        for attempt in refused:
            check_retry_page(attempt.page, attempt.fields)
        check_nothing_lost_or_partial(engine, campaign_id, everyone)
        resubmit_all(server.base_url, form_path, everyone)
        stored = check_nothing_lost_or_partial(engine, campaign_id, everyone)
        assert len(stored) == len(everyone)
    finally:
        server.stop()
        engine.dispose()


# --- the database away for a moment: SQLite locked -----------------------------------


def test_sqlite_locked_beyond_the_busy_timeout_keeps_answers_and_stores_once(tmp_path):
    """Another connection holds SQLite's write lock longer than the busy timeout (shortened
    here to 0.3 s from the app's 10 s, so that the test does not wait 10 s)."""
    path = tmp_path / "survey.db"
    url = f"sqlite:///{path}"
    campaign_id, form_path = open_form_campaign(url, SECRET)
    engine = make_engine(url)
    event.listen(engine, "connect", lambda connection, _: connection.execute("PRAGMA busy_timeout=300"))
    app = Starlette(routes=form_routes(engine=engine, secret=SECRET.encode(), limits=QUIET))
    client = TestClient(app, raise_server_exceptions=False)
    try:
        fields = form_fields(client.get(form_path).text, choice=4)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            began = time.monotonic()
            down = post(client, form_path, fields)
            assert time.monotonic() - began < 5  # waits the busy timeout, then answers
            assert down.status_code == 503
            check_retry_page(down.text, fields)
            assert client.get(form_path).status_code == 200  # readers still pass (WAL)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert stored_forms(engine, campaign_id) == {}
        assert stored_state(engine, campaign_id).orphan_answers == 0
        first = post(client, form_path, fields)
        again = post(client, form_path, fields)
        assert first.status_code == again.status_code == 303
        receipt = receipt_of(first.headers)
        assert receipt_of(again.headers) == receipt
        [stored] = stored_forms(engine, campaign_id).values()
        assert stored.receipt == receipt and stored.answers == sent_answers(fields)
    finally:
        client.close()
        engine.dispose()
