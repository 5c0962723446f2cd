"""Report commands: `survey report unit|province` write the office's Excel workbooks or Word
reports (by the --out file's extension)."""

from __future__ import annotations

import argparse
from pathlib import Path

from survey.auth import FULL_ACCESS, Scope, scope_of
from survey.cli.common import CliError, period_argument, session_scope
from survey.dashboard import load_source, province_report, unit_report
from survey.par import classify
from survey.periods import parse_period
from survey.reports import province_workbook, unit_workbook
from survey.storage.users import get_user


def _scope(session, username: str | None) -> Scope:
    """Everything for the operator; a user's scope with --as USER."""
    if not username:
        return FULL_ACCESS
    user = get_user(session=session, username=username)
    if user is None or not user.active:
        raise CliError(f"user {username} does not exist or is inactive")
    return scope_of(session=session, user=user)


def _level(value: float | None) -> float:
    """--level, else the setting (SURVEY_CI_LEVEL); the workbook's labels follow it."""
    from survey.config import settings
    from survey.intervals import check_level

    try:
        return check_level(settings().confidence_level if value is None else value)
    except ValueError as exc:
        raise CliError(f"--level: {exc}") from None


def _write(path: str, content: bytes) -> None:
    out = Path(path)
    if out.suffix.lower() not in (".xlsx", ".docx"):
        raise CliError(f"{path}: name the report .xlsx (Excel) or .docx (Word)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)


def _is_word(path: str) -> bool:
    return Path(path).suffix.lower() == ".docx"


def _unit(args: argparse.Namespace) -> int:
    period = str(parse_period(args.period))
    with session_scope() as session:
        scope = _scope(session, args.as_user)
        source = load_source(session=session, family=args.questionnaire, scope=scope)
        report = unit_report(session=session, source=source, scope=scope, unit=args.unit,
                             period=period, level=_level(args.level))
        if report.current is None:
            raise CliError(f"unit {args.unit} has no responses in {period}")
        if _is_word(args.out):
            from survey.word import unit_document

            content = unit_document(report, source=source, against=args.against, lang=args.lang)
        else:
            content = unit_workbook(report, against=args.against)
        _write(args.out, content)
    total = report.current.total
    print(f"{args.out}: {args.unit} {period}, n = {report.current.n}, "
          f"score = {total.score:.2f}" if total and total.score is not None else f"{args.out} written")
    return 0


def _province(args: argparse.Namespace) -> int:
    period = str(parse_period(args.period))
    with session_scope() as session:
        scope = _scope(session, args.as_user)
        source = load_source(session=session, family=args.questionnaire, scope=scope)
        report = province_report(source=source, period=period, against=args.against,
                                 level=_level(args.level), classify=classify)
        if report.ranking.empty:
            raise CliError(f"no responses in {period}")
        if _is_word(args.out):
            from survey.word import province_document

            content = province_document(report, source=source, lang=args.lang)
        else:
            content = province_workbook(report)
        _write(args.out, content)
    print(f"{args.out}: {len(report.ranking)} units ranked for {period}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="Excel or Word reports as the offices lay them out")
    kinds = report.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name, handler, help_text, against in (
        ("unit", _unit, "one unit's table by dimension with comparisons", "year-ago"),
        ("province", _province, "the ranking of every unit for a period", "previous"),
    ):
        parser = kinds.add_parser(name, help=help_text)
        if name == "unit":
            parser.add_argument("--unit", required=True, help="unit code")
        parser.add_argument("--period", type=period_argument, required=True, help="2024-Q3, 2024-H1 or 2024")
        parser.add_argument("--out", required=True,
                            help="output file: .xlsx (Excel workbook) or .docx (Word report)")
        parser.add_argument("--lang", choices=["vi", "en"], default="vi",
                            help="language of the Word report (default: vi)")
        parser.add_argument("--questionnaire", default="dtxhh-haugiang", metavar="ID",
                            help="questionnaire family (default: dtxhh-haugiang)")
        parser.add_argument("--against", choices=["previous", "year-ago"], default=against,
                            help=f"comparison period (default: {against})")
        parser.add_argument("--level", type=float, default=None,
                            help="confidence level (default: SURVEY_CI_LEVEL, else 0.95)")
        parser.add_argument("--as", dest="as_user", metavar="USER",
                            help="limit the report to what this user may see")
        parser.set_defaults(handler=handler)
