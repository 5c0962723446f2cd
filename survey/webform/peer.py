"""The client's network address, taken from the connection unless SURVEY_TRUST_PROXY=1.

Streamlit starts uvicorn with uvicorn's default forwarded-header handling: a request from
127.0.0.1 (or ::1) carrying `X-Forwarded-For` gets that header's address as its client.
Without a proxy of our own in front, anyone on the machine (or a local proxy that passes
headers through) could then pick the address the burst flags, the flood limit and the
sign-in throttle see. `keep_connection_peer()`, called when the app module is loaded (uvicorn
wraps the app in its proxy middleware only after loading it), makes uvicorn use
`ConnectionPeer` instead: it records the connection's own address in the request scope
(`PEER_KEY`), and rewrites the client from forwarded headers only when SURVEY_TRUST_PROXY=1.
`request_address` then decides from the recorded address and our own setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from survey.webform.abuse import client_address

PEER_KEY = "survey.connection_peer"


def trust_proxy() -> bool:
    """SURVEY_TRUST_PROXY=1 (or true/yes): the app runs behind our own proxy."""
    from survey.config import settings

    return settings().trust_proxy


def connection_peer(scope: Mapping[str, Any]) -> str | None:
    """The address of the connection itself (not of any forwarded header)."""
    peer = scope[PEER_KEY] if PEER_KEY in scope else scope.get("client")
    return peer[0] if peer else None


def request_address(scope: Mapping[str, Any], *, trusted_proxy: bool) -> str:
    """The client's address: the connection's, or behind a trusted proxy the address it
    appended last to X-Forwarded-For."""
    forwarded = [value.decode("latin-1") for name, value in scope.get("headers", ())
                 if name == b"x-forwarded-for"]
    return client_address(connection_peer(scope), ", ".join(forwarded) or None,
                          trust_proxy=trusted_proxy)


class ConnectionPeer:
    """In place of uvicorn's ProxyHeadersMiddleware: keeps the connection's address in the
    scope, and applies uvicorn's forwarded-header handling only with SURVEY_TRUST_PROXY=1."""

    def __init__(self, app: ASGIApp, trusted_hosts: list[str] | str = "127.0.0.1") -> None:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        self.app = app
        self.forwarded = ProxyHeadersMiddleware(app, trusted_hosts=trusted_hosts)
        self.trusted = trust_proxy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[PEER_KEY] = scope.get("client")
            if self.trusted:
                await self.forwarded(scope, receive, send)
                return
        await self.app(scope, receive, send)


def keep_connection_peer() -> None:
    """Make uvicorn wrap the app it is loading in `ConnectionPeer` (call at import time)."""
    try:
        import uvicorn.config
    except ImportError:  # pragma: no cover - uvicorn comes with Streamlit
        return
    uvicorn.config.ProxyHeadersMiddleware = ConnectionPeer
