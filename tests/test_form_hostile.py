"""Hostile posts to the citizen's form (property-based, hypothesis, Starlette's TestClient).

Random and hostile submissions: random field names and values, SQL and HTML in every
field, fields sent twice, bodies too large, in other encodings or not UTF-8 at all,
other content types, random and tampered link tokens. The promises:

- every post ends in a clear page: the thank-you redirect for a valid form, else a
  4xx page that says what happened (never a 500, never a traceback);
- the status is the one the form rules give (an independent model of them below);
- nothing is half-written: a refused post changes no row, an accepted one adds one
  response with exactly the answers sent;
- text from the post or the database is escaped wherever the page shows it.

The database is the `db_url` fixture's (SQLite, and PostgreSQL when configured); the
examples of one test share it, so counts are compared before and after each post.
"""

from __future__ import annotations

import re
import string
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from live_server import form_fields, open_form_campaign, receipt_of
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from survey.db import make_engine, new_session
from survey.models import Response
from survey.questionnaire import load_questionnaire, shipped_questionnaire_paths
from survey.storage.responses import answers_by_response
from survey.webform.abuse import AbuseLimits
from survey.webform.http import MAX_FIELDS
from survey.webform.keys import form_key_nonce, idempotency_key
from survey.webform.render import KEEP_ANSWERS_SCRIPT
from survey.webform.routes import MAX_BODY_BYTES, form_routes

SECRET = "hostile-form-secret"
QUIET = AbuseLimits(burst_count=1_000_000, flood_per_minute=1_000_000)
FORM_TYPE = "application/x-www-form-urlencoded"
CHECKED = re.compile(r'<input type="radio" name="([^"]+)" value="([^"]*)" checked>')
HOSTILE_UNIT = 'Cục <script>alert("unit")</script> & <b onmouseover=x>Co</b>'
EXAMPLES = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HTML_PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "</textarea><iframe src=javascript:alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
]
PAYLOADS = HTML_PAYLOADS + [
    "' OR '1'='1",
    "'; DROP TABLE response; --",
    "1; DELETE FROM answer WHERE 1=1",
    "Robert'); DROP TABLE campaign;--",
    "{{ 7*7 }}{% raw %}",
    "${jndi:ldap://example.invalid/a}",
    "A\r\nSet-Cookie: x=1",
    "\x00",
    "../../etc/passwd",
    "%ff%fe",
    "Người dân đánh giá ư ơ đ",
    "\u202e\ufeff😀",
    "B" * 3000,
]
WORDS = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
HOSTILE = st.one_of(st.sampled_from(PAYLOADS), WORDS)

CONTENT_TYPES = [
    FORM_TYPE,
    f"{FORM_TYPE}; charset=UTF-8",
    "Application/X-WWW-Form-Urlencoded",
    "text/plain",
    "application/json",
    "multipart/form-data; boundary=xyz",
    "",
    f"{FORM_TYPE}-evil",
]
STATUS_TEXT = {  # a clear page says what happened, in Vietnamese or in English
    400: ("Phiếu gửi lên không hợp lệ", "The form sent is not valid"),
    413: ("Dữ liệu gửi lên quá lớn", "Too much data was sent"),
    422: ("câu chưa trả lời", "questions are not answered yet"),
}


def shipped(key: str):
    for path in shipped_questionnaire_paths():
        questionnaire = load_questionnaire(path)
        if questionnaire.key == key:
            return questionnaire
    raise LookupError(key)


QUESTIONNAIRE = shipped("dtxhh-haugiang@2024")
OPTIONS = {
    f"q_{code}": {option.code for option in QUESTIONNAIRE.scale_of(code).options}
    for code in QUESTIONNAIRE.question_codes
}
GROUPS = {group.code for group in QUESTIONNAIRE.groups}
KNOWN_FIELDS = {"k", "lang", "g", "website", *OPTIONS}


# --- an independent model of the form's rules ------------------------------------------


def expected_status(body: bytes, content_type: str, genuine_key: str) -> int:
    """What the form must answer to this body on a genuine link, from the rules it promises."""
    if len(body) > MAX_BODY_BYTES:
        return 413
    if content_type.split(";")[0].strip().lower() != FORM_TYPE:
        return 400
    try:  # a form body is UTF-8, urlencoded, at most MAX_FIELDS fields
        fields = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        return 400
    names = [name for name, _ in fields]
    values = dict(fields)
    if len(set(names)) != len(names) or not set(names) <= KNOWN_FIELDS:
        return 400
    if any(values[name] and values[name] not in OPTIONS[name] for name in OPTIONS.keys() & values):
        return 400
    if values.get("g") and values["g"] not in GROUPS:
        return 400
    if values.get("k") != genuine_key:
        return 400
    if not values.get("g") or any(not values.get(name) for name in OPTIONS):
        return 422
    return 303


# --- the app, its database and a post ----------------------------------------------------


class FormUnderTest:
    """The form's routes over the test database, with one open campaign."""

    def __init__(self, db_url: str):
        self.campaign_id, self.form_path = open_form_campaign(
            db_url, SECRET, unit_name=HOSTILE_UNIT
        )
        self.token = self.form_path.rsplit("/", 1)[1]
        self.engine = make_engine(db_url)
        app = Starlette(routes=form_routes(engine=self.engine, secret=SECRET.encode(), limits=QUIET))
        self.client = TestClient(app, raise_server_exceptions=False)

    def close(self) -> None:
        self.client.close()
        self.engine.dispose()

    def fresh_form(self) -> list[tuple[str, str]]:
        """A complete, valid form as a citizen would send it, with a new key."""
        page = self.client.get(self.form_path)
        assert page.status_code == 200
        return form_fields(page.text, choice=1)

    def counts(self) -> tuple[int, int]:
        with new_session(self.engine) as session:
            responses = session.exec(select(func.count()).select_from(Response)).one()
            answers = sum(map(len, answers_by_response(session=session).values()))
        return responses, answers

    def stored(self, key: str) -> tuple[Response, dict[str, str]] | None:
        nonce = form_key_nonce(key, self.campaign_id, SECRET.encode())
        with new_session(self.engine) as session:
            response = session.exec(
                select(Response).where(
                    Response.idempotency_key == idempotency_key(self.campaign_id, nonce)
                )
            ).first()
            if response is None:
                return None
            answers = answers_by_response(session=session, response_ids=[response.id])
        return response, answers[response.id]

    def post(self, body, content_type: str | None, *, token: str | None = None, path="gui", query=""):
        token = self.token if token is None else quote(token, safe="")
        url = f"/s/{token}/gui" if path == "gui" else f"/s/{token}"
        headers = {} if content_type is None else {"content-type": content_type}
        return self.client.post(
            url + query, content=body, headers=headers, follow_redirects=False
        )


@pytest.fixture
def form(db_url):
    under_test = FormUnderTest(db_url)
    yield under_test
    under_test.close()


def check_clear_page(page, expected: int, *, bad_link: bool = False) -> None:
    """The status expected, and a page a person can read: no traceback, all text escaped."""
    assert page.status_code == expected, page.text[:500]
    text = page.text
    assert "Traceback" not in text and 'File "' not in text
    if expected == 303:
        assert receipt_of(page.headers) is not None
        return
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1" in text
    if bad_link:
        assert "Đường dẫn không hợp lệ" in text or "This link is not valid" in text
    else:
        assert any(phrase in text for phrase in STATUS_TEXT[expected])
    for payload in HTML_PAYLOADS + [HOSTILE_UNIT]:
        assert payload not in text
    own_script = f"<script>{KEEP_ANSWERS_SCRIPT}</script>"  # the form's answer keeper, once
    assert text.count(own_script) == (1 if expected in (422, 503) else 0)
    for tag in ("<script", "<img", "<svg", "<iframe", "<b>", "<b "):  # no other
        assert tag not in text.replace(own_script, "").lower()
    if expected == 422:  # the form came back: the unit's name shown, escaped
        assert "&lt;script&gt;alert(&#34;unit&#34;)&lt;/script&gt; &amp; &lt;b" in text


def check_outcome(
    form: FormUnderTest, page, expected: int, fields, before, *, bad_link: bool = False
) -> None:
    """A refused post changes nothing; an accepted one stores exactly the answers sent."""
    check_clear_page(page, expected, bad_link=bad_link)
    if expected == 422:  # every answer given is still checked, nothing else
        given = {name: value for name, value in fields if name == "g" or name.startswith("q_")}
        assert dict(CHECKED.findall(page.text)) == {n: v for n, v in given.items() if v}
    after = form.counts()
    if expected != 303:
        assert after == before, "a refused post changed the database"
        return
    values = dict(fields)
    answers = {name[2:]: value for name, value in fields if name.startswith("q_")}
    assert after == (before[0] + 1, before[1] + len(answers))
    response, stored_answers = form.stored(values["k"])
    assert stored_answers == answers and response.group_code == values["g"]
    assert response.receipt == receipt_of(page.headers)
    assert response.flagged == bool(values.get("website"))


# --- the properties ------------------------------------------------------------------------


def change_fields(data, fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Apply a few random, mostly hostile, changes to a valid form's fields."""
    fields = list(fields)
    names = [name for name, _ in fields]
    for change in data.draw(
        st.lists(
            st.sampled_from(["value", "rename", "drop", "twice", "add", "everywhere", "many"]),
            max_size=3,
        ),
        label="changes",
    ):
        at = data.draw(st.integers(0, max(len(fields) - 1, 0)), label="at") if fields else 0
        if change == "value" and fields:
            fields[at] = (fields[at][0], data.draw(HOSTILE, label="value"))
        elif change == "rename" and fields:
            fields[at] = (data.draw(st.one_of(WORDS, st.sampled_from(names)), label="name"), fields[at][1])
        elif change == "drop" and fields:
            del fields[at]
        elif change == "twice" and fields:
            fields.insert(at, (fields[at][0], data.draw(HOSTILE, label="again")))
        elif change == "add":
            fields.append((data.draw(WORDS, label="new name"), data.draw(HOSTILE, label="new value")))
        elif change == "everywhere":  # the same payload in every field
            payload = data.draw(st.sampled_from(PAYLOADS), label="payload")
            fields = [(name, payload) for name, _ in fields]
        elif change == "many":
            fields += [(f"x{n}", "1") for n in range(MAX_FIELDS)]
    return fields


def encode(data, fields: list[tuple[str, str]]) -> bytes:
    """Urlencoded UTF-8 as browsers send it, or raw text in some encoding."""
    how = data.draw(
        st.one_of(
            st.just("urlencoded"),
            st.sampled_from(["urlencoded", "raw-utf-8", "cp1258", "latin-1", "utf-16"]),
        ),
        label="encoding",
    )
    if how == "urlencoded":
        return urlencode(fields).encode("ascii")
    raw = "&".join(f"{name}={value}" for name, value in fields)
    return raw.encode(how.removeprefix("raw-"), errors="replace")


@EXAMPLES
@given(data=st.data())
@example(data=None)  # one plain valid post, always tried
def test_hostile_posts_end_in_a_clear_page_and_never_a_partial_write(form, data):
    original = form.fresh_form()
    genuine_key = dict(original)["k"]
    if data is None:  # the plain valid post
        fields, body, content_type, path, query = original, urlencode(original).encode(), FORM_TYPE, "gui", ""
    else:
        fields = change_fields(data, original)
        body = encode(data, fields)
        content_type = data.draw(  # mostly the right type, so that the fields get judged
            st.one_of(st.just(FORM_TYPE), st.sampled_from(CONTENT_TYPES)), label="content type"
        )
        path = data.draw(st.sampled_from(["gui", "form"]), label="path")
        query = data.draw(st.sampled_from(["", "?lang=en", "?lang=%3Cscript%3E"]), label="query")
    before = form.counts()
    page = form.post(body, content_type, path=path, query=query)
    expected = expected_status(body, content_type, genuine_key)
    event(f"status {expected}")
    sent = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    check_outcome(form, page, expected, sent, before)


@EXAMPLES
@given(
    body=st.one_of(
        st.binary(max_size=3000),
        WORDS.map(lambda text: text.encode("utf-8")),
        st.lists(st.tuples(WORDS, HOSTILE), max_size=40).map(lambda f: urlencode(f).encode()),
    )
)
def test_random_bodies_are_refused_cleanly(form, body):
    genuine_key = dict(form.fresh_form())["k"]
    before = form.counts()
    page = form.post(body, FORM_TYPE)
    expected = expected_status(body, FORM_TYPE, genuine_key)
    assert expected != 303
    check_outcome(form, page, expected, [], before)


TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"


def tampered(data, token: str) -> str:
    how = data.draw(st.sampled_from(["flip", "cut", "extend", "swap", "random"]), label="how")
    at = data.draw(st.integers(0, len(token) - 1), label="at")
    if how == "flip":
        other = data.draw(st.sampled_from(TOKEN_ALPHABET.replace(token[at], "")), label="to")
        return token[:at] + other + token[at + 1 :]
    if how == "cut":
        return token[:at] or token[:1]
    if how == "extend":
        return token + data.draw(st.text(TOKEN_ALPHABET, min_size=1, max_size=8), label="more")
    if how == "swap":
        swapped = token[:at] + token[at:][::-1]
        return swapped if swapped != token else token[::-1]
    return data.draw(st.text(TOKEN_ALPHABET, min_size=32, max_size=32), label="random")


@EXAMPLES
@given(data=st.data())
def test_random_and_tampered_tokens_are_refused(form, data):
    token = data.draw(
        st.one_of(
            st.none(),  # a tampered real token, drawn below
            st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60).filter(
                lambda t: t.strip(".") and "/" not in t
            ),
        ),
        label="token",
    )
    if token is None:
        token = tampered(data, form.token)
    assert token != form.token
    fields = form.fresh_form()
    before = form.counts()
    for page in (
        form.client.get(f"/s/{quote(token, safe='')}"),
        form.client.get(f"/s/{quote(token, safe='')}/cam-on"),
        form.post(urlencode(fields).encode(), FORM_TYPE, token=token),
        form.post(urlencode(fields).encode(), FORM_TYPE, token=token, path="form"),
    ):
        check_outcome(form, page, 400, fields, before, bad_link=True)


@settings(EXAMPLES, max_examples=25)
@given(
    size=st.one_of(
        st.integers(MAX_BODY_BYTES - 5, MAX_BODY_BYTES + 5),
        st.integers(MAX_BODY_BYTES + 6, 5 * MAX_BODY_BYTES),
    ),
    chunked=st.booleans(),
)
def test_bodies_over_the_limit_are_refused_with_413(form, size, chunked):
    fields = [(n, v) for n, v in form.fresh_form() if n != "website"]
    padding = size - len(urlencode([*fields, ("website", "")]).encode())
    fields.append(("website", "x" * padding))  # a bot's honeypot: stored flagged if accepted
    body = urlencode(fields).encode()
    assert len(body) == size
    before = form.counts()
    content = iter([body[at : at + 8192] for at in range(0, size, 8192)]) if chunked else body
    page = form.post(content, FORM_TYPE)
    check_outcome(form, page, 413 if size > MAX_BODY_BYTES else 303, fields, before)


# --- known hostile posts, each checked by name -----------------------------------------------


def _everywhere(payload):
    return lambda fields: [(name, payload) for name, _ in fields]


def _set(name, value):
    return lambda fields: [(n, value if n == name else v) for n, v in fields]


KNOWN = {
    "sql in every field": (_everywhere("'; DROP TABLE response; --"), None, 400),
    "html in every field": (_everywhere('"><script>alert(1)</script>'), None, 400),
    "sql as an answer": (_set("q_1.1", "A' OR '1'='1"), None, 400),
    "html as the group": (_set("g", "<img src=x onerror=alert(1)>"), None, 400),
    "html as the key": (_set("k", '"><script>alert(1)</script>'), None, 400),
    "html in lang and the honeypot": (  # both free text: the form is still valid
        lambda f: _set("website", "<script>alert(1)</script>")(_set("lang", "<b>en</b>")(f)),
        None,
        303,
    ),
    "a field twice, same value": (lambda f: [*f, f[-1]], None, 400),
    "the key twice": (lambda f: [*f, ("k", dict(f)["k"])], None, 400),
    "an unknown field": (lambda f: [*f, ("email", "a@b.c")], None, 400),
    "no key": (lambda f: [(n, v) for n, v in f if n != "k"], None, 400),
    "answers missing": (lambda f: [(n, v) for n, v in f if n not in ("q_2.1", "g")], None, 422),
    "too many fields": (lambda f: [*f, *[(f"x{n}", "") for n in range(MAX_FIELDS)]], None, 400),
    "json": (lambda f: f, "application/json", 400),
    "multipart": (lambda f: f, "multipart/form-data; boundary=x", 400),
    "no content type": (lambda f: f, None, 400),
}


@pytest.mark.parametrize("case", list(KNOWN))
def test_known_hostile_posts(form, case):
    change, content_type, expected = KNOWN[case]
    fields = change(form.fresh_form())
    before = form.counts()
    body = urlencode(fields).encode()
    if case == "no content type":
        page = form.post(body, None)
    else:
        page = form.post(body, content_type or FORM_TYPE)
    check_outcome(form, page, expected, fields, before)


@pytest.mark.parametrize(
    "body",
    [
        b"k=\xff\xfe&lang=vi",  # not UTF-8
        "g=Đánh giá".encode("cp1258"),  # a Vietnamese legacy code page
        "g=Người dân".encode("utf-16"),
        b"k=%ff%fe&lang=vi",  # an escape that is not UTF-8
        b"\x00" * 100,
    ],
)
def test_wrong_encodings_are_refused(form, body):
    fields = form.fresh_form()
    before = form.counts()
    page = form.post(body + b"&" + urlencode(fields[1:]).encode(), FORM_TYPE)
    check_outcome(form, page, 400, fields, before)
