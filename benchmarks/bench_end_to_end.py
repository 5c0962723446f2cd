"""From the database to the numbers at provincial scale (issue 11's figures).

Builds databases of stored responses through the product's own storage path (the one write
path, `insert_new_responses`, in bulk: not the web form), 710 units × 8 quarters of the shipped
`dtxhh-haugiang@2024` (28 questions), and prints for each size and database:

* build time and database size;
* a cold process running `survey score --questionnaire dtxhh-haugiang --json` (every
  unit × quarter domain): wall time and peak RSS (`resource.getrusage` of the child);
* the provincial report as the page computes it: first after a process start, warm, and the
  time until a newly stored response is reflected;
* on the 100k database, the previous design's read path (one `answer` row per question,
  pivoted by pandas, as the first release read it) beside the compact read, and the ratio.

    python benchmarks/bench_end_to_end.py                          # 19k, 100k, 1M on SQLite
    python benchmarks/bench_end_to_end.py --sizes 19000,100000 \\
        --postgres-url postgresql://postgres@127.0.0.1:55432/bench  # and on PostgreSQL
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

UNITS = 710
QUARTERS = tuple(f"{year}-Q{q}" for year in (2023, 2024) for q in (1, 2, 3, 4))
GROUPS = ("DAN", "DN", "CB")
CHUNK = 20_000

MEASURE = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"wall": wall, "peak": peak, "code": done.returncode,
                  "domains": len(json.loads(done.stdout)) if done.returncode == 0 else None,
                  "error": done.stderr.decode()[-500:]}))
"""

PAGE = r"""
import json, sys, time
start = time.perf_counter()
from survey.auth import Scope
from survey.dashboard import load_source, province_report
from survey.db import make_engine, new_session
from survey.storage.questionnaires import get_questionnaire_version
from survey.storage.responses import store_response
from survey.storage.organisations import get_organisation
engine = make_engine(sys.argv[1])
scope = Scope(username="bench", role="admin", organisation_ids=None)
def report():
    with new_session(engine) as session:
        source = load_source(session=session, family="dtxhh-haugiang", scope=scope)
        return province_report(source=source, period="2024-Q4", level=0.95)
first = report()
cold = time.perf_counter() - start
start = time.perf_counter(); report(); warm = time.perf_counter() - start
with new_session(engine) as session:
    version = get_questionnaire_version(session=session, reference="dtxhh-haugiang@2024")
    unit = get_organisation(session=session, code="U0001")
    store_response(session=session, questionnaire_row=version, unit_id=unit.id, period="2024-Q4",
                   group_code="DAN", answers={"1.1": "A"}, idempotency_key=f"new-{time.time()}")
start = time.perf_counter(); after = report(); fresh = time.perf_counter() - start
print(json.dumps({"cold": cold, "warm": warm, "fresh": fresh}))
"""


def build(url: str, size: int, seed: int = 11) -> tuple[float, int]:
    """Create the schema, 710 units and `size` responses; (seconds, responses)."""
    from survey.answer_codes import codec_of
    from survey.bootstrap import register_shipped_questionnaires
    from survey.db import create_schema, drop_schema, make_engine, new_session
    from survey.storage.new_responses import NewResponse, insert_new_responses
    from survey.storage.organisations import add_organisation
    from survey.storage.questionnaires import get_questionnaire_version, questionnaire_of

    engine = make_engine(url)
    drop_schema(engine)
    start = time.perf_counter()
    create_schema(engine)
    register_shipped_questionnaires(engine)
    rng = np.random.default_rng(seed)
    with new_session(engine) as session:
        version = get_questionnaire_version(session=session, reference="dtxhh-haugiang@2024")
        codec = codec_of(questionnaire_of(version))
        add_organisation(session=session, code="P", name="Tỉnh", kind="province")
        unit_ids = [add_organisation(session=session, code=f"U{i:04d}", name=f"Đơn vị {i}",
                                     parent_code="P").id for i in range(1, UNITS + 1)]
        session.commit()
        options = np.array([len(o) for o in codec.option_codes])
        for first in range(0, size, CHUNK):
            n = min(CHUNK, size - first)
            quality = rng.uniform(0.2, 0.9, n)[:, None]
            draw = rng.random((n, options.size))
            matrix = np.where(draw < quality, 1, 1 + (draw * 10).astype(int) % options)
            matrix = matrix.astype(np.uint8)
            units = rng.integers(0, UNITS, n)
            quarters = rng.integers(0, len(QUARTERS), n)
            groups = rng.integers(0, len(GROUPS), n)
            insert_new_responses(session=session, responses=[
                NewResponse(unit_id=unit_ids[units[i]], period=QUARTERS[quarters[i]],
                            questionnaire_version_id=version.id, group_code=GROUPS[groups[i]],
                            answers=matrix[i].tobytes(), idempotency_key=f"b{first + i}",
                            channel="qr")
                for i in range(n)])
            session.commit()
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds, size


def database_size(url: str) -> int:
    from sqlalchemy import text

    from survey.db import make_engine

    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    engine = make_engine(url)
    with engine.connect() as connection:
        size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    return int(size)


def child_env(url: str) -> dict[str, str]:
    return {**os.environ, "SURVEY_DATABASE_URL": url, "PYTHONPATH": str(REPO)}


def cold_score(url: str) -> dict:
    survey = [sys.executable, "-c", "import sys; from survey.cli import main; sys.exit(main())"]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *survey, "score", "--questionnaire", "dtxhh-haugiang",
         "--json"], capture_output=True, text=True, env=child_env(url), cwd=REPO)
    return json.loads(done.stdout)


def page_times(url: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PAGE, url], capture_output=True, text=True,
                          env=child_env(url), cwd=REPO)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def previous_read_path(url: str) -> tuple[float, float]:
    """(previous design's read seconds, compact read seconds) on the same database.

    The previous design kept one `answer` row per question; the table is written here from
    the stored responses, then read and pivoted as the first release's `load_responses` did.
    """
    import pandas as pd
    from sqlalchemy import text

    from survey.db import make_engine, new_session
    from survey.storage.responses import load_responses

    engine = make_engine(url)
    with new_session(engine) as session:
        compact = load_responses(session=session, family="dtxhh-haugiang")
    long = compact.melt(id_vars=["response_id"], value_vars=[
        c for c in compact.columns if c[0].isdigit()], var_name="question_code",
        value_name="option_code").dropna()
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS old_answer"))
        connection.execute(text("CREATE TABLE old_answer (response_id INTEGER NOT NULL, "
                                "question_code VARCHAR(40) NOT NULL, option_code VARCHAR(40) "
                                "NOT NULL, PRIMARY KEY (response_id, question_code))"))
        rows = long.astype({"option_code": str}).to_dict("records")
        for start in range(0, len(rows), 100_000):
            connection.execute(text("INSERT INTO old_answer VALUES (:response_id, "
                                    ":question_code, :option_code)"), rows[start:start + 100_000])
    start = time.perf_counter()
    with engine.connect() as connection:
        heads = connection.execute(text(
            "SELECT r.id, o.code, o.name, r.period, v.version, r.group_code, r.channel, "
            "r.flagged FROM response r JOIN organisation o ON o.id = r.unit_id "
            "JOIN questionnaire_version v ON v.id = r.questionnaire_version_id "
            "WHERE v.family = 'dtxhh-haugiang'")).fetchall()
        answers = connection.execute(text(
            "SELECT a.response_id, a.question_code, a.option_code FROM old_answer a "
            "JOIN response r ON r.id = a.response_id JOIN questionnaire_version v "
            "ON v.id = r.questionnaire_version_id WHERE v.family = 'dtxhh-haugiang'")).fetchall()
    head_frame = pd.DataFrame(dict(zip(
        ["response_id", "unit", "unit_name", "period", "version", "group", "channel", "flagged"],
        zip(*heads, strict=True), strict=True)))
    long_frame = pd.DataFrame(dict(zip(["response_id", "question", "option"],
                                       zip(*answers, strict=True), strict=True)))
    wide = long_frame.pivot(index="response_id", columns="question", values="option")
    previous = head_frame.merge(wide, left_on="response_id", right_index=True, how="left")
    previous = previous.astype(object).where(previous.notna(), None)
    old_seconds = time.perf_counter() - start
    start = time.perf_counter()
    with new_session(engine) as session:
        load_responses(session=session, family="dtxhh-haugiang")
    new_seconds = time.perf_counter() - start
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE old_answer"))
    engine.dispose()
    return old_seconds, new_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="19000,100000,1000000")
    parser.add_argument("--postgres-url", help="also measure on this (emptied!) PostgreSQL db")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    backends = ([] if args.no_sqlite else [("SQLite", None)])
    if args.postgres_url:
        backends.append(("PostgreSQL", args.postgres_url))
    print(f"{'database':<11} {'responses':>9} {'build':>8} {'size':>9} {'score cold':>10} "
          f"{'peak RSS':>9} {'domains':>7} {'page 1st':>8} {'warm':>6} {'new resp':>8}")
    for name, pg_url in backends:
        for size in sizes:
            url = pg_url or f"sqlite:///{folder / f'e2e-{size}.db'}"
            seconds, _ = build(url, size)
            score = cold_score(url)
            if score["code"]:
                raise RuntimeError(score["error"])
            page = page_times(url)
            print(f"{name:<11} {size:>9,} {seconds:>7.1f}s {database_size(url) / 1e6:>7.0f}MB "
                  f"{score['wall']:>9.2f}s {score['peak'] / 1e9:>7.2f}GB {score['domains']:>7} "
                  f"{page['cold']:>7.2f}s {page['warm']:>5.2f}s {page['fresh']:>7.2f}s",
                  flush=True)
            if size == 100_000:
                old, new = previous_read_path(url)
                print(f"{'':<11} read path at 100k: previous design (answer rows + pivot) "
                      f"{old:.2f} s, compact {new:.2f} s, ratio {old / new:.1f}x", flush=True)
            if url.startswith("sqlite"):
                for path in folder.glob(f"e2e-{size}.db*"):
                    path.unlink()


if __name__ == "__main__":
    main()
