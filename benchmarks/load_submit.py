"""Load on the citizen's form: N complete submissions from C concurrent clients, none lost.

Starts the real app (`streamlit run survey_app.py`) on loopback over a fresh database
(a temporary SQLite file, or a new database on the dev PostgreSQL server), opens a
campaign, then runs C virtual users (asyncio, one aiohttp session with one kept-alive
connection each, like one phone's browser). Each user,
until N submissions have been sent, opens the form link (GET), answers every question
and submits it with the form's hidden key (POST, expecting the 303 to the thank-you
page). Afterwards it checks the database: exactly N responses for the campaign, each
with every question answered, each receipt seen by a client stored, no duplicate.

Prints the throughput and the p50/p95/p99 latency of the POST and of the GET; exits
with 1 when a submission was lost, duplicated or refused. Before the clock starts each
client submits one form of a separate warm-up campaign and opens the measured form once
(a running server: threads started, connections open, statements prepared; the measured
campaign holds only the measured submissions; --no-warmup measures from a cold start). The clients send without pause, so at 50
clients this is a saturation test: latency there is about clients / throughput.

    python benchmarks/load_submit.py --submissions 500 --clients 50 --database sqlite
    python benchmarks/load_submit.py --database postgres            # fresh DB on 127.0.0.1:55432
    python benchmarks/load_submit.py --database postgres --database-url postgresql://...
    python benchmarks/load_submit.py --url http://127.0.0.1:8501 \\
        --database-url sqlite:///data/survey.db --secret "$SURVEY_SECRET"   # a running app

Against a running app (--url) its flood limit applies to this one address: start it with
SURVEY_FLOOD_PER_MINUTE and SURVEY_BURST_COUNT above the load (this script does so for the
app it starts).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the shared live-server helper

from live_server import (  # noqa: E402
    LiveServer,
    form_fields,
    open_form_campaign,
    receipt_of,
    stored_state,
)

from survey.db import make_engine  # noqa: E402
from survey.questionnaire import load_questionnaire, shipped_questionnaire_paths  # noqa: E402

DEV_POSTGRES = "postgresql://postgres@127.0.0.1:55432/postgres"
QUESTIONNAIRE = "dtxhh-haugiang@2024"  # 28 questions and a respondent group
TARGET_P95_MS = 200.0


@dataclass
class Results:
    get_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)  # form key -> receipt
    failures: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    load_before: float = 0.0  # the machine's 1-minute load average when the run began
    posted: int = 0  # POSTs sent (answered or not)
    client_cpu_seconds: float = 0.0  # CPU time this load generator used while measuring
    server_cpu_seconds: float = 0.0  # CPU time the app's process used (0 for --url)
    machine_busy_share: float = 0.0  # share of all CPUs busy while measuring


async def virtual_user(
    client: aiohttp.ClientSession, form_url: str, remaining: list[int], results: Results
) -> None:
    """One citizen after another on one client: GET the form, POST it fully answered."""
    while remaining[0] > 0:
        remaining[0] -= 1
        try:
            begin = time.perf_counter()
            async with client.get(form_url) as page:
                text = await page.text()
            results.get_ms.append((time.perf_counter() - begin) * 1000)
            if page.status != 200:
                results.failures.append(f"GET {page.status}")
                continue
            fields = form_fields(text)
            key = dict(fields)["k"]
            begin = time.perf_counter()
            results.posted += 1
            async with client.post(
                f"{form_url}/gui",
                data=urlencode(fields),
                headers={"content-type": "application/x-www-form-urlencoded"},
                allow_redirects=False,
            ) as posted:
                await posted.read()
            results.post_ms.append((time.perf_counter() - begin) * 1000)
            receipt = receipt_of(posted.headers)
            if posted.status != 303 or receipt is None:
                results.failures.append(f"POST {posted.status}")
                continue
            results.receipts[key] = receipt
        except (TimeoutError, aiohttp.ClientError) as exc:
            results.failures.append(f"{type(exc).__name__}: {exc}")


def process_cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a process and its running child processes (the form app's
    workers) have used so far; 0 when unknown (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError):
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_cpu_seconds(int(child)) for child in children)


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / ticks, sum(values) / ticks


async def run_load(
    base_url: str,
    form_path: str,
    submissions: int,
    clients: int,
    timeout: float,
    warmup_path: str | None = None,
    server_pid: int | None = None,
) -> Results:
    """Run the clients; with `warmup_path` (a warm-up campaign's form), each client first
    submits that form once and opens the measured one, before the clock starts."""
    # Each client is one browser: one kept-alive connection. All are made before the clock
    # starts (making one costs this process's only thread time that would count as latency).
    form_url = base_url + form_path
    opened = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )
        for _ in range(clients)
    ]
    try:
        results = Results()
        if warmup_path:  # a running server: threads started, connections open
            warm = Results()
            await asyncio.gather(
                *(virtual_user(client, base_url + warmup_path, [1], warm) for client in opened)
            )
            await asyncio.gather(*(_read(client, form_url) for client in opened))
            results.failures += [f"warm-up {failure}" for failure in warm.failures]
        remaining = [submissions]
        results.load_before = os.getloadavg()[0]
        process = resource.getrusage(resource.RUSAGE_SELF)
        server_before, machine_before = process_cpu_seconds(server_pid), machine_cpu_seconds()
        results.started = time.perf_counter()
        try:
            await asyncio.gather(
                *(virtual_user(client, form_url, remaining, results) for client in opened)
            )
        finally:
            results.finished = time.perf_counter()
            spent = resource.getrusage(resource.RUSAGE_SELF)
            results.client_cpu_seconds = (spent.ru_utime - process.ru_utime) + (
                spent.ru_stime - process.ru_stime
            )
            results.server_cpu_seconds = process_cpu_seconds(server_pid) - server_before
            machine_after = machine_cpu_seconds()
            results.machine_busy_share = (machine_after[0] - machine_before[0]) / max(
                machine_after[1] - machine_before[1], 1e-9
            )
    finally:
        await asyncio.gather(*(client.close() for client in opened))
    return results


async def _read(client: aiohttp.ClientSession, url: str) -> None:
    async with client.get(url) as page:
        await page.read()


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (0..1) by linear interpolation; NaN when empty."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(share * 1000) - 1]


def latency_line(name: str, values: list[float]) -> str:
    return (
        f"{name:4} n={len(values):5}  p50 {percentile(values, 0.50):7.1f} ms  "
        f"p95 {percentile(values, 0.95):7.1f} ms  p99 {percentile(values, 0.99):7.1f} ms  "
        f"max {max(values, default=float('nan')):7.1f} ms"
    )


def question_count() -> int:
    for path in shipped_questionnaire_paths():
        questionnaire = load_questionnaire(path)
        if questionnaire.key == QUESTIONNAIRE:
            return len(questionnaire.question_codes)
    raise SystemExit(f"the shipped questionnaire {QUESTIONNAIRE} is missing")


def fresh_postgres_database(admin_url: str) -> tuple[str, str]:
    """Create an empty database on the server of `admin_url`; (its URL, its name)."""
    import psycopg

    name = f"survey_load_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_postgres_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def verify(database_url: str, campaign_id: int, results: Results, submissions: int) -> dict:
    """Compare what the clients were told with what the database holds."""
    engine = make_engine(database_url)
    try:
        state = stored_state(engine, campaign_id)
    finally:
        engine.dispose()
    questions = question_count()
    stored_receipts = set(state.receipts.values())
    acknowledged = set(results.receipts.values())
    return {
        "stored": state.responses,
        "acknowledged": len(acknowledged),
        # a thank-you page was shown but its response is not in the database
        "lost": len(acknowledged - stored_receipts),
        # more responses than forms sent (each form has its own key), or a receipt twice
        "duplicated": max(state.responses - results.posted, 0)
        + (len(state.receipts) - len(stored_receipts)),
        "incomplete": sum(count != questions for count in state.answer_counts.values()),
        "orphan_answers": state.orphan_answers,
        "not_acknowledged": submissions - len(acknowledged),
    }


def report(args, results: Results, checks: dict) -> int:
    seconds = results.finished - results.started
    print(
        f"{args.database if not args.url else 'target ' + args.url}: "
        f"{args.submissions} submissions, {args.clients} clients, "
        + (f"form app in {args.workers} process(es), " if args.workers else "whole app, ")
        + f"load average {results.load_before:.1f} before / {os.getloadavg()[0]:.1f} after "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"wall {seconds:.2f} s  throughput {len(results.receipts) / seconds:.1f} submissions/s "
        f"({(len(results.get_ms) + len(results.post_ms)) / seconds:.1f} requests/s)"
    )
    per = 1000 / max(len(results.receipts), 1)
    print(
        f"CPU per submission: app {results.server_cpu_seconds * per:.2f} ms, "
        f"load generator {results.client_cpu_seconds * per:.2f} ms; "
        f"machine busy {100 * results.machine_busy_share:.0f} % of {os.cpu_count()} CPUs"
    )
    print(latency_line("POST", results.post_ms))
    print(latency_line("GET", results.get_ms))
    print(
        "stored {stored}  acknowledged {acknowledged}  lost {lost}  duplicated {duplicated}  "
        "incomplete {incomplete}  orphan answers {orphan_answers}  "
        "not acknowledged {not_acknowledged}".format(**checks)
    )
    if results.failures:
        shown = sorted(set(results.failures))[:10]
        print(f"failures ({len(results.failures)}): {'; '.join(shown)}")
    p95 = percentile(results.post_ms, 0.95)
    verdict = "met" if p95 <= args.target_p95 else "MISSED"
    print(f"target p95(POST) <= {args.target_p95:.0f} ms: {verdict} ({p95:.1f} ms)")
    sound = (
        checks["lost"] == 0
        and checks["duplicated"] == 0
        and checks["incomplete"] == 0
        and checks["orphan_answers"] == 0
        and checks["not_acknowledged"] == 0
        and checks["stored"] == args.submissions
    )
    print("nothing lost, nothing counted twice" if sound else "FAILED: see the counts above")
    return 0 if sound else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=500, help="forms in all (500)")
    parser.add_argument(
        "--clients", type=int, default=50, help="concurrent virtual users, without pause (50)"
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--database-url",
        help="use this database (PostgreSQL: an empty one, or the --url app's own database)",
    )
    parser.add_argument(
        "--postgres-admin-url",
        default=DEV_POSTGRES,
        help=f"server on which --database postgres creates a fresh database ({DEV_POSTGRES})",
    )
    parser.add_argument("--url", help="target this running app instead of starting one")
    parser.add_argument("--secret", help="the running app's SURVEY_SECRET (with --url)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    parser.add_argument(
        "--target-p95", type=float, default=TARGET_P95_MS, help="POST p95 to meet, ms (200)"
    )
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="measure from a cold start (by default each client first submits a warm-up "
        "campaign's form once and opens the measured form, unmeasured)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    parser.add_argument(
        "--workers", type=int, default=0,
        help="0: the whole app (Streamlit and form, one process); N: the form application "
             "alone (uvicorn survey.webform.app:app --workers N)")
    args = parser.parse_args(argv)
    if args.url and not (args.database_url and args.secret):
        parser.error("--url needs the app's --database-url and --secret")
    if args.submissions < 1 or args.clients < 1:
        parser.error("--submissions and --clients must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="survey-load-"))
    created_database = None
    server = None
    try:
        if args.database_url:
            database_url = args.database_url
        elif args.database == "sqlite":
            database_url = f"sqlite:///{folder / 'survey.db'}"
        else:
            database_url, created_database = fresh_postgres_database(args.postgres_admin_url)
        secret = args.secret or secrets.token_hex(16)
        unit_code = f"LOAD{secrets.token_hex(3).upper()}"  # a fresh campaign on every run
        campaign_id, form_path = open_form_campaign(
            database_url,
            secret,
            unit_code=unit_code,
            unit_name="Đơn vị thử tải",
            questionnaire=QUESTIONNAIRE,
        )
        _warmup_id, warmup_path = open_form_campaign(
            database_url,
            secret,
            unit_code=unit_code + "W",
            unit_name="Đơn vị khởi động",
            questionnaire=QUESTIONNAIRE,
        )
        if args.url:
            base_url = args.url.rstrip("/")
        else:
            server = LiveServer(
                database_url,
                folder,
                secret,
                extra_env={
                    # one loopback address stands for thousands of phones here
                    "SURVEY_FLOOD_PER_MINUTE": "100000000",
                    "SURVEY_BURST_COUNT": "100000000",
                },
                form_workers=args.workers,
            ).start()
            base_url = server.base_url
        results = asyncio.run(
            run_load(
                base_url,
                form_path,
                args.submissions,
                args.clients,
                args.timeout,
                warmup_path=None if args.no_warmup else warmup_path,
                server_pid=server.process.pid if server is not None else None,
            )
        )
        checks = verify(database_url, campaign_id, results, args.submissions)
        return report(args, results, checks)
    finally:
        if server is not None:
            server.stop()
        if created_database and not args.keep:
            drop_postgres_database(args.postgres_admin_url, created_database)
        elif created_database:
            print(f"kept database {created_database}")
        if args.keep:
            print(f"kept folder {folder}")
        else:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
