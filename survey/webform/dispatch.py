"""Send the citizen's form past the staff app's middleware.

The Streamlit server wraps every request in its own middleware (sessions, path checks,
compression): work the form does not need, on the path that carries the load. The
dispatcher hands HTTP requests under the form's prefix straight to the light form app
and everything else (the lifespan, websockets, every other path) to the main app.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from survey.links import FORM_PATH

MINIMUM_GZIP_BYTES = 1000


class PrefixDispatch:
    """An ASGI app: HTTP requests whose path starts with `prefix` go to `light`, the rest
    to `main`."""

    def __init__(self, main: ASGIApp, light: ASGIApp, prefix: str = FORM_PATH):
        self.main = main
        self.light = light
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            await self.light(scope, receive, send)
        else:
            await self.main(scope, receive, send)


def light_app(routes: list[Route]) -> ASGIApp:
    """The routes with nothing around them but compression of larger pages."""
    return GZipMiddleware(Router(routes=routes), minimum_size=MINIMUM_GZIP_BYTES, compresslevel=6)
