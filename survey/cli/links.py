"""`survey links issue`: single-use links per case file (or anonymous), as slips or CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from survey.admin import CLI_SCOPE
from survey.cli.common import CliError, ended_period_flag, session_scope
from survey.single_use import issue_links_as, links_csv, read_case_codes, slips_pdf_of

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
    with session_scope() as session, ended_period_flag():
        issued = issue_links_as(  # checked, audited (the number only) and committed
            session=session,
            scope=CLI_SCOPE,
            unit_code=args.unit,
            period=args.period,
            questionnaire=args.questionnaire,
            case_codes=codes,
            count=args.count,
            days=args.days,
            base_url=args.base_url,
            allow_ended_period=args.allow_ended_period,
        )
        content = slips_pdf_of(issued) if suffix == ".pdf" else links_csv(issued)
        try:
            out.write_bytes(content)
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc}") from None
    print(f"{len(issued.links)} single-use links of campaign #{issued.campaign.campaign.id} "
          f"written to {out}", file=sys.stderr)
    return 0
