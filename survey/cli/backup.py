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
