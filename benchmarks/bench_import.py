"""Paper import at scale: a 100,000-row file checked and stored, all or nothing.

Writes a CSV (and, with --xlsx, an XLSX) of N typed-in forms of `dtxhh-haugiang@2024` for 50
units, imports it into a fresh database through `survey.importer.import_responses` (the page's
and the CLI's path) and prints the wall time and the peak memory of the process that did it.
Beside it, in the same run, the row-at-a-time alternative: the same rows stored one by one
through `store_response` (a few thousand, and the rate extrapolated to N).

    python benchmarks/bench_import.py                    # 100,000 rows, SQLite
    python benchmarks/bench_import.py --rows 100000 --xlsx
    python benchmarks/bench_import.py --database-url postgresql://postgres@127.0.0.1:55432/bench
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from survey.bootstrap import register_shipped_questionnaires
from survey.db import create_schema, drop_schema, make_engine, new_session
from survey.importer import import_responses
from survey.storage.organisations import add_organisation
from survey.storage.questionnaires import get_questionnaire_version
url, path, per_row = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
engine = make_engine(url)
drop_schema(engine)
create_schema(engine)
register_shipped_questionnaires(engine)
with new_session(engine) as session:
    add_organisation(session=session, code="P", name="Tỉnh", kind="province")
    for i in range(1, 51):
        add_organisation(session=session, code=f"U{i:02d}", name=f"Đơn vị {i}", parent_code="P")
    session.commit()
    version = get_questionnaire_version(session=session, reference="dtxhh-haugiang@2024")
    content = path.read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if per_row:
        from survey.importer import read_table
        from survey.storage.responses import store_response
        table = read_table(content, path.name).head(per_row)
        codes = [c for c in table.columns if c not in ("unit", "period", "group")]
        units = {}
        from survey.storage.organisations import get_organisation
        for index, row in enumerate(table.to_dict("records")):
            unit = units.setdefault(row["unit"], get_organisation(session=session, code=row["unit"]).id)
            store_response(session=session, questionnaire_row=version, unit_id=unit,
                           period=row["period"], group_code=row["group"],
                           answers={c: row[c] or None for c in codes},
                           idempotency_key=f"row-{index}", channel="paper", commit=False)
        session.commit()
        rows = len(table)
    else:
        rows = import_responses(content, path.name, session=session, version=version).rows
    seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"rows": rows, "seconds": seconds, "peak": peak}))
"""


def write_file(path: Path, rows: int, seed: int = 5) -> None:
    from survey.questionnaire import load_questionnaire

    questionnaire = load_questionnaire(REPO / "questionnaires" / "dtxhh-haugiang-2024.yaml")
    codes = list(questionnaire.question_codes)
    rng = np.random.default_rng(seed)
    options = np.array(["A", "B", "C", "D", "X", ""])
    answers = options[rng.integers(0, len(options), (rows, len(codes)))]
    units = np.array([f"U{i:02d}" for i in range(1, 51)])[rng.integers(0, 50, rows)]
    quarters = np.array([f"2024-Q{q}" for q in (1, 2, 3, 4)])[rng.integers(0, 4, rows)]
    groups = np.array(["DAN", "DN", "CB"])[rng.integers(0, 3, rows)]
    header = ["unit", "period", "group", *codes]
    body = np.column_stack([units, quarters, groups, answers])
    if path.suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(body.tolist())
        path.write_text(buffer.getvalue(), encoding="utf-8")
    else:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(header)
        for row in body.tolist():
            sheet.append(row)
        book.save(path)


def run(url: str, path: Path, per_row: int = 0) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, url, str(path), str(per_row)],
                          capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--xlsx", action="store_true", help="also an XLSX of the same rows")
    parser.add_argument("--per-row", type=int, default=3000,
                        help="rows stored one at a time for the comparison (3000)")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    url = args.database_url or f"sqlite:///{folder / 'import.db'}"
    kinds = [".csv"] + ([".xlsx"] if args.xlsx else [])
    for suffix in kinds:
        path = folder / f"forms{suffix}"
        write_file(path, args.rows)
        result = run(url, path)
        print(f"{suffix[1:].upper():<4} {result['rows']:>7,} rows  "
              f"{path.stat().st_size / 2**20:6.1f} MB  import {result['seconds']:6.2f} s  "
              f"peak RSS {result['peak'] / 2**30:.2f} GB  "
              f"({result['rows'] / result['seconds']:,.0f} rows/s)", flush=True)
    one_by_one = run(url, folder / "forms.csv", per_row=args.per_row)
    rate = one_by_one["rows"] / one_by_one["seconds"]
    print(f"row at a time (store_response): {one_by_one['rows']:,} rows in "
          f"{one_by_one['seconds']:.2f} s ({rate:,.0f} rows/s), {args.rows:,} rows ≈ "
          f"{args.rows / rate:.0f} s")


if __name__ == "__main__":
    main()
