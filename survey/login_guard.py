"""What slows password guessing down besides the per-account delay: per network address, and
a bound on concurrent password hashing. Pure Python, in this process's memory.

Network addresses are never kept: each is reduced to a keyed hash (HMAC-SHA-256 with a key
drawn at random when the process starts), and entries are forgotten after their window.

- **Per address** (all usernames together): `ADDRESS_FREE_FAILURES` failures per
  `ADDRESS_WINDOW` are free, then each attempt waits 2, 4, 8 … s (at most 15 min) after the
  address's last attempt. Attempts in progress count as failures until they end, so
  simultaneous guesses from one address cannot pass together.
- **Per account, for the addresses that failed on it**: the account's growing delay
  (`survey.auth.login_delay`, counted over every address in the database) applies only to
  an address that has failed (or is trying) on that account within `ACCOUNT_WINDOW`. A first
  try from another address is not delayed: whoever fails on purpose on `admin` slows
  themselves down, not the real owner signing in from their own computer.
- **Hashing**: Argon2 with 64 MiB per check; at most `slots` checks run at once
  (SURVEY_LOGIN_HASH_SLOTS, default 2). An attempt that finds every slot busy is refused at
  once (`HashingBusy`, answered 429) instead of queueing memory and CPU. Unknown usernames
  are hashed too (against a dummy hash), so they take the same slot and the same time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

ADDRESS_FREE_FAILURES = 10
ADDRESS_WINDOW = 60 * 60.0  # seconds an address's failures are remembered
ACCOUNT_WINDOW = 24 * 60 * 60.0  # seconds an address stays "failed on this account"
MAX_DELAY_SECONDS = 15 * 60
MAX_TRACKED = 50_000  # addresses (and address × account pairs) kept at most
DEFAULT_HASH_SLOTS = 2


class HashingBusy(RuntimeError):
    """Every password-hashing slot is taken: try again in a moment (HTTP 429)."""

    retry_after = 5


def address_delay(failures: int) -> float:
    """Seconds an address waits after `failures` failures in the window: none for the first
    ADDRESS_FREE_FAILURES, then 2, 4, 8 … s, at most 15 minutes."""
    if failures < ADDRESS_FREE_FAILURES:
        return 0.0
    return float(min(2 ** (failures - ADDRESS_FREE_FAILURES + 1), MAX_DELAY_SECONDS))


@dataclass
class _Address:
    failures: deque = field(default_factory=deque)  # monotonic times of failed attempts
    pending: int = 0  # attempts in progress
    last: float = 0.0  # monotonic time of the last attempt let through


@dataclass(frozen=True)
class Ticket:
    """One attempt let through by the address check; `account_delay` says whether the
    account's own delay applies to it (this address failed or is trying on the account)."""

    address_key: str | None
    account_key: str | None
    account_delay: bool


class SignInGuard:
    """Per-address throttling and the addresses that failed on each account (in memory)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._addresses: dict[str, _Address] = {}
        self._tried: dict[tuple[str, str], float] = {}  # (address, account) -> last try

    def _hash(self, kind: str, value: str) -> str:
        message = f"{kind}|{value}".encode("utf-8", "replace")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def _prune(self, entry: _Address, now: float) -> None:
        while entry.failures and entry.failures[0] < now - ADDRESS_WINDOW:
            entry.failures.popleft()

    @staticmethod
    def _bounded(table: dict) -> None:
        while len(table) >= MAX_TRACKED:
            table.pop(next(iter(table)))

    def reserve(self, address: str | None, username: str) -> Ticket | float:
        """Let one attempt through (a Ticket, to `settle` afterwards), or the seconds this
        address must still wait. Without an address (command line, tests) nothing is
        throttled here and the account's delay always applies."""
        if address is None:
            return Ticket(None, None, True)
        with self._lock:
            now = self._clock()
            key = self._hash("address", address)
            entry = self._addresses.get(key)
            if entry is None:
                self._bounded(self._addresses)
                entry = self._addresses[key] = _Address()
            self._prune(entry, now)
            counted = len(entry.failures) + entry.pending
            wait = address_delay(counted) - (now - entry.last) if counted else 0.0
            if wait > 0:
                return wait
            account = self._hash("account", username)
            tried_at = self._tried.get((key, account))
            known = tried_at is not None and now - tried_at < ACCOUNT_WINDOW
            self._bounded(self._tried)
            self._tried[(key, account)] = now
            entry.pending += 1
            entry.last = now
            return Ticket(key, account, known)

    def settle(self, ticket: Ticket, *, failed: bool) -> None:
        """The attempt ended: a failure counts against its address; a success or an
        attempt refused before any password check does not."""
        if ticket.address_key is None:
            return
        with self._lock:
            entry = self._addresses.get(ticket.address_key)
            if entry is None:
                return
            entry.pending = max(0, entry.pending - 1)
            if failed:
                entry.failures.append(self._clock())
            elif not ticket.account_delay:
                # refused or succeeded on a first try: this address has no failure on the account
                self._tried.pop((ticket.address_key, ticket.account_key), None)


class HashingGate:
    """At most `slots` password hashes at once; the next one is refused (HashingBusy)."""

    def __init__(self, slots: int = DEFAULT_HASH_SLOTS):
        if slots < 1:
            raise ValueError("SURVEY_LOGIN_HASH_SLOTS must be at least 1")
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HashingGate:
        env = os.environ if environ is None else environ
        return cls(int(env.get("SURVEY_LOGIN_HASH_SLOTS", DEFAULT_HASH_SLOTS)))

    @contextmanager
    def slot(self, *, wait: bool = False) -> Iterator[None]:
        """Hold one slot for the block; HashingBusy at once when none is free (or wait for
        one with `wait`, for hashing a staff member's new password)."""
        if not self._semaphore.acquire(blocking=wait):
            raise HashingBusy("every password-hashing slot is busy")
        try:
            yield
        finally:
            self._semaphore.release()


_SHARED: dict[str, object] = {}
_SHARED_LOCK = threading.Lock()


def shared_guard() -> SignInGuard:
    """The process's guard, shared by the sign-in page and the app's fallback form."""
    with _SHARED_LOCK:
        return _SHARED.setdefault("guard", SignInGuard())  # type: ignore[return-value]


def shared_gate() -> HashingGate:
    """The process's hashing gate (SURVEY_LOGIN_HASH_SLOTS read on first use)."""
    with _SHARED_LOCK:
        if "gate" not in _SHARED:
            _SHARED["gate"] = HashingGate.from_env()
        return _SHARED["gate"]  # type: ignore[return-value]
