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


def register(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="the audit log: who did what, when")
    actions = audit.add_subparsers(dest="action_name", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list audit entries, newest first (Vietnam time)")
    listing.add_argument("--user", help="only this username ('cli' for the command line)")
    listing.add_argument("--action", help="only this action, e.g. import, user_created, login_failed")
    listing.add_argument("--limit", type=int, default=200, help="at most this many entries (200)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_audit_list)
