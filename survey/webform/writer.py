"""One thread that stores the form's responses, many to a transaction.

A submission waits in a queue; the writer takes every submission waiting (up to
`max_batch`), checks their links against the campaigns in the database, inserts them in
one transaction and only after the commit answers each waiting request. Under load one
commit carries many responses (group commit): SQLite's single writer never queues on
its lock, PostgreSQL sees one connection writing, and a request costs the event loop no
thread of its own. When a batch fails for a reason other than the database being
unavailable, its submissions are stored again one at a time, so one bad submission
fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from survey.db import new_session
from survey.links import LinkClaims, LinkError, check_campaign
from survey.storage.campaigns import link_states
from survey.storage.new_responses import NewResponse, insert_new_responses, stored_receipts
from survey.storage.single_use_links import claim_links

_LOG = logging.getLogger(__name__)

Stored = tuple[str | None, bool]  # (receipt, created)
Outcome = Stored | BaseException


@dataclass(frozen=True)
class PendingResponse:
    """A submission to store, with the link it came through."""

    claims: LinkClaims
    response: NewResponse


@dataclass(frozen=True)
class _Waiting:
    pending: PendingResponse
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


def _settle(outcomes: list[tuple[asyncio.Future, Outcome]]) -> None:
    """Hand each waiting request its outcome (in its event loop)."""
    for future, outcome in outcomes:
        if future.done():  # the request was cancelled meanwhile
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class ResponseWriter:
    """Stores responses from a queue in one thread, started on demand and stopped when idle."""

    def __init__(self, engine: Engine, *, max_batch: int = 200, idle_seconds: float = 10.0):
        self.engine = engine
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self._queue: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def store(self, pending: PendingResponse) -> Stored:
        """(receipt, created) once committed; raises LinkError when the link no longer
        works, OperationalError when the database is unavailable, StorageError or another
        error when the response itself was refused."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._queue.put(_Waiting(pending, loop, future))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="response-writer", daemon=True
                )
                self._thread.start()
        return await future

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            outcomes = self.write_batch([waiting.pending for waiting in batch])
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Outcome]]] = {}
            for waiting, outcome in zip(batch, outcomes, strict=True):
                by_loop.setdefault(waiting.loop, []).append((waiting.future, outcome))
            for loop, settled in by_loop.items():
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits
                    loop.call_soon_threadsafe(_settle, settled)

    def write_batch(self, batch: list[PendingResponse]) -> list[Outcome]:
        """Store a batch in one transaction (one at a time if that fails for another reason
        than the database being unavailable); an outcome for each, in order."""
        try:
            return self._write_together(batch)
        except OperationalError as exc:
            return [exc] * len(batch)
        except Exception as exc:  # noqa: BLE001 - isolate the submission at fault
            if len(batch) == 1:
                return [exc]
            _LOG.warning("writer: a batch of %d failed (%s); storing one by one", len(batch), exc)
            return [self.write_batch([pending])[0] for pending in batch]

    def _write_together(self, batch: list[PendingResponse]) -> list[Outcome]:
        """Check every link, insert the accepted responses, commit; an outcome for each."""
        with new_session(self.engine) as session:
            states = link_states(
                session=session, campaign_ids={pending.claims.campaign_id for pending in batch}
            )
            outcomes: list[Outcome | None] = [None] * len(batch)
            accepted: list[int] = []
            for index, pending in enumerate(batch):
                try:
                    check_campaign(states.get(pending.claims.campaign_id), pending.claims)
                    accepted.append(index)
                except LinkError as exc:
                    outcomes[index] = exc
            accepted = _claim_single_use(session, batch, accepted, outcomes)
            stored = insert_new_responses(
                session=session, responses=[batch[index].response for index in accepted]
            )
            session.commit()
        told: set[str] = set()
        for index in accepted:  # a key sent twice in one batch was created once
            key = batch[index].response.idempotency_key
            receipt, created = stored[key]
            outcomes[index] = (receipt, created and key not in told)
            told.add(key)
        return outcomes  # type: ignore[return-value]  # every slot is filled


def _claim_single_use(
    session, batch: list[PendingResponse], accepted: list[int], outcomes: list
) -> list[int]:
    """Mark the single-use links of the accepted submissions used, in the batch's transaction;
    the indices still accepted. A resubmission of a form already stored (same key) gets its
    receipt; another form through a used link gets LinkError('used') and stores nothing."""
    single = [index for index in accepted if batch[index].claims.link_id is not None]
    if not single:
        return accepted
    earlier = stored_receipts(
        session=session, keys=[batch[index].response.idempotency_key for index in single]
    )
    first: dict[int, int] = {}  # link id → the index that claims it
    refused: set[int] = set()
    for index in single:
        pending = batch[index]
        key = pending.response.idempotency_key
        if key in earlier:
            outcomes[index] = (earlier[key], False)
            refused.add(index)
            continue
        claimer = first.setdefault(pending.claims.link_id, index)
        if batch[claimer].response.idempotency_key != key:
            outcomes[index] = LinkError("used", "another form came through this link first")
            refused.add(index)
    claimed = claim_links(
        session=session,
        links={link_id: batch[index].claims.campaign_id for link_id, index in first.items()},
    )
    for index in single:
        if index not in refused and batch[index].claims.link_id not in claimed:
            outcomes[index] = LinkError("used", "the link was used already")
            refused.add(index)
    return [index for index in accepted if index not in refused]
