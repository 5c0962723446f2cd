"""The submitted citizen's form: its fields checked against the questionnaire."""

from __future__ import annotations

from dataclasses import dataclass

from survey.answer_codes import codec_of
from survey.questionnaire import Questionnaire
from survey.webform.abuse import HONEYPOT_FIELD
from survey.webform.http import BadSubmission
from survey.webform.render import GROUP_FIELD, KEY_FIELD, LANG_FIELD, QUESTION_PREFIX, normal_lang


@dataclass(frozen=True)
class Submission:
    form_key: str
    lang: str
    group: str | None
    answers: dict[str, str]
    honeypot: str


def parse_submission(fields: list[tuple[str, str]], questionnaire: Questionnaire) -> Submission:
    """Check every field against the questionnaire; unanswered questions are allowed here."""
    seen: set[str] = set()
    values: dict[str, str] = {}
    answers: dict[str, str] = {}
    for name, value in fields:
        if name in seen:
            raise BadSubmission(f"field {name!r} was sent twice")
        seen.add(name)
        code = name.removeprefix(QUESTION_PREFIX)
        if name.startswith(QUESTION_PREFIX) and questionnaire.question(code) is not None:
            if value:
                answers[code] = value
        elif name in (KEY_FIELD, LANG_FIELD, GROUP_FIELD, HONEYPOT_FIELD):
            values[name] = value
        else:
            raise BadSubmission(f"unknown field {name!r}")
    if KEY_FIELD not in values:
        raise BadSubmission("the form key is missing")
    group = values.get(GROUP_FIELD) or None
    # The questionnaire's one validator; a missing group is the form's to ask for, not an error.
    problems = [problem for problem in codec_of(questionnaire).problems(group, answers)
                if not (problem.code == "unknown_group" and group is None)]
    if problems:
        raise BadSubmission(str(problems[0]))
    return Submission(
        form_key=values[KEY_FIELD],
        lang=normal_lang(values.get(LANG_FIELD)),
        group=group,
        answers=answers,
        honeypot=values.get(HONEYPOT_FIELD, ""),
    )


def missing_answers(submission: Submission, questionnaire: Questionnaire) -> frozenset[str]:
    """Codes of unanswered questions, plus 'group' when the group is needed and missing."""
    missing = {code for code in questionnaire.question_codes if code not in submission.answers}
    if questionnaire.groups and submission.group is None:
        missing.add("group")
    return frozenset(missing)


