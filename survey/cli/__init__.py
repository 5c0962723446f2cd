"""The `survey` command line. Each module in this package registers its sub-commands."""

from __future__ import annotations

import argparse
import sys

from survey.cli import audit, backup, campaigns, links, reports, scores, setup, users
from survey.cli.common import CliError

COMMAND_MODULES = (setup, users, scores, reports, campaigns, links, backup, audit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="survey",
        description="Khảo sát CCHC — survey platform: questionnaires, responses, scores, reports.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; user errors go to stderr with exit code 2, never a traceback."""
    from survey.auth import AccessDenied
    from survey.config import SettingsError
    from survey.periods import PeriodError
    from survey.questionnaire import QuestionnaireError
    from survey.storage import StorageError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
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
