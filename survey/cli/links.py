"""`survey links issue`: single-use links per case file (or anonymous), as slips or CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from survey.cli.common import CliError, quarter_argument, session_scope
from survey.single_use import issue_single_use_links, links_csv, read_case_codes, slips_pdf_of

OUT_FORMATS = (".pdf", ".csv")


def _issue(args: argparse.Namespace) -> int:
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in OUT_FORMATS:
        raise CliError(f"--out must end in .pdf (slips) or .csv (one line per case), got {out.name}")
    codes = None
    if args.cases is not None:
        try:
            codes = read_case_codes(Path(args.cases).read_bytes())
        except OSError as exc:
            raise CliError(f"cannot read {args.cases}: {exc}") from None
    with session_scope() as session:
        issued = issue_single_use_links(
            session=session,
            unit_code=args.unit,
            period=args.period,
            questionnaire=args.questionnaire,
            case_codes=codes,
            count=args.count,
            days=args.days,
            base_url=args.base_url,
        )
        content = slips_pdf_of(issued) if suffix == ".pdf" else links_csv(issued)
        try:
            out.write_bytes(content)
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc}") from None
    print(f"{len(issued.links)} single-use links of campaign #{issued.campaign.campaign.id} "
          f"written to {out}", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    links = commands.add_parser("links", help="single-use links: one answer per case file")
    actions = links.add_subparsers(dest="action", metavar="ACTION", required=True)
    issue = actions.add_parser(
        "issue",
        help="one signed single-use link per case (CSV column ma_ho_so) or N anonymous ones, "
        "as slips (PDF, ten per A4 page) or CSV",
    )
    issue.add_argument("--unit", required=True, help="unit code")
    issue.add_argument("--period", required=True, type=quarter_argument,
                       help="quarter, e.g. 2024-Q3 (or Q3/2024)")
    issue.add_argument("--questionnaire", required=True, metavar="ID[@VERSION]")
    source = issue.add_mutually_exclusive_group(required=True)
    source.add_argument("--cases", metavar="FILE.csv", help="CSV with a column ma_ho_so")
    source.add_argument("--count", type=int, metavar="N", help="N anonymous links")
    issue.add_argument("--out", required=True, help="FILE.pdf (slips) or FILE.csv")
    issue.add_argument("--days", type=int,
                       help="links valid N days (default SURVEY_LINK_DAYS, 30), "
                       "never beyond the campaign")
    issue.add_argument("--base-url",
                       help="public address of the app (default: SURVEY_BASE_URL)")
    issue.set_defaults(handler=_issue)
