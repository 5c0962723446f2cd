"""HTML of the citizen's form, its thank-you page and its error pages.

Server-rendered with Jinja2 (autoescaping on), one inline stylesheet, no external
resource: the page is usable with JavaScript off, on a 320 px screen, over a slow
connection. The form carries one small inline script (templates/keep_answers.js, allowed
by its hash in the page's CSP) that keeps the answers on the device and retries a failed
submission with the same key.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from survey.periods import parse_period
from survey.questionnaire import Questionnaire
from survey.text import Text
from survey.webform.abuse import HONEYPOT_FIELD

TEMPLATES = Path(__file__).resolve().parent / "templates"
GROUP_FIELD = "g"
KEY_FIELD = "k"
LANG_FIELD = "lang"
QUESTION_PREFIX = "q_"
SECONDS_PER_QUESTION = 12
KEEP_ANSWERS_SCRIPT = (TEMPLATES / "keep_answers.js").read_text(encoding="utf-8")
# The form's CSP allows this one script by its hash (survey/webform/http.py).
KEEP_ANSWERS_HASH = "sha256-" + base64.b64encode(
    hashlib.sha256(KEEP_ANSWERS_SCRIPT.encode("utf-8")).digest()).decode("ascii")


def question_field(code: str) -> str:
    """The form field of a question: 'q_1.1'."""
    return QUESTION_PREFIX + code


def normal_lang(value: str | None) -> str:
    """'en' when asked for English, else 'vi'."""
    return "en" if value == "en" else "vi"


UI = {
    "anonymous": Text(
        "Phiếu không ghi tên; câu trả lời của Ông/Bà được giữ kín.",
        "Anonymous: your name is not asked and your answers are kept confidential.",
    ),
    "switch": Text("English", "Tiếng Việt"),
    "size": Text("{n} câu hỏi · khoảng {m} phút", "{n} questions · about {m} minutes"),
    "about_you": Text("Thông tin người trả lời", "About you"),
    "group_question": Text("Ông/Bà trả lời phiếu với tư cách là:", "You are answering as:"),
    "part": Text("Phần {i}/{n}", "Part {i} of {n}"),
    "question": Text("Câu {i}/{n}", "Question {i} of {n}"),
    "submit": Text("Gửi phiếu", "Submit"),
    "missing_summary": Text(
        "Còn {n} câu chưa trả lời. Vui lòng trả lời các câu được đánh dấu đỏ:",
        "{n} questions are not answered yet. Please answer the ones marked in red:",
    ),
    "missing_one": Text("Vui lòng chọn một câu trả lời.", "Please choose an answer."),
    "missing_group": Text("Nhóm người trả lời", "Who you are answering as"),
    "retry": Text(
        "Hệ thống đang bận nên chưa lưu được phiếu. Các câu trả lời của Ông/Bà vẫn còn "
        "nguyên; vui lòng thử lại sau ít phút bằng nút «Gửi phiếu».",
        "The system is busy and could not save your form yet. Your answers are kept; "
        "please try again in a few minutes with the «Submit» button.",
    ),
    "honeypot": Text("Trang web", "Website"),
    "thanks_title": Text("Cảm ơn Ông/Bà!", "Thank you!"),
    "thanks_body": Text(
        "Phiếu khảo sát của Ông/Bà đã được ghi nhận.", "Your answers have been recorded."
    ),
    "receipt": Text("Mã biên nhận", "Receipt code"),
    "receipt_note": Text(
        "Nếu gửi lại, Ông/Bà sẽ thấy cùng mã này: phiếu không bị ghi hai lần. "
        "Ông/Bà có thể đóng trang này.",
        "Sending again shows this same code: your form is never counted twice. "
        "You may close this page.",
    ),
    "thanks_no_receipt": Text(
        "Trang này chỉ hiện mã biên nhận trong ít phút sau khi gửi phiếu, trên chính máy đã gửi.",
        "This page shows the receipt code only for a few minutes after the form is sent, on the "
        "device that sent it.",
    ),
    "thanks_no_receipt_note": Text(
        "Nếu Ông/Bà đã gửi phiếu và thấy trang cảm ơn, phiếu đã được ghi nhận; không cần gửi "
        "lại. Nếu chưa gửi phiếu, vui lòng mở lại đường dẫn khảo sát.",
        "If you sent the form and saw the thank-you page, your answers were recorded; there is "
        "no need to send them again. If you have not sent the form yet, please open the survey "
        "link again.",
    ),
    "try_again": Text("Thử lại", "Try again"),
    "offline": Text(
        "Chưa gửi được phiếu vì kết nối bị gián đoạn. Các câu trả lời vẫn được giữ trên máy này "
        "và phiếu sẽ được tự động gửi lại; Ông/Bà cũng có thể bấm «Gửi phiếu» lần nữa. "
        "Phiếu không bị ghi hai lần.",
        "The form could not be sent: the connection was interrupted. Your answers are kept on "
        "this device and the form will be sent again automatically; you may also press "
        "«Submit» again. It is never counted twice.",
    ),
    "used_title": Text("Phiếu này đã được trả lời", "This form has already been answered"),
    "used_body": Text(
        "Đường dẫn này chỉ dùng cho một lần trả lời, và phiếu của đường dẫn này đã được gửi. "
        "Không có gì được ghi thêm.",
        "This link is for one answer only, and the form of this link has been sent. "
        "Nothing more was recorded.",
    ),
    "used_no_receipt": Text(
        "Nếu Ông/Bà đã gửi phiếu trên một máy khác, mã biên nhận hiện trên máy đó.",
        "If you sent the form on another device, the receipt code is shown there.",
    ),
}


@dataclass(frozen=True)
class Message:
    """An error page: HTTP status, title, what happened, what to do."""

    status: int
    title: Text
    body: Text
    action: Text


_SCAN_AGAIN = Text(
    "Vui lòng quét lại mã QR, hoặc gõ lại đường dẫn đúng như trên áp phích.",
    "Please scan the QR code again, or retype the link exactly as printed on the poster.",
)

MESSAGES: dict[str, Message] = {
    "staff_not_found": Message(
        404,
        Text("Không tìm thấy trang", "Page not found"),
        Text(
            "Địa chỉ này không phải một trang của hệ thống khảo sát.",
            "This address is not a page of the survey system.",
        ),
        Text(
            "Hãy mở trang Tổng quan, rồi chọn trang cần xem ở thanh bên.",
            "Open the overview, then choose a page in the sidebar.",
        ),
    ),
    "not_found": Message(
        404,
        Text("Không tìm thấy trang", "Page not found"),
        Text(
            "Địa chỉ này không dẫn tới phiếu khảo sát nào.",
            "This address does not lead to any survey form.",
        ),
        _SCAN_AGAIN,
    ),
    "tampered": Message(
        400,
        Text("Đường dẫn không hợp lệ", "This link is not valid"),
        Text(
            "Đường dẫn khảo sát bị sai hoặc không đầy đủ.",
            "The survey link is wrong or incomplete.",
        ),
        _SCAN_AGAIN,
    ),
    "expired": Message(
        410,
        Text("Đường dẫn đã hết hạn", "This link has expired"),
        Text(
            "Thời hạn khảo sát của đường dẫn này đã hết.", "The survey period of this link is over."
        ),
        Text(
            "Vui lòng quét mã QR mới tại bộ phận một cửa, hoặc hỏi cán bộ của cơ quan.",
            "Please scan the current QR code at the one-stop desk, or ask the office's staff.",
        ),
    ),
    "closed": Message(
        410,
        Text("Đợt khảo sát đã kết thúc", "This survey has ended"),
        Text(
            "Đợt khảo sát này đã kết thúc. Cảm ơn Ông/Bà đã quan tâm.",
            "This survey round has ended. Thank you for your interest.",
        ),
        Text(
            "Khi cơ quan mở đợt khảo sát mới, vui lòng quét mã QR mới.",
            "When the office opens a new survey round, please scan its new QR code.",
        ),
    ),
    "revoked": Message(
        410,
        Text("Đường dẫn đã bị thu hồi", "This link was withdrawn"),
        Text(
            "Cơ quan đã thu hồi đường dẫn khảo sát này.",
            "The office has withdrawn this survey link.",
        ),
        Text(
            "Vui lòng quét mã QR đang niêm yết tại cơ quan, hoặc hỏi cán bộ của cơ quan.",
            "Please scan the QR code displayed at the office, or ask the office's staff.",
        ),
    ),
    "rotated": Message(
        410,
        Text("Đường dẫn đã được thay mới", "This link has been replaced"),
        Text(
            "Cơ quan đã cấp đường dẫn mới cho đợt khảo sát này; đường dẫn cũ không còn dùng được.",
            "The office has issued a new link for this survey; the old one no longer works.",
        ),
        Text(
            "Vui lòng quét mã QR mới đang niêm yết tại cơ quan.",
            "Please scan the new QR code displayed at the office.",
        ),
    ),
    "unknown": Message(
        404,
        Text("Không tìm thấy đợt khảo sát", "Survey not found"),
        Text("Không tìm thấy đợt khảo sát của đường dẫn này.", "No survey matches this link."),
        Text(
            "Vui lòng quét mã QR đang niêm yết tại cơ quan.",
            "Please scan the QR code displayed at the office.",
        ),
    ),
    "bad_request": Message(
        400,
        Text("Phiếu gửi lên không hợp lệ", "The form sent is not valid"),
        Text(
            "Phiếu gửi lên có nội dung không đúng với mẫu phiếu nên chưa được lưu.",
            "The form sent does not match the questionnaire, so nothing was saved.",
        ),
        Text(
            "Vui lòng mở lại đường dẫn khảo sát và điền lại phiếu.",
            "Please open the survey link again and fill in the form.",
        ),
    ),
    "too_large": Message(
        413,
        Text("Dữ liệu gửi lên quá lớn", "Too much data was sent"),
        Text(
            "Phiếu gửi lên lớn bất thường nên không được nhận; chưa có gì được lưu.",
            "The form sent was unusually large and was refused; nothing was saved.",
        ),
        Text(
            "Vui lòng mở lại đường dẫn khảo sát và điền lại phiếu.",
            "Please open the survey link again and fill in the form.",
        ),
    ),
    "flood": Message(
        429,
        Text("Quá nhiều lượt gửi", "Too many submissions"),
        Text(
            "Có quá nhiều phiếu được gửi từ cùng một mạng trong thời gian ngắn; phiếu này chưa được lưu.",
            "Too many forms were sent from the same network in a short time; this one was not saved.",
        ),
        Text("Vui lòng chờ vài phút rồi thử lại.", "Please wait a few minutes and try again."),
    ),
    "error": Message(
        500,
        Text("Đã có lỗi xảy ra", "Something went wrong"),
        Text(
            "Hệ thống gặp lỗi ngoài ý muốn; phiếu chưa được lưu.",
            "The system hit an unexpected error; the form was not saved.",
        ),
        Text("Vui lòng thử lại sau ít phút.", "Please try again in a few minutes."),
    ),
    "unavailable": Message(
        503,
        Text("Hệ thống đang bận", "The system is busy"),
        Text(
            "Hệ thống tạm thời chưa truy cập được dữ liệu; chưa có gì được lưu.",
            "The system cannot reach its data right now; nothing was saved.",
        ),
        Text("Vui lòng thử lại sau ít phút.", "Please try again in a few minutes."),
    ),
}


@cache
def template_environment() -> Environment:
    """The Jinja2 environment of the light pages (autoescaped, strict)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _ui(lang: str) -> dict[str, str]:
    return {name: text.get(lang) for name, text in UI.items()}


@dataclass(frozen=True)
class FormHeader:
    """What the top of every page of a campaign shows."""

    unit_name: str
    period: str  # a quarter label, e.g. 2024-Q3
    questionnaire: Questionnaire

    def period_label(self, lang: str) -> str:
        return parse_period(self.period).label(lang)


@dataclass(frozen=True)
class FormState:
    """A form as the citizen left it: answers so far, what is missing, the hidden key."""

    form_key: str
    lang: str = "vi"
    group: str | None = None
    answers: Mapping[str, str] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()  # question codes, and "group"
    notice: str | None = None  # "retry" after a failed save


def _option_rows(
    questionnaire: Questionnaire, code: str, chosen: str | None, lang: str
) -> list[dict]:
    return [
        {
            "code": option.code,
            "label": option.label.get(lang),
            "no_opinion": option.score is None,
            "checked": option.code == chosen,
        }
        for option in questionnaire.scale_of(code).options
    ]


def _sections(header: FormHeader, state: FormState) -> list[dict]:
    questionnaire, lang = header.questionnaire, state.lang
    total = len(questionnaire.questions)
    number = 0
    sections = []
    for criterion in questionnaire.criteria:
        questions = []
        for question in criterion.questions:
            number += 1
            questions.append(
                {
                    "code": question.code,
                    "field": question_field(question.code),
                    "number": number,
                    "counter": UI["question"].get(lang).format(i=number, n=total),
                    "text": question.text.get(lang),
                    "help": question.help.get(lang) if question.help else "",
                    "missing": question.code in state.missing,
                    "options": _option_rows(
                        questionnaire, question.code, state.answers.get(question.code), lang
                    ),
                }
            )
        sections.append({"title": criterion.title.get(lang), "questions": questions})
    for index, section in enumerate(sections, start=1):
        section["part"] = UI["part"].get(lang).format(i=index, n=len(sections))
    return sections


@dataclass(frozen=True)
class FormLinks:
    """Where the form posts and where the form page is, relative to the current page.

    Relative links keep working when a proxy serves the app under a path prefix.
    """

    action: str = ""  # empty: post to the current address
    form: str = ""  # empty: the current address


def render_form(header: FormHeader, state: FormState, links: FormLinks = FormLinks()) -> str:
    """The form, with the citizen's answers checked and missing questions marked."""
    lang = state.lang
    questionnaire = header.questionnaire
    total = len(questionnaire.questions)
    sections = _sections(header, state)
    missing_links = []
    if "group" in state.missing:
        missing_links.append(("g", UI["missing_group"].get(lang)))
    for section in sections:
        missing_links += [
            (f"q-{q['code']}", q["counter"]) for q in section["questions"] if q["missing"]
        ]
    groups = [
        {"code": g.code, "label": g.label.get(lang), "checked": g.code == state.group}
        for g in questionnaire.groups
    ]
    return (
        template_environment()
        .get_template("form.html")
        .render(
            lang=lang,
            ui=_ui(lang),
            title=questionnaire.title.get(lang),
            unit_name=header.unit_name,
            period_label=header.period_label(lang),
            size=UI["size"]
            .get(lang)
            .format(n=total, m=max(1, round(total * SECONDS_PER_QUESTION / 60))),
            switch_href=f"{links.form}?lang=" + ("vi" if lang == "en" else "en"),
            action=links.action,
            groups=groups,
            group_missing="group" in state.missing,
            sections=sections,
            missing_links=missing_links,
            missing_count=len(missing_links),
            notice=UI[state.notice].get(lang) if state.notice else "",
            form_key=state.form_key,
            fields={"group": GROUP_FIELD, "key": KEY_FIELD, "lang": LANG_FIELD},
            honeypot_field=HONEYPOT_FIELD,
            script=Markup(KEEP_ANSWERS_SCRIPT),  # noqa: S704 - our own file, allowed by hash
        )
    )


def render_thanks(*, receipt: str, lang: str, header: FormHeader | None = None) -> str:
    """The thank-you page with the receipt code; without one ("") a page that neither claims
    a form was recorded nor says one was lost."""
    return (
        template_environment()
        .get_template("thanks.html")
        .render(
            lang=lang,
            ui=_ui(lang),
            title=UI["thanks_title"].get(lang),
            unit_name=header.unit_name if header else "",
            period_label=header.period_label(lang) if header else "",
            receipt=receipt,
        )
    )


def render_used(*, receipt: str, lang: str, header: FormHeader | None = None) -> str:
    """The page of a used single-use link: "phiếu này đã được trả lời", with the receipt
    when this browser kept it."""
    return (
        template_environment()
        .get_template("used.html")
        .render(
            lang=lang,
            ui=_ui(lang),
            title=UI["used_title"].get(lang),
            unit_name=header.unit_name if header else "",
            period_label=header.period_label(lang) if header else "",
            receipt=receipt,
        )
    )


def render_message(
    kind: str, *, lang: str = "vi", retry_href: str | None = None, link_label: Text | None = None
) -> tuple[int, str]:
    """(HTTP status, page) of an error page: what happened and what to do (and a button to
    `retry_href`, labelled "Thử lại" unless `link_label` says otherwise)."""
    message = MESSAGES[kind]
    ui = _ui(lang)
    if link_label is not None:
        ui["try_again"] = link_label.get(lang)
    page = (
        template_environment()
        .get_template("message.html")
        .render(
            lang=lang,
            ui=ui,
            title=message.title.get(lang),
            body=message.body.get(lang),
            action=message.action.get(lang),
            retry_href=retry_href or "",
        )
    )
    return message.status, page
