"""What the light pages (the citizen's form and the staff sign-in) share over HTTP: security
headers, bounded bodies, urlencoded fields, base64 tokens, and the engine and secret of a set
of routes."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse

from survey.config import server_secret, settings
from survey.db import shared_engine

MAX_FIELDS = 400
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
PAGE_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-store"}


def allowing_script(headers: dict[str, str], script_hash: str) -> dict[str, str]:
    """The headers with a CSP that also runs the one inline script of this hash, and lets it
    post to the page's own origin (the citizen form's answer keeper)."""
    policy = headers["Content-Security-Policy"]
    return {**headers, "Content-Security-Policy":
            f"{policy}; script-src '{script_hash}'; connect-src 'self'"}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class BadSubmission(ValueError):
    """A submission no honest form produces: answered with a 400 page, nothing stored."""


class BodyTooLarge(Exception):
    """The request body is over the limit."""


def parse_fields(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of a urlencoded form body."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise BadSubmission(f"unexpected content type {content_type!r}")
    try:
        return parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadSubmission(f"unreadable form body: {exc}") from None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or BodyTooLarge as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)




def html_page(page: str, status: int = 200, headers: dict[str, str] | None = None
              ) -> HTMLResponse:
    """A page with the security headers (no caching unless other headers are given)."""
    return HTMLResponse(page, status_code=status, headers=headers or PAGE_HEADERS)


class ServerResources:
    """The engine and signing secret of a set of routes, taken from the settings on first use
    unless given (tests pass their own)."""

    def __init__(self, *, engine: Engine | None = None, secret: bytes | None = None):
        self._engine = engine
        self._secret = secret

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = shared_engine(settings().database_url)
        return self._engine

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = server_secret()
        return self._secret


