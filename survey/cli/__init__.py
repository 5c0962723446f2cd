"""The `survey` command line: parsers in survey/cli/commands.py, handlers in the other modules
of this package, imported only for the command that runs."""

from __future__ import annotations

import argparse
import importlib
import sys

from survey.cli.commands import REGISTRARS
from survey.cli.common import CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="survey",
        description="Khảo sát CCHC — survey platform: questionnaires, responses, scores, reports.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in REGISTRARS:
        register(commands)
    return parser


def handler_of(name: str):
    """The function a command runs ("module:function" in survey.cli), imported now."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(f"survey.cli.{module}"), function)


def main(argv: list[str] | None = None) -> int:
    """Run one command; user errors go to stderr with exit code 2, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)  # --help ends here, before any heavy import
    from survey.auth import AccessDenied
    from survey.cli import common
    from survey.config import SettingsError
    from survey.periods import PeriodError
    from survey.questionnaire import QuestionnaireError
    from survey.storage import StorageError

    common._creating = False  # each command decides anew (init and demo allow it)
    try:
        return int(handler_of(args.handler)(args) or 0)
    except (CliError, StorageError, QuestionnaireError, PeriodError, AccessDenied,
            SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - never show a traceback to the user
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
