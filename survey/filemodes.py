"""Database files readable by their owner only (as the server's secret key file is).

SQLite gives a database's `-wal`, `-shm` and `-journal` files the permissions of the
database file itself, so a database file created 0600 keeps all of them private. Call
`restrict_sqlite_files(url)` before the first connection opens the database (in
`survey.db.make_engine`, for file URLs): it creates a missing database file empty with mode
0600 and takes group and other permissions away from an existing one and its companions.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_FILE = 0o600
COMPANIONS = ("-wal", "-shm", "-journal")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file::memory:"):
        return None
    return Path(parsed.database)


def make_private(path: Path) -> None:
    """Take group and other permissions away from `path` (if it exists)."""
    with suppress(FileNotFoundError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)


def restrict_sqlite_files(url: str) -> Path | None:
    """For a SQLite file URL: the database file exists with mode 0600 (created empty when
    missing, so SQLite never creates it with the umask's mode) and so do its WAL, shared-
    memory and journal files; returns the database path (None for other URLs)."""
    path = sqlite_file(url)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in COMPANIONS)):
        make_private(candidate)
    return path
