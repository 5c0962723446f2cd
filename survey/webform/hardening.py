"""Around the Streamlit server: security headers on its pages, and no public metrics.

Every HTTP response of the staff app (Streamlit's pages, scripts, media and the sign-in
pages) gets the headers the citizen's form sends where Streamlit allows them: its pages may
only be framed by the app itself (Streamlit's components are same-origin frames), no
Referer leaves the app, and no content-type sniffing. A header a route set itself (the
sign-in pages' stricter policy) is kept. `/_stcore/metrics` (Streamlit's internal
counters) answers 404 to everyone. A page address that is no page of the app ('/abc',
'/trang-chu') is answered 404 with a plain page in the user's language (`?lang=en` for
English) and a link to the overview, instead of Streamlit's English "Page not found" dialog.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from survey.navigation import is_unknown_page
from survey.text import Text
from survey.webform.http import PAGE_HEADERS
from survey.webform.render import normal_lang, render_message

OVERVIEW = Text("Mở trang Tổng quan", "Open the overview")

HIDDEN_PATHS = ("/_stcore/metrics",)
STAFF_HEADERS = {
    b"content-security-policy": b"frame-ancestors 'self'",
    b"x-frame-options": b"SAMEORIGIN",
    b"referrer-policy": b"no-referrer",
    b"x-content-type-options": b"nosniff",
}


class StaffAppGuard:
    """ASGI wrapper of the staff app: hidden paths → 404, security headers added."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if any(path == hidden or path.startswith(hidden + "/") for hidden in HIDDEN_PATHS):
            await _not_found(send)
            return
        if scope.get("method") in ("GET", "HEAD") and is_unknown_page(path):
            await _unknown_page(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                headers += [(name, value) for name, value in STAFF_HEADERS.items()
                            if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _not_found(send: Send) -> None:
    body = b"Not found"
    await send({"type": "http.response.start", "status": 404,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            *STAFF_HEADERS.items()]})
    await send({"type": "http.response.body", "body": body})


async def _unknown_page(scope: Scope, receive: Receive, send: Send) -> None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    lang = normal_lang((query.get("lang") or [None])[0])
    status, page = render_message("staff_not_found", lang=lang,
                                  retry_href="/",
                                  link_label=OVERVIEW)
    await HTMLResponse(page, status_code=status, headers=PAGE_HEADERS)(scope, receive, send)
