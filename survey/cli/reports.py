"""Report commands: `survey report unit|province` write the office's Excel workbooks or Word
reports (by the --out file's extension)."""

from __future__ import annotations

import argparse
from pathlib import Path

from survey.auth import FULL_ACCESS, Scope, scope_of
from survey.cli.common import CliError, session_scope
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
    for row in report.ranking.itertuples():
        print(f"  {row.rank_label:<24} {row.unit} {row.unit_name}")
    if report.aggregate is not None and report.aggregate.left_out:
        print("  left out of the average: " + ", ".join(report.aggregate.left_out_named()))
    return 0
