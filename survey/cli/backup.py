"""Backup commands: backup, restore."""

from __future__ import annotations

import argparse

from survey.backup import BackupError, backup_database, describe_url, restore_database
from survey.cli.common import CliError
from survey.config import settings


def _backup(args: argparse.Namespace) -> int:
    url = settings().database_url
    try:
        result = backup_database(url, args.file, force=args.force)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(f"{describe_url(url)} backed up to {result.path} ({result.bytes:,} bytes)")
    return 0


def _restore(args: argparse.Namespace) -> int:
    url = settings().database_url
    try:
        restore_database(url, args.file, force=args.force)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(f"{args.file} restored into {describe_url(url)}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    backup = commands.add_parser(
        "backup",
        help="back up the whole database to a file (safe while the app runs)",
        description="SQLite: an online copy into one file. PostgreSQL: pg_dump --format=custom "
        "(pg_dump must be installed).",
    )
    backup.add_argument("file", help="backup file to write")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    backup.set_defaults(handler=_backup)

    restore = commands.add_parser(
        "restore",
        help="replace the whole database with a backup made by 'survey backup'",
        description="The backup is checked first; a database that holds data is only replaced "
        "with --force. PostgreSQL: pg_restore --clean --if-exists --no-owner, in one transaction.",
    )
    restore.add_argument("file", help="backup file made by 'survey backup'")
    restore.add_argument(
        "--force", action="store_true", help="replace a database that holds data"
    )
    restore.set_defaults(handler=_restore)
