"""Audit commands: `survey audit list`."""

from __future__ import annotations

import argparse
import json

from survey.admin import CLI_SCOPE, audit_log
from survey.cli.common import print_json, session_scope
from survey.text import printable


def _audit_list(args: argparse.Namespace) -> int:
    with session_scope() as session:
        entries = audit_log(session=session, scope=CLI_SCOPE, username=args.user,
                            action=args.action, limit=args.limit)
    rows = [
        {"at": row.at.isoformat(timespec="seconds"), "username": row.username,
         "action": row.action, "target": row.target, "detail": row.detail}
        for row in entries.itertuples(index=False)
    ]
    if args.json:
        print_json([{**row, "detail": json.loads(row["detail"]) if row["detail"] else None}
                    for row in rows])
    else:
        for row in rows:  # control characters escaped: one entry is always one line
            print("\t".join(printable(value) for value in (
                row["at"], row["username"], row["action"], row["target"] or "-",
                row["detail"] or "")))
    return 0
