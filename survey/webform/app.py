"""The citizen's form as an ASGI application of its own, to run several processes beside the
staff app (which keeps serving the form too):

    uvicorn survey.webform.app:app --host 127.0.0.1 --port 8502 --workers 2

Every process reads the same settings (SURVEY_DATABASE_URL — PostgreSQL when several
processes write —, SURVEY_SECRET or SURVEY_SECRET_FILE, SURVEY_BASE_URL …), so a link signed
by the staff app opens here. A proxy sends `/s/` to these processes and everything else to the
staff app. What each process keeps in memory is its own: the 2-second memory of a campaign's
link state, the form pages, and the flood and burst counts per network address (so the limit
per address is SURVEY_FLOOD_PER_MINUTE per process). Storing is safe across processes: the
idempotency key is unique in the database and every link is checked in the insert's
transaction.

At start each process brings the schema up to date (one at a time: `create_schema` locks);
it loads no demo data and reads no report cache. `GET /healthz` answers "ok".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from survey.config import settings
from survey.db import create_schema, shared_engine
from survey.webform.dispatch import MINIMUM_GZIP_BYTES
from survey.webform.peer import keep_connection_peer
from survey.webform.routes import form_routes
from survey.webform.startup import freeze_startup_objects

_LOG = logging.getLogger(__name__)


async def health(_request) -> PlainTextResponse:
    return PlainTextResponse("ok")


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    try:
        await asyncio.to_thread(create_schema, shared_engine(settings().database_url))
    except Exception:  # noqa: BLE001 - the form answers 503 until the database is reachable
        _LOG.exception("form app: the database could not be brought up to date")
    freeze_startup_objects()
    yield


def make_app() -> Starlette:
    """A new form application (its own service, caches and writer)."""
    return Starlette(
        routes=[Route("/healthz", health), *form_routes()],
        middleware=[Middleware(GZipMiddleware, minimum_size=MINIMUM_GZIP_BYTES,
                               compresslevel=6)],
        lifespan=lifespan,
    )


keep_connection_peer()  # the client address comes from the connection (SURVEY_TRUST_PROXY)
app = make_app()
