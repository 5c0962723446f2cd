"""Account commands: `survey user add|list|passwd|set-role|deactivate|reactivate`."""

from __future__ import annotations

import argparse
import getpass
import sys

from survey.auth import create_user, set_password
from survey.cli.common import CliError, print_json, session_scope
from survey.storage.organisations import list_organisations
from survey.storage.users import get_user, list_users


def _ask_password() -> str | None:
    """Prompt twice on a terminal; None (→ a one-time password) when there is no terminal."""
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("Mật khẩu / password (empty = generate a one-time password): ")
    if not first:
        return None
    if getpass.getpass("Nhập lại / repeat: ") != first:
        raise CliError("the two passwords differ")
    return first


def _user_add(args: argparse.Namespace) -> int:
    password = None if args.one_time else _ask_password()
    with session_scope() as session:
        user, generated = create_user(
            session=session, username=args.username, role=args.role,
            organisation_code=args.unit, password=password, actor="cli",
        )
    print(f"user {user.username} added ({user.role}{', ' + args.unit if args.unit else ''})")
    if generated:
        print(f"one-time password (shown once, change it at first login): {generated}")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    with session_scope() as session:
        codes = {o.id: o.code for o in list_organisations(session=session, include_inactive=True)}
        rows = [{"username": u.username, "role": u.role, "unit": codes.get(u.organisation_id),
                 "active": u.active} for u in list_users(session=session)]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            state = "" if row["active"] else "\t(inactive)"
            print(f"{row['username']}\t{row['role']}\t{row['unit'] or '-'}{state}")
    return 0


def _user_passwd(args: argparse.Namespace) -> int:
    password = _ask_password()
    with session_scope() as session:
        user = get_user(session=session, username=args.username)
        if user is None:
            raise CliError(f"user {args.username} does not exist")
        generated = None
        if password is None:
            from survey.auth import one_time_password

            generated = password = one_time_password()
        set_password(session=session, user=user, password=password, actor="cli")
        user.must_change_password = generated is not None
    print(f"password of {args.username} changed")
    if generated:
        print(f"one-time password (shown once): {generated}")
    return 0


def _user_set_role(args: argparse.Namespace) -> int:
    from survey.admin import CLI_SCOPE, change_role

    with session_scope() as session:
        user = change_role(session=session, scope=CLI_SCOPE, username=args.username,
                           role=args.role, unit_code=args.unit)
    print(f"user {user.username}: {user.role}{', ' + args.unit if args.role != 'admin' else ''}")
    return 0


def _user_set_active(args: argparse.Namespace) -> int:
    from survey.admin import CLI_SCOPE, deactivate_user, reactivate_user

    change = reactivate_user if args.action == "reactivate" else deactivate_user
    with session_scope() as session:
        user = change(session=session, scope=CLI_SCOPE, username=args.username)
    print(f"user {user.username}: {'reactivated' if user.active else 'deactivated'}")
    return 0
