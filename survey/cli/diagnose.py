"""`survey diagnose`: where a unit's points were lost, question by question (survey.diagnosis)."""

from __future__ import annotations

import argparse

from survey.cli.common import CliError, print_json, session_scope
from survey.formatting import format_number, format_p, format_signed


def _diagnose(args: argparse.Namespace) -> int:
    from survey.cli.reports import _level, _scope
    from survey.dashboard import load_source, unit_report
    from survey.diagnosis import change_sentence, diagnose
    from survey.storage.questionnaires import list_questionnaire_versions

    with session_scope() as session:
        if not list_questionnaire_versions(session=session, family=args.questionnaire):
            raise CliError(f"questionnaire {args.questionnaire} is not registered")
        scope = _scope(session, args.as_user)
        source = load_source(session=session, family=args.questionnaire, scope=scope)
        report = unit_report(session=session, source=source, scope=scope, unit=args.unit,
                             period=args.period, level=_level(args.level))
    diagnosis = diagnose(source=source, report=report, against=args.against, lang="en")
    if diagnosis is None:
        raise CliError(f"unit {args.unit} has no responses in {args.period}")
    if args.json:
        out = diagnosis.to_dict()
        out["sentence"] = {"vi": change_sentence(diagnosis, "vi"),
                           "en": change_sentence(diagnosis, "en")}
        print_json(out)
        return 0
    print(f"{diagnosis.unit} {diagnosis.unit_name} · {diagnosis.period} · version "
          f"{diagnosis.version} · n = {diagnosis.n}")
    if diagnosis.baseline_period:
        print(f"against {diagnosis.baseline_period} (version {diagnosis.baseline_version}): "
              f"{change_sentence(diagnosis, 'en') or 'no decomposition'}")
    print(f"{'question':<9}{'points':>7}{'score':>8}{'lost':>7}  {'CI of score':<16}{'n':>5}"
          f"{'change':>9}{'p':>9}  status")
    for _, row in diagnosis.questions.iterrows():
        ci = ("—" if row.get("ci_low") != row.get("ci_low") else
              f"[{format_number(row['ci_low'], 2, 'en')}; {format_number(row['ci_high'], 2, 'en')}]")
        print(f"{row['code']:<9}{format_number(row.get('points'), 2, 'en'):>7}"
              f"{format_number(row.get('score'), 2, 'en'):>8}"
              f"{format_number(row.get('lost'), 2, 'en'):>7}  {ci:<16}"
              f"{format_number(row.get('n'), 0, 'en'):>5}"
              f"{format_signed(row.get('change'), 2, 'en'):>9}"
              f"{format_p(row.get('p_value'), 'en'):>9}  {row.get('status', '')}")
    return 0
