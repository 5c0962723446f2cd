"""The command line's parsers: every command and its arguments, with no heavy import, so that
`survey --help` and every `COMMAND --help` answer at once. A handler is named
"module:function" (a module of survey.cli) and imported only when its command runs."""

from __future__ import annotations

import argparse

from survey.cli.common import period_argument, quarter_argument


def register_setup(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser("info", help="which database and settings this command uses, "
                                             "and what the database holds")
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler="setup:_info")
    init = commands.add_parser("init", help="create the schema and register the shipped questionnaires (safe to run twice)")
    init.set_defaults(handler="setup:_init")

    demo = commands.add_parser("demo", help="load the demo province (12 units, 8 quarters) into an empty database")
    demo.set_defaults(handler="setup:_demo")

    questionnaire = commands.add_parser("questionnaire", help="register, list and check questionnaire files")
    q_commands = questionnaire.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = q_commands.add_parser("add", help="validate and register a questionnaire file")
    add.add_argument("path", help="questionnaire YAML file")
    add.set_defaults(handler="setup:_questionnaire_add")
    listing = q_commands.add_parser("list", help="list registered questionnaire versions")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler="setup:_questionnaire_list")
    check = q_commands.add_parser("check", help="validate questionnaire files without registering them")
    check.add_argument("paths", nargs="+", metavar="PATH", help="questionnaire YAML files")
    check.set_defaults(handler="setup:_questionnaire_check")

    unit = commands.add_parser("unit", help="add, list, rename, move and deactivate units")
    u_commands = unit.add_subparsers(dest="action", metavar="ACTION", required=True)
    unit_add = u_commands.add_parser("add", help="add a province, unit or sub-unit")
    unit_add.add_argument("code", help="unit code, e.g. HG01")
    unit_add.add_argument("--name", required=True, help="Vietnamese name")
    unit_add.add_argument("--parent", help="parent unit code")
    unit_add.add_argument("--kind", choices=["province", "unit", "subunit"],
                          help="default: province without parent, else from the parent")
    unit_add.set_defaults(handler="setup:_unit_add")
    unit_list = u_commands.add_parser("list", help="list units")
    unit_list.add_argument("--json", action="store_true", help="print JSON")
    unit_list.set_defaults(handler="setup:_unit_list")
    unit_rename = u_commands.add_parser("rename", help="give a unit a new name (its code stays)")
    unit_rename.add_argument("code", help="unit code")
    unit_rename.add_argument("--name", required=True, help="new Vietnamese name")
    unit_rename.set_defaults(handler="setup:_unit_rename")
    unit_move = u_commands.add_parser("move", help="put a unit and its sub-units under another parent")
    unit_move.add_argument("code", help="unit code")
    where = unit_move.add_mutually_exclusive_group(required=True)
    where.add_argument("--parent", help="new parent unit code (not the unit itself nor below it)")
    where.add_argument("--root", action="store_true", help="make it a root of the tree")
    unit_move.set_defaults(handler="setup:_unit_move")
    for action, text in [("deactivate", "hide a unit from lists and imports (responses stay)"),
                         ("reactivate", "make a deactivated unit active again")]:
        unit_active = u_commands.add_parser(action, help=text)
        unit_active.add_argument("code", help="unit code")
        unit_active.set_defaults(handler="setup:_unit_set_active")

    imp = commands.add_parser("import", help="import typed-in paper forms (CSV or XLSX), all or nothing")
    imp.add_argument("file", help="CSV or XLSX: columns unit, period, group, then question codes")
    imp.add_argument("--questionnaire", required=True, metavar="ID[@VERSION]")
    imp.add_argument("--create-units", action="store_true", help="create unknown units (named by code)")
    imp.add_argument("--parent", help="parent of created units")
    imp.add_argument("--only-new-rows", action="store_true",
                     help="leave out rows an earlier import already stored (named in the output)")
    imp.set_defaults(handler="setup:_import")

    export = commands.add_parser("export", help="export data")
    e_commands = export.add_subparsers(dest="what", metavar="WHAT", required=True)
    responses = e_commands.add_parser("responses", help="anonymised responses as CSV, with a codebook")
    responses.add_argument("--out", required=True, help="output CSV file")
    responses.add_argument("--questionnaire", metavar="ID", help="one questionnaire family (default: all)")
    responses.set_defaults(handler="setup:_export_responses")


def register_users(commands: argparse._SubParsersAction) -> None:
    user = commands.add_parser("user", help="staff accounts (citizens never log in)")
    actions = user.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add an account; asks for the password or prints a one-time one")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["admin", "province", "unit"])
    add.add_argument("--unit", help="the province or unit the account sees (not for admin)")
    add.add_argument("--one-time", action="store_true", help="print a one-time password instead of asking")
    add.set_defaults(handler="users:_user_add")
    listing = actions.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler="users:_user_list")
    passwd = actions.add_parser("passwd", help="set a new password (or print a one-time one)")
    passwd.add_argument("username")
    passwd.set_defaults(handler="users:_user_passwd")
    set_role = actions.add_parser("set-role", help="give an account another role and unit")
    set_role.add_argument("username")
    set_role.add_argument("--role", required=True, choices=["admin", "province", "unit"])
    set_role.add_argument("--unit", help="the province or unit the account sees (not for admin)")
    set_role.set_defaults(handler="users:_user_set_role")
    for action, text in [("deactivate", "stop an account from signing in (its sessions end)"),
                         ("reactivate", "let a deactivated account sign in again")]:
        active = actions.add_parser(action, help=text)
        active.add_argument("username")
        active.set_defaults(handler="users:_user_set_active")


def register_scores(commands: argparse._SubParsersAction) -> None:
    score = commands.add_parser(
        "score", help="survey scores with standard errors and confidence intervals",
        description="Score every unit × period (or one unit, one period) with SE, df, the logit-t "
                    "interval and reliability flags. --period may be a quarter (2024-Q3), a "
                    "half-year (2024-H1) or a year (2024), pooling its quarters.")
    score.add_argument("--questionnaire", required=True, metavar="ID[@VERSION]",
                       help="questionnaire family, optionally one version")
    score.add_argument("--period", type=period_argument, help="2024-Q3, 2024-H1 or 2024 (default: every quarter present)")
    score.add_argument("--unit", help="unit code (default: every unit)")
    score.add_argument("--province", choices=("average", "pooled"),
                       help="score the province: unit-average or respondent-pooled")
    score.add_argument("--level", help="confidence level (default 0.95 or SURVEY_CI_LEVEL)")
    score.add_argument("--exclude-flagged", action="store_true",
                       help="leave out responses flagged as suspicious")
    score.add_argument("--json", action="store_true", help="print JSON (full precision)")
    score.set_defaults(handler="scores:_score")

    compare = commands.add_parser(
        "compare", help="change against the previous period or a year earlier, with its error",
        description="D = T1 − T0 with SE √(V1 + V0), Welch–Satterthwaite df, CI, p-value and the "
                    "minimum detectable change; without --unit every unit, with Benjamini–"
                    "Hochberg adjusted p-values.")
    compare.add_argument("--questionnaire", required=True, metavar="ID[@VERSION]",
                         help="questionnaire family; @VERSION picks that version where a period "
                              "mixes versions")
    compare.add_argument("--unit", help="unit code (default: every unit)")
    compare.add_argument("--period", type=period_argument, required=True, help="current period: 2024-Q3, 2024-H1, 2024")
    compare.add_argument("--against", required=True, choices=("previous", "year-ago"),
                         help="previous period or the same period a year earlier (cùng kỳ)")
    compare.add_argument("--level", help="confidence level (default 0.95 or SURVEY_CI_LEVEL)")
    compare.add_argument("--power", default=None, type=float,
                         help="power for the minimum detectable change (default 0.8)")
    compare.add_argument("--exclude-flagged", action="store_true",
                         help="leave out responses flagged as suspicious")
    compare.add_argument("--json", action="store_true", help="print JSON (full precision)")
    compare.set_defaults(handler="scores:_compare")

    rank = commands.add_parser(
        "rank", help="league table with rank confidence sets (marginal or simultaneous)",
        description="Rank every unit of one period by its total and give each unit's rank "
                    "interval: marginal (each unit on its own, Bonferroni over its K − 1 "
                    "comparisons) or, with --simultaneous, for the whole table at once. Units "
                    "without a standard error are listed as left out. Indices of the "
                    "questionnaire are ranked the same way.")
    rank.add_argument("--questionnaire", required=True, metavar="ID[@VERSION]",
                      help="questionnaire family, optionally one version")
    rank.add_argument("--period", required=True, help="2024-Q3, 2024-H1 or 2024")
    rank.add_argument("--simultaneous", action="store_true",
                      help="sets valid for all units at once (default: marginal)")
    rank.add_argument("--level", help="confidence level (default 0.95 or SURVEY_CI_LEVEL)")
    rank.add_argument("--exclude-flagged", action="store_true",
                      help="leave out responses flagged as suspicious")
    rank.add_argument("--json", action="store_true", help="print JSON (full precision)")
    rank.set_defaults(handler="scores:_rank")

    par = commands.add_parser(
        "par", help="PAR index: appraised criteria plus the survey score, class and rank",
        description="TABLE.csv has columns criterion,max,self,appraised (max 0 = not applicable) "
                    "and optionally a 'total' row with the stated totals. Several tables (one "
                    "per unit of a province-year, each with its own --survey-score) are ranked.")
    par.add_argument("tables", nargs="+", metavar="TABLE.csv", help="appraisal table(s)")
    par.add_argument("--survey-score", required=True, nargs="+", metavar="S",
                     help="the survey score, one per table")
    par.add_argument("--survey-max", default="22", help="the survey maximum (default 22)")
    par.add_argument("--stated-total", nargs="+", metavar="T",
                     help="the appraised maximum to use (overrides the table's total row)")
    par.add_argument("--bands", help="classes as LABEL=LOWER,... (default Hậu Giang: "
                                     "Xuất sắc=90,Tốt=80,Khá=65,Trung bình=50,Yếu=0)")
    par.add_argument("--json", action="store_true", help="print JSON (one object per table)")
    par.set_defaults(handler="scores:_par")


def register_diagnose(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("diagnose", help="where a unit's points were lost, by question")
    parser.add_argument("--questionnaire", default="dtxhh-haugiang", metavar="ID",
                        help="questionnaire family (default: dtxhh-haugiang)")
    parser.add_argument("--unit", required=True, help="unit code")
    parser.add_argument("--period", type=period_argument, required=True,
                        help="2024-Q3, 2024-H1 or 2024")
    parser.add_argument("--against", choices=["previous", "year-ago"], default="year-ago",
                        help="comparison period (default: year-ago)")
    parser.add_argument("--level", type=float, default=None,
                        help="confidence level (default: SURVEY_CI_LEVEL, else 0.95)")
    parser.add_argument("--as", dest="as_user", metavar="USER",
                        help="limit to what this user may see")
    parser.add_argument("--json", action="store_true", help="full-precision JSON")
    parser.set_defaults(handler="diagnose:_diagnose")


def register_reports(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="Excel or Word reports as the offices lay them out")
    kinds = report.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name, handler, help_text, against in (
        ("unit", "reports:_unit", "one unit's table by dimension with comparisons", "year-ago"),
        ("province", "reports:_province", "the ranking of every unit for a period", "previous"),
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


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", type=int, help="campaign id (see `survey campaign list`)")
    parser.add_argument("--unit", help="unit code")
    parser.add_argument("--period", type=quarter_argument, help="quarter, e.g. 2024-Q3 (or Q3/2024)")
    parser.add_argument(
        "--questionnaire", metavar="ID[@VERSION]", help="questionnaire (default: any)"
    )


def _add_base_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        help="public address of the app (default: SURVEY_BASE_URL, http://localhost:8501)",
    )


def _add_allow_ended(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-ended-period", action="store_true",
        help="open a campaign for a quarter that has ended (its responses count in that quarter)",
    )


def register_campaigns(commands: argparse._SubParsersAction) -> None:
    campaign = commands.add_parser(
        "campaign", help="open, close, revoke, rotate and list collection campaigns (QR links)"
    )
    actions = campaign.add_subparsers(dest="action", metavar="ACTION", required=True)

    opening = actions.add_parser(
        "open",
        help="open the campaign of unit × quarter × questionnaire (or reuse it); print its URL",
    )
    opening.add_argument("--unit", required=True, help="unit code")
    opening.add_argument("--period", required=True, type=quarter_argument,
                        help="quarter, e.g. 2024-Q3 (or Q3/2024)")
    opening.add_argument("--questionnaire", required=True, metavar="ID[@VERSION]")
    opening.add_argument("--days", type=int, help="link valid for N days from now (new: 90)")
    _add_base_url(opening)
    _add_allow_ended(opening)
    opening.set_defaults(handler="campaigns:_open")

    for name, text in (
        ("close", "end collection; the link says the survey has ended"),
        ("revoke", "withdraw the link; it says it was withdrawn"),
    ):
        ending = actions.add_parser(name, help=text)
        _add_selection(ending)
        ending.set_defaults(handler=f"campaigns:_{name}")

    rotate = actions.add_parser(
        "rotate", help="issue a new link for an open campaign; older links stop working"
    )
    _add_selection(rotate)
    _add_base_url(rotate)
    rotate.set_defaults(handler="campaigns:_rotate")

    listing = actions.add_parser("list", help="list campaigns with their response counts")
    listing.add_argument("--unit", help="a unit and the units below it")
    listing.add_argument("--period", type=quarter_argument, help="quarter, e.g. 2024-Q3 (or Q3/2024)")
    listing.add_argument("--status", choices=["open", "closed", "revoked"])
    listing.add_argument("--json", action="store_true", help="print JSON")
    _add_base_url(listing)
    listing.set_defaults(handler="campaigns:_list")

    qr = commands.add_parser(
        "qr",
        help="write a campaign's QR code (PNG, SVG) or A4 poster (PDF); opens the campaign if needed",
    )
    qr.add_argument("--unit", help="unit code")
    qr.add_argument(
        "--province",
        nargs="?",
        const=True,
        metavar="CODE",
        help="one PDF with the posters of every unit of the province (CODE needed if several)",
    )
    qr.add_argument("--period", required=True, type=quarter_argument,
                        help="quarter, e.g. 2024-Q3 (or Q3/2024)")
    qr.add_argument(
        "--questionnaire",
        metavar="ID[@VERSION]",
        help="default for --unit: the questionnaire of its one open campaign",
    )
    qr.add_argument(
        "--out", required=True, help="FILE.pdf (poster), FILE.png or FILE.svg (QR code)"
    )
    qr.add_argument("--days", type=int, help="for campaigns opened now: valid N days (default 90)")
    _add_base_url(qr)
    _add_allow_ended(qr)
    qr.set_defaults(handler="campaigns:_qr")


def register_links(commands: argparse._SubParsersAction) -> None:
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
    _add_allow_ended(issue)
    issue.set_defaults(handler="links:_issue")


def register_backup(commands: argparse._SubParsersAction) -> None:
    backup = commands.add_parser(
        "backup",
        help="back up the whole database to a file (safe while the app runs)",
        description="SQLite: an online copy into one file. PostgreSQL: pg_dump --format=custom "
        "(pg_dump must be installed).",
    )
    backup.add_argument("file", help="backup file to write")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    backup.set_defaults(handler="backup:_backup")

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
    restore.set_defaults(handler="backup:_restore")


def register_audit(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="the audit log: who did what, when")
    actions = audit.add_subparsers(dest="action_name", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list audit entries, newest first (Vietnam time)")
    listing.add_argument("--user", help="only this username ('cli' for the command line)")
    listing.add_argument("--action", help="only this action, e.g. import, user_created, login_failed")
    listing.add_argument("--limit", type=int, default=200, help="at most this many entries (200)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler="audit:_audit_list")


REGISTRARS = (register_setup, register_users, register_scores, register_diagnose, register_reports,
              register_campaigns, register_links, register_backup, register_audit)
