"""What every CLI command shares: the database session, errors, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a command runs, not for --help
    from sqlalchemy.engine import Engine
    from sqlmodel import Session


class CliError(Exception):
    """A user error: printed to stderr, exit code 2."""


@cache
def engine() -> Engine:
    """The process's engine (SURVEY_DATABASE_URL), with the schema created."""
    from survey.db import create_schema, make_engine

    made = make_engine()
    create_schema(made)
    return made


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session for one command: committed on success, rolled back on error."""
    from survey.db import new_session

    session = new_session(engine())
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def print_json(value: Any) -> None:
    """Print `value` as JSON with full float precision; NaN and infinities become null (JSON
    has none). One line, written at once: libjson's C encoder, thousands of domains in a
    fraction of a second."""
    text = json.dumps(value, ensure_ascii=False, default=_json_default)
    if "NaN" in text or "Infinity" in text:  # rare: rewrite those constants only
        text = json.dumps(json.loads(text, parse_constant=lambda _constant: None),
                          ensure_ascii=False)
    sys.stdout.write(text + "\n")


def period_argument(text: str) -> str:
    """argparse type of --period: any accepted spelling, stored canonical ('Q3/2024' → '2024-Q3')."""
    from survey.periods import PeriodError, canonical_period

    try:
        return canonical_period(text)
    except PeriodError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def quarter_argument(text: str) -> str:
    """argparse type of a quarter's --period ('2024-q3' → '2024-Q3'); a half-year or year is refused."""
    from survey.periods import PeriodError, canonical_quarter

    try:
        return canonical_quarter(text)
    except PeriodError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
