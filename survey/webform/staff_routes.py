"""Staff sign-in and sign-out as light Starlette routes, served beside the Streamlit app.

    GET  /dang-nhap               the sign-in form (Vietnamese; ?lang=en for English)
    POST /dang-nhap               check the credentials (survey.auth.authenticate: growing
                                  delays, audit); success → `survey_session` cookie, 303 to /
    POST /dang-nhap/doi-mat-khau  first sign-in with a one-time password: the new password,
                                  then the session (the password form comes first)
    GET  /dang-xuat               revoke the session, clear the cookie, 303 to /dang-nhap

The session cookie holds a random token whose SHA-256 is the server-side `StaffSession`
(`survey.sessions`); the Streamlit pages read it through `st.context.cookies`. It is
HttpOnly, SameSite=Strict, Path=/, and Secure when the request came over https.

Cross-site request forgery: the forms carry a signed token bound to a random value in a
SameSite=Strict, HttpOnly cookie (`survey_csrf`, path /dang-nhap), so a page on another
site can neither sign a browser in (into the attacker's account) nor replay a form. The
password-change form also carries a short-lived ticket signed over the user's current
password hash, so it works once, for the user who has just authenticated, in this browser.
Sign-out only acts on the cookie the browser sends, which a SameSite=Strict cookie is not
on a navigation from another site: a foreign link cannot sign anyone out.

Pages are server-rendered (Jinja2, autoescaped), no script, the citizen form's look.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from survey.auth import (
    MIN_PASSWORD_LENGTH,
    PASSWORD_PROBLEMS,
    LoginRefused,
    authenticate,
    password_problem,
    set_password,
    verify_password,
)
from survey.config import settings
from survey.db import new_session
from survey.login_guard import HashingBusy, HashingGate, SignInGuard, shared_gate, shared_guard
from survey.models import User
from survey.sessions import COOKIE_NAME, SessionPolicy, end_session, resume_session, start_session
from survey.storage.users import get_user, list_users
from survey.text import Text
from survey.webform.http import (
    BadSubmission,
    BodyTooLarge,
    ServerResources,
    b64,
    parse_fields,
    read_body,
)
from survey.webform.peer import request_address
from survey.webform.render import UI, normal_lang, template_environment

_LOG = logging.getLogger(__name__)

LOGIN_PATH = "/dang-nhap"
PASSWORD_PATH = "/dang-nhap/doi-mat-khau"
LOGOUT_PATH = "/dang-xuat"
HOME_PATH = "/"
CSRF_COOKIE = "survey_csrf"
CSRF_FIELD = "csrf"
CSRF_MAX_AGE = 2 * 60 * 60  # seconds a sign-in form stays usable
TICKET_MAX_AGE = 15 * 60  # seconds to choose the new password after a one-time sign-in
MAX_BODY_BYTES = 16 * 1024
MAX_USERNAME = 80
MAX_PASSWORD = 1024  # longer is refused before hashing (no hashing of megabytes)

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

TEXT = {
    "app_name": Text("Khảo sát CCHC", "PAR survey"),
    "switch": UI["switch"],
    "title": Text("Đăng nhập cán bộ", "Staff sign-in"),
    "intro": Text(
        "Dành cho cán bộ quản lý khảo sát. Người dân trả lời phiếu qua mã QR, không cần tài khoản.",
        "For survey staff. Citizens answer through QR codes and need no account.",
    ),
    "username": Text("Tên đăng nhập", "Username"),
    "password": Text("Mật khẩu", "Password"),
    "sign_in": Text("Đăng nhập", "Sign in"),
    "idle_note": Text(
        "Bạn vẫn đăng nhập khi tải lại trang; hệ thống tự đăng xuất sau {m} phút không "
        "thao tác. Dùng máy chung: nhớ bấm «Đăng xuất».",
        "You stay signed in when you reload the page, and are signed out after {m} idle "
        "minutes. On a shared computer, remember to sign out.",
    ),
    "no_account": Text(
        "Chưa có tài khoản nào. Quản trị viên tạo tài khoản đầu tiên trên máy chủ bằng lệnh:",
        "There is no account yet. The administrator creates the first one on the server with:",
    ),
    "wrong": Text("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."),
    "throttled": Text(
        "Đăng nhập sai nhiều lần. Vui lòng thử lại sau {s} giây.",
        "Too many failed attempts. Please try again in {s} seconds.",
    ),
    "missing": Text(
        "Vui lòng nhập tên đăng nhập và mật khẩu.", "Please enter your username and password."
    ),
    "csrf": Text(
        "Trang đăng nhập đã hết hạn hoặc trình duyệt đang chặn cookie. Vui lòng thử lại "
        "(cần bật cookie để đăng nhập).",
        "The sign-in page expired or your browser blocks cookies. Please try again "
        "(signing in needs cookies).",
    ),
    "bad_request": Text(
        "Yêu cầu không hợp lệ. Vui lòng đăng nhập lại.",
        "The request is not valid. Please sign in again.",
    ),
    "hashing_busy": Text(
        "Đang có nhiều lượt đăng nhập cùng lúc. Vui lòng đợi vài giây rồi thử lại.",
        "Too many sign-ins are being checked at this moment. Please wait a few seconds and "
        "try again.",
    ),
    "busy": Text(
        "Hệ thống đang bận, chưa đăng nhập được. Vui lòng thử lại sau ít phút.",
        "The system is busy and could not sign you in. Please try again in a few minutes.",
    ),
    "error": Text(
        "Đã có lỗi ngoài dự kiến. Vui lòng thử lại.",
        "An unexpected error occurred. Please try again.",
    ),
    "ticket": Text(
        "Đã hết thời gian đặt mật khẩu mới. Vui lòng đăng nhập lại bằng mật khẩu dùng một lần.",
        "The time to choose a new password has run out. Please sign in again with the "
        "one-time password.",
    ),
    "password_title": Text("Đặt mật khẩu mới", "Choose a new password"),
    "password_intro": Text(
        "Bạn đăng nhập lần đầu bằng mật khẩu dùng một lần. Hãy đặt mật khẩu mới (ít nhất {n} "
        "ký tự) để tiếp tục.",
        "You signed in with a one-time password. Choose a new password (at least {n} "
        "characters) to continue.",
    ),
    "account": Text("Tài khoản", "Account"),
    "new_password": Text("Mật khẩu mới", "New password"),
    "repeat_password": Text("Nhập lại mật khẩu mới", "Repeat the new password"),
    "save_password": Text("Lưu mật khẩu và đăng nhập", "Save the password and sign in"),
    "differ": Text("Hai mật khẩu không khớp.", "The two passwords differ."),
    "too_long": Text("Mật khẩu quá dài.", "The password is too long."),
    "same": Text(
        "Mật khẩu mới phải khác mật khẩu dùng một lần.",
        "The new password must differ from the one-time password.",
    ),
}


def _ui(lang: str) -> dict[str, str]:
    return {name: text.get(lang) for name, text in TEXT.items()}


def _is_nonce(value: str | None) -> bool:
    """A CSRF cookie value as this module makes them: 16 random bytes, URL-safe base64."""
    return (
        value is not None
        and len(value) == 22
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)
    )


def _lang_query(lang: str, next_path: str = HOME_PATH) -> str:
    parts = (["lang=en"] if lang == "en" else []) + (
        [f"next={quote(next_path, safe='/')}"] if next_path != HOME_PATH else [])
    return "?" + "&".join(parts) if parts else ""


_NEXT = re.compile(r"^/[a-z0-9-]{1,40}(\?[A-Za-z0-9_.~%+=&-]{1,300})?$")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a page address of this app, with the choices of its
    query kept ('/diem-don-vi?unit=HG01&period=2024-Q4'), else '/' (never another site)."""
    if value and _NEXT.match(value) and not value.startswith(("/dang-nhap", "/dang-xuat", "/s/")):
        return value
    return HOME_PATH


@dataclass(frozen=True)
class Outcome:
    """What a handler decided: a page (with status) or a redirect, and the cookie to set."""

    page: str = ""
    status: int = 200
    location: str | None = None
    session_token: str | None = None  # set the session cookie to this
    headers: dict[str, str] | None = None


class StaffService(ServerResources):
    """The sign-in pages' handlers, with their engine, secret and session policy."""

    def __init__(
        self,
        *,
        engine: Engine | None = None,
        secret: bytes | None = None,
        policy: SessionPolicy | None = None,
        trust_proxy: bool | None = None,
        guard: SignInGuard | None = None,
        gate: HashingGate | None = None,
    ):
        super().__init__(engine=engine, secret=secret)
        self._policy = policy
        self.trust_proxy = settings().trust_proxy if trust_proxy is None else trust_proxy
        self.guard = guard or shared_guard()
        self.gate = gate or shared_gate()

    @property
    def policy(self) -> SessionPolicy:
        return self._policy or SessionPolicy.from_env()

    # -- signed values ------------------------------------------------------------------

    def _mac(self, *parts: str) -> str:
        message = "|".join(parts).encode("utf-8")
        return b64(hmac.new(self.secret, message, hashlib.sha256).digest()[:18])

    def csrf_token(self, nonce: str, issued: int | None = None) -> str:
        """The form's token for the browser holding `nonce` in its CSRF cookie."""
        issued = int(time.time()) if issued is None else issued
        return f"{issued}.{self._mac('staff-csrf', nonce, str(issued))}"

    def csrf_ok(self, nonce: str | None, token: str) -> bool:
        issued, _, mac = token.partition(".")
        if not _is_nonce(nonce) or not issued.isdigit():
            return False
        if not 0 <= time.time() - int(issued) <= CSRF_MAX_AGE:
            return False
        return hmac.compare_digest(mac, self._mac("staff-csrf", nonce, issued))

    def _ticket_mac(self, nonce: str, user: User, issued: str) -> str:
        fingerprint = hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()
        return self._mac("staff-password-change", nonce, user.username, issued, fingerprint)

    def ticket(self, nonce: str, user: User) -> str:
        """Proof that `user` has just authenticated with the one-time password in this browser;
        void once the password changes or after TICKET_MAX_AGE seconds."""
        issued = str(int(time.time()))
        return f"{issued}.{self._ticket_mac(nonce, user, issued)}"

    def ticket_ok(self, nonce: str, user: User | None, ticket: str) -> bool:
        issued, _, mac = ticket.partition(".")
        if user is None or not user.active or not user.must_change_password or not issued.isdigit():
            return False
        if not 0 <= time.time() - int(issued) <= TICKET_MAX_AGE:
            return False
        return hmac.compare_digest(mac, self._ticket_mac(nonce, user, issued))

    # -- pages --------------------------------------------------------------------------

    def _has_users(self) -> bool:
        try:
            with new_session(self.engine) as session:
                return bool(list_users(session=session))
        except OperationalError:
            return True

    def login_page(
        self, lang: str, nonce: str, *, username: str = "", error: str = "", status: int = 200,
        headers: dict[str, str] | None = None, next_path: str = HOME_PATH,
    ) -> Outcome:
        minutes = self.policy.idle.total_seconds() / 60
        page = template_environment().get_template("staff_login.html").render(
            lang=lang,
            ui=_ui(lang),
            title=TEXT["title"].get(lang),
            intro=TEXT["intro"].get(lang),
            switch_href=LOGIN_PATH + ("?lang=vi" if lang == "en" else "?lang=en"),
            error=error,
            notice="",
            first_admin_hint=not self._has_users(),
            action=LOGIN_PATH + _lang_query(lang, next_path),
            csrf=self.csrf_token(nonce),
            username=username,
            idle_note=TEXT["idle_note"].get(lang).format(m=f"{minutes:g}"),
        )
        return Outcome(page, status, headers=headers)

    def password_page(
        self, lang: str, nonce: str, user: User, ticket: str, *, error: str = "", status: int = 200,
        next_path: str = HOME_PATH,
    ) -> Outcome:
        page = template_environment().get_template("staff_password.html").render(
            lang=lang,
            ui=_ui(lang),
            title=TEXT["password_title"].get(lang),
            intro=TEXT["password_intro"].get(lang).format(n=MIN_PASSWORD_LENGTH),
            switch_href="",
            error=error,
            notice="",
            action=PASSWORD_PATH + _lang_query(lang, next_path),
            csrf=self.csrf_token(nonce),
            username=user.username,
            ticket=ticket,
            min_length=MIN_PASSWORD_LENGTH,
        )
        return Outcome(page, status)

    # -- the work (blocking: database, argon2), run in a thread ------------------------------

    def _signed_in(self, token: str | None) -> bool:
        if not token:
            return False
        with new_session(self.engine) as session:
            row = resume_session(session=session, token=token, policy=self.policy)
            user = get_user(session=session, username=row.username) if row else None
            session.commit()
            return user is not None and user.active

    def _show_login(self, lang: str, nonce: str, token: str | None,
                    next_path: str = HOME_PATH) -> Outcome:
        try:
            if self._signed_in(token):
                return Outcome(status=303, location=next_path)
        except OperationalError:
            _LOG.warning("sign-in: database unavailable", exc_info=True)
        return self.login_page(lang, nonce, next_path=next_path)

    def _sign_in(self, fields: dict[str, str], lang: str, nonce: str, address: str) -> Outcome:
        next_path = safe_next(fields.get("next"))
        username = fields.get("username", "").strip()
        password = fields.get("password", "")
        shown = username[:MAX_USERNAME]
        if not username or not password:
            return self.login_page(lang, nonce, username=shown, error=TEXT["missing"].get(lang),
                                   status=422, next_path=next_path)
        if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
            return self.login_page(lang, nonce, username=shown, error=TEXT["wrong"].get(lang),
                                   status=401, next_path=next_path)
        with new_session(self.engine) as session:
            try:
                user = authenticate(session=session, username=username, password=password,
                                    address=address, guard=self.guard, gate=self.gate)
            except HashingBusy as busy:
                return self.login_page(
                    lang, nonce, username=shown, status=429,
                    error=TEXT["hashing_busy"].get(lang),
                    headers={"Retry-After": str(busy.retry_after)},
                )
            except LoginRefused as refused:
                if refused.retry_after:
                    seconds = max(1, math.ceil(refused.retry_after))
                    return self.login_page(
                        lang, nonce, username=shown, status=429,
                        error=TEXT["throttled"].get(lang).format(s=seconds),
                        headers={"Retry-After": str(seconds)}, next_path=next_path,
                    )
                return self.login_page(lang, nonce, username=shown, error=TEXT["wrong"].get(lang),
                                       status=401, next_path=next_path)
            if user.must_change_password:
                return self.password_page(lang, nonce, user, self.ticket(nonce, user),
                                          next_path=next_path)
            token, _row = start_session(session=session, username=user.username,
                                        policy=self.policy)
            session.commit()
        return Outcome(status=303, location=next_path, session_token=token)

    def _change_password(
        self, fields: dict[str, str], lang: str, nonce: str, _address: str
    ) -> Outcome:
        next_path = safe_next(fields.get("next"))
        username = fields.get("username", "").strip()[:MAX_USERNAME]
        first = fields.get("new_password", "")
        second = fields.get("repeat_password", "")
        with new_session(self.engine) as session:
            user = get_user(session=session, username=username) if username else None
            ticket = fields.get("ticket", "")
            if not self.ticket_ok(nonce, user, ticket):
                return self.login_page(lang, nonce, username=username,
                                       error=TEXT["ticket"].get(lang), status=403)
            problem = None
            if first != second:
                problem = TEXT["differ"].get(lang)
            elif len(first) > MAX_PASSWORD:
                problem = TEXT["too_long"].get(lang)
            elif (weakness := password_problem(first, user.username)) is not None:
                problem = PASSWORD_PROBLEMS[weakness].get(lang)
            elif verify_password(user.password_hash, first):
                problem = TEXT["same"].get(lang)
            if problem:
                return self.password_page(lang, nonce, user, ticket, error=problem, status=422,
                                          next_path=next_path)
            set_password(session=session, user=user, password=first, actor=user.username)
            token, _row = start_session(session=session, username=user.username,
                                        policy=self.policy)
            session.commit()
        return Outcome(status=303, location=next_path, session_token=token)

    def _sign_out(self, token: str) -> None:
        with new_session(self.engine) as session:
            end_session(session=session, token=token, policy=self.policy)
            session.commit()

    # -- responses ----------------------------------------------------------------------

    def _secure(self, request: Request) -> bool:
        if request.url.scheme == "https":
            return True
        forwarded = request.headers.get("x-forwarded-proto", "")
        return self.trust_proxy and forwarded.split(",")[0].strip().lower() == "https"

    def _respond(self, request: Request, outcome: Outcome, nonce: str) -> Response:
        if outcome.location is not None:
            response: Response = RedirectResponse(outcome.location, status_code=outcome.status)
            response.headers["Cache-Control"] = "no-store"
        else:
            response = HTMLResponse(outcome.page, status_code=outcome.status,
                                    headers={**_HEADERS, **(outcome.headers or {})})
        secure = self._secure(request)
        if request.cookies.get(CSRF_COOKIE) != nonce:
            response.set_cookie(CSRF_COOKIE, nonce, max_age=CSRF_MAX_AGE, path=LOGIN_PATH,
                                httponly=True, samesite="strict", secure=secure)
        if outcome.session_token:
            response.set_cookie(COOKIE_NAME, outcome.session_token,
                                max_age=int(self.policy.lifetime.total_seconds()), path="/",
                                httponly=True, samesite="strict", secure=secure)
        return response

    def _failure(self, request: Request, lang: str, nonce: str, error: Exception) -> Response:
        if isinstance(error, OperationalError):
            _LOG.warning("sign-in: database unavailable", exc_info=error)
            outcome = self.login_page(lang, nonce, error=TEXT["busy"].get(lang), status=503)
        else:
            _LOG.error("sign-in: unexpected error", exc_info=error)
            outcome = self.login_page(lang, nonce, error=TEXT["error"].get(lang), status=500)
        return self._respond(request, outcome, nonce)

    async def _form_fields(self, request: Request) -> dict[str, str]:
        """The posted fields (each name once), after the size and type checks."""
        body = await read_body(request, MAX_BODY_BYTES)
        fields = parse_fields(body, request.headers.get("content-type", ""))
        names = [name for name, _value in fields]
        if len(names) != len(set(names)):
            raise BadSubmission("a field was sent twice")
        return dict(fields)

    async def _posted(self, request: Request, handler) -> Response:
        """A POST: CSRF check, then `handler(fields, lang, nonce)` in a thread."""
        lang = normal_lang(request.query_params.get("lang"))
        cookie = request.cookies.get(CSRF_COOKIE)
        nonce = cookie if _is_nonce(cookie) else b64(secrets.token_bytes(16))
        try:
            try:
                fields = await self._form_fields(request)
            except (BadSubmission, BodyTooLarge):
                outcome = await run_in_threadpool(
                    self.login_page, lang, nonce, error=TEXT["bad_request"].get(lang), status=400
                )
                return self._respond(request, outcome, nonce)
            lang = normal_lang(fields.get("lang", lang))
            fields.setdefault("next", request.query_params.get("next", ""))
            if not self.csrf_ok(cookie, fields.get(CSRF_FIELD, "")):
                outcome = await run_in_threadpool(
                    self.login_page, lang, nonce,
                    username=fields.get("username", "").strip()[:MAX_USERNAME],
                    error=TEXT["csrf"].get(lang), status=403,
                )
                return self._respond(request, outcome, nonce)
            address = request_address(request.scope, trusted_proxy=self.trust_proxy)
            outcome = await run_in_threadpool(handler, fields, lang, nonce, address)
            return self._respond(request, outcome, nonce)
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception as error:  # noqa: BLE001 - a plain page, never a traceback
            return self._failure(request, lang, nonce, error)

    # -- the endpoints ------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """GET /dang-nhap: the form (or 303 to / when already signed in); POST: sign in."""
        if request.method == "POST":
            return await self._posted(request, self._sign_in)
        lang = normal_lang(request.query_params.get("lang"))
        cookie = request.cookies.get(CSRF_COOKIE)
        nonce = cookie if _is_nonce(cookie) else b64(secrets.token_bytes(16))
        try:
            outcome = await run_in_threadpool(
                self._show_login, lang, nonce, request.cookies.get(COOKIE_NAME),
                safe_next(request.query_params.get("next")),
            )
            return self._respond(request, outcome, nonce)
        except Exception as error:  # noqa: BLE001
            return self._failure(request, lang, nonce, error)

    async def change_password(self, request: Request) -> Response:
        """POST /dang-nhap/doi-mat-khau: the new password, then the session; GET goes back."""
        if request.method != "POST":
            lang = normal_lang(request.query_params.get("lang"))
            return RedirectResponse(LOGIN_PATH + _lang_query(lang), status_code=303)
        return await self._posted(request, self._change_password)

    async def logout(self, request: Request) -> Response:
        """GET /dang-xuat: revoke the session, clear the cookie, back to the sign-in page."""
        lang = normal_lang(request.query_params.get("lang"))
        response = RedirectResponse(LOGIN_PATH + _lang_query(lang), status_code=303)
        response.headers["Cache-Control"] = "no-store"
        token = request.cookies.get(COOKIE_NAME)
        if token is None:
            return response
        try:
            await run_in_threadpool(self._sign_out, token)
        except Exception:  # noqa: BLE001 - the cookie is cleared all the same
            _LOG.exception("sign-out: could not revoke the session")
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict",
                               secure=self._secure(request))
        return response


def staff_routes(
    *,
    engine: Engine | None = None,
    secret: bytes | None = None,
    policy: SessionPolicy | None = None,
    trust_proxy: bool | None = None,
    guard: SignInGuard | None = None,
    gate: HashingGate | None = None,
) -> list[Route]:
    """The sign-in pages' routes; by default on the app's database and server secret, with
    the process's sign-in guard and hashing gate."""
    service = StaffService(engine=engine, secret=secret, policy=policy, trust_proxy=trust_proxy,
                           guard=guard, gate=gate)
    return [
        Route(LOGIN_PATH, service.login, methods=["GET", "POST"], name="staff_login"),
        Route(PASSWORD_PATH, service.change_password, methods=["GET", "POST"],
              name="staff_password"),
        Route(LOGOUT_PATH, service.logout, methods=["GET"], name="staff_logout"),
    ]
