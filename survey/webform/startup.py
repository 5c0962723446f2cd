"""Start-up of the server process: schema, shipped questionnaires, first-start demo data,
the report cache read once, and the start-up objects left out of the garbage collector."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from survey.config import settings
from survey.db import new_session, shared_engine

_LOG = logging.getLogger(__name__)


def _initialise_database() -> None:
    from survey.bootstrap import initialise

    config = settings()
    engine = shared_engine(config.database_url)
    initialise(engine, load_demo=config.demo_on_first_start)
    threading.Thread(target=_warm_report_cache, args=(engine,), daemon=True,
                     name="warm-report-cache").start()


def _warm_report_cache(engine) -> None:
    """Read the responses for the report pages once, in the background, so that the first
    page view after a start does not wait for it."""
    from survey.dashboard import warm_cache

    try:
        with new_session(engine) as session:
            warm_cache(session=session)
    except Exception:  # noqa: BLE001 - a cold cache is only slower
        _LOG.exception("startup: could not pre-read the responses for the reports")
    freeze_startup_objects()


def freeze_startup_objects() -> None:
    """Leave the objects made so far (modules, Streamlit, caches) out of the garbage
    collector's full passes: with them, each full pass of a loaded server paused every
    request for about 100 ms, a few times a minute under load; after it about 35 ms."""
    gc.freeze()


@asynccontextmanager
async def form_lifespan(app: Any) -> AsyncIterator[None]:
    """Startup for st.App: schema, shipped questionnaires and first-start demo data.

    Runs in a thread so the event loop stays free. A database that is down at
    startup is logged, not fatal: the form answers 503 until it is reachable.
    """
    from survey.storage import StorageError

    try:
        await asyncio.to_thread(_initialise_database)
    except StorageError as error:  # e.g. a database upgraded by a newer release: said plainly
        _LOG.error("startup: %s", error)
    except Exception:
        _LOG.exception("startup: the database could not be initialised")
    freeze_startup_objects()
    yield None
