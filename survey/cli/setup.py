"""Foundation commands: init, demo, questionnaire, unit, import, export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from survey.admin import CLI_SCOPE, add_unit, export_responses, import_paper_forms
from survey.bootstrap import initialise, register_shipped_questionnaires
from survey.cli.common import (
    CliError,
    allow_creation,
    database_missing,
    engine,
    print_json,
    session_scope,
)
from survey.exports import codebook_path
from survey.importer import OVERLAP_ROWS_LISTED, ImportFailed
from survey.questionnaire import QuestionnaireError, load_questionnaire
from survey.storage.organisations import list_organisations
from survey.storage.questionnaires import (
    count_responses_for_version,
    get_questionnaire_version,
    list_questionnaire_versions,
)


def _info(args: argparse.Namespace) -> int:
    """Which database and settings this command line uses, and what the database holds."""
    from survey.backup import describe_url
    from survey.config import settings
    from survey.db import make_engine, schema_revision

    config = settings()
    url = config.database_url
    found: dict = {"database": describe_url(url), "base_url": config.base_url,
                   "confidence_level": config.confidence_level}
    if database_missing(url):
        found["state"] = "missing: run `survey init` to create it"
    else:
        made = make_engine(url)
        try:
            from sqlalchemy import func, select

            from survey.models import Organisation, Response

            found["schema_revision"] = schema_revision(made)
            with made.connect() as connection:
                found["units"] = connection.execute(
                    select(func.count()).select_from(Organisation)).scalar_one()
                found["responses"] = connection.execute(
                    select(func.count()).select_from(Response)).scalar_one()
            found["state"] = "ready"
        finally:
            made.dispose()
    if args.json:
        print_json(found)
    else:
        for key, value in found.items():
            print(f"{key}: {value}")
    return 0


def _init(args: argparse.Namespace) -> int:
    allow_creation()
    outcomes = register_shipped_questionnaires(engine())
    for key, outcome in outcomes:
        print(f"{key}: {outcome}")
    print("database ready")
    return 0


def _demo(args: argparse.Namespace) -> int:
    allow_creation()
    if not initialise(engine(), load_demo=True):
        raise CliError("the database already has units: demo data is only loaded into an empty one")
    with session_scope() as session:
        units = [o for o in list_organisations(session=session) if o.kind != "province"]
    print(f"demo province loaded: {len(units)} units, 8 quarters")
    return 0


def _questionnaire_add(args: argparse.Namespace) -> int:
    from survey.admin import register_questionnaire_upload

    path = Path(args.path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    with session_scope() as session:  # validated, registered and audited in one transaction
        row, outcome = register_questionnaire_upload(session=session, scope=CLI_SCOPE,
                                                     content=content, filename=str(path))
    print(f"{row.family}@{row.version}: {outcome} (#{row.id})")
    return 0


def _questionnaire_list(args: argparse.Namespace) -> int:
    with session_scope() as session:
        rows = [
            {
                "id": row.family,
                "version": row.version,
                "title": row.title,
                "responses": count_responses_for_version(session=session, version_id=row.id),
                "registered_at": row.registered_at,
            }
            for row in list_questionnaire_versions(session=session)
        ]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            print(f"{row['id']}@{row['version']}\t{row['responses']} responses\t{row['title']}")
    return 0


def _questionnaire_check(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.paths:
        try:
            questionnaire = load_questionnaire(path)
        except QuestionnaireError as exc:
            failed += 1
            print(exc, file=sys.stderr)
            continue
        print(f"{path}: ok ({questionnaire.key}, {len(questionnaire.criteria)} criteria, "
              f"{len(questionnaire.questions)} questions, {questionnaire.max_points:g} points)")
    return 2 if failed else 0


def _unit_add(args: argparse.Namespace) -> int:
    with session_scope() as session:
        unit = add_unit(session=session, scope=CLI_SCOPE, code=args.code, name=args.name,
                        parent_code=args.parent, kind=args.kind)
    print(f"{unit.code}: added ({unit.kind})")
    return 0


def _unit_list(args: argparse.Namespace) -> int:
    with session_scope() as session:
        organisations = list_organisations(session=session, include_inactive=True)
        by_id = {o.id: o for o in organisations}
        rows = [
            {
                "code": o.code,
                "name": o.name,
                "kind": o.kind,
                "parent": by_id[o.parent_id].code if o.parent_id in by_id else None,
                "active": o.active,
            }
            for o in organisations
        ]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            print(f"{row['code']}\t{row['kind']}\t{row['parent'] or '-'}\t{row['name']}")
    return 0


def _unit_rename(args: argparse.Namespace) -> int:
    from survey.admin import CLI_SCOPE, rename_unit

    with session_scope() as session:
        unit = rename_unit(session=session, scope=CLI_SCOPE, code=args.code, name=args.name)
    print(f"{unit.code}: renamed to {unit.name}")
    return 0


def _unit_move(args: argparse.Namespace) -> int:
    from survey.admin import CLI_SCOPE, move_unit

    with session_scope() as session:
        unit = move_unit(session=session, scope=CLI_SCOPE, code=args.code,
                         parent_code=None if args.root else args.parent)
    print(f"{unit.code}: moved under {args.parent or 'the root'} ({unit.kind})")
    return 0


def _unit_set_active(args: argparse.Namespace) -> int:
    from survey.admin import CLI_SCOPE, deactivate_unit, reactivate_unit

    change = reactivate_unit if args.action == "reactivate" else deactivate_unit
    with session_scope() as session:
        unit = change(session=session, scope=CLI_SCOPE, code=args.code)
    print(f"{unit.code}: {'reactivated' if unit.active else 'deactivated'}")
    return 0


def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    with session_scope() as session:
        version = get_questionnaire_version(session=session, reference=args.questionnaire)
        try:
            result = import_paper_forms(
                session=session, scope=CLI_SCOPE, content=content, filename=path.name,
                version=version, create_units=args.create_units, parent_code=args.parent,
                only_new_rows=args.only_new_rows,
            )
        except ImportFailed as exc:
            print(exc, file=sys.stderr)
            if any(getattr(p.message, "code", None) == "import.rows_already_imported"
                   for p in exc.problems):
                print("To import only the new rows, add --only-new-rows.", file=sys.stderr)
            return 2
    created = f"; units created: {', '.join(result.created_units)}" if result.created_units else ""
    print(f"{path.name}: {result.rows} responses imported{created}")
    if result.skipped_rows:
        listed = ", ".join(map(str, result.skipped_rows[:OVERLAP_ROWS_LISTED]))
        more = len(result.skipped_rows) - min(len(result.skipped_rows), OVERLAP_ROWS_LISTED)
        print(f"{len(result.skipped_rows)} row(s) already imported were left out: row {listed}"
              + (f" … and {more} more" if more else ""))
    return 0


def _export_responses(args: argparse.Namespace) -> int:
    with session_scope() as session:
        count = export_responses(session=session, scope=CLI_SCOPE, family=args.questionnaire,
                                 out=Path(args.out))
    print(f"{count} responses written to {args.out}; codebook: {codebook_path(Path(args.out))}")
    return 0
