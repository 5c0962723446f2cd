"""Abuse signals for the public form: bursts per network address, floods, the honeypot.

No raw address is ever kept: an address is hashed with a random salt that is
replaced every day (UTC), and the hashes live only in this process's memory.
Suspicious responses are stored flagged for review, never dropped; only absurd
floods are refused (HTTP 429).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from survey.config import load_settings

HONEYPOT_FIELD = "website"  # an innocent name bots like to fill; hidden from people by CSS
MAX_TRACKED_ADDRESSES = 50_000


@dataclass(frozen=True)
class AbuseLimits:
    """Thresholds; from the environment with `from_env()`.

    burst_count: more new responses than this from one address within
        burst_window_s seconds are stored flagged "burst" (SURVEY_BURST_COUNT,
        SURVEY_BURST_WINDOW; a one-stop desk's shared Wi-Fi is one address, so
        this is a signal for review, not a block).
    flood_per_minute: more submissions than this in 60 s from one address are
        refused with 429 (SURVEY_FLOOD_PER_MINUTE).
    trust_proxy: take the client from X-Forwarded-For (SURVEY_TRUST_PROXY=1).
    """

    burst_count: int = 10
    burst_window_s: float = 600.0
    flood_per_minute: int = 60
    trust_proxy: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AbuseLimits:
        """The limits from the settings (survey.config: one parser, validated)."""
        config = load_settings(environ)
        return cls(burst_count=config.burst_count, burst_window_s=config.burst_window_s,
                   flood_per_minute=config.flood_per_minute, trust_proxy=config.trust_proxy)


def client_address(peer: str | None, forwarded_for: str | None, *, trust_proxy: bool) -> str:
    """The client's address: the peer, or with a trusted proxy the address it appended last."""
    if trust_proxy and forwarded_for:
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return last
    return peer or "unknown"


@dataclass
class _Window:
    attempts: deque = field(default_factory=deque)  # monotonic times of POSTs
    responses: deque = field(default_factory=deque)  # monotonic times of new responses


class AbuseGuard:
    """Per-address counters in memory, keyed by a salted hash whose salt changes daily."""

    def __init__(
        self,
        limits: AbuseLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ):
        self.limits = limits or AbuseLimits()
        self._clock = clock
        self._today = today
        self._lock = threading.Lock()
        self._salt_day: date | None = None
        self._salt = b""
        self._windows: dict[str, _Window] = {}

    def address_hash(self, address: str) -> str:
        """The address hashed with today's salt (a new random salt each day)."""
        with self._lock:
            return self._hash_locked(address)

    def _hash_locked(self, address: str) -> str:
        day = self._today()
        if day != self._salt_day:
            self._salt_day, self._salt = day, secrets.token_bytes(16)
            self._windows.clear()  # yesterday's hashes can never match again
        return hashlib.sha256(self._salt + address.encode("utf-8", "replace")).hexdigest()[:32]

    def _window(self, address: str) -> _Window:
        key = self._hash_locked(address)
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= MAX_TRACKED_ADDRESSES:
                self._windows.pop(next(iter(self._windows)))
            window = self._windows[key] = _Window()
        return window

    @staticmethod
    def _prune(times: deque, since: float) -> None:
        while times and times[0] < since:
            times.popleft()

    def note_submission(self, address: str) -> bool:
        """Count one submission attempt; True when it is a flood to refuse."""
        with self._lock:
            now = self._clock()
            window = self._window(address)
            self._prune(window.attempts, now - 60.0)
            window.attempts.append(now)
            return len(window.attempts) > self.limits.flood_per_minute

    def is_burst(self, address: str) -> bool:
        """True when this address already sent `burst_count` new responses in the window."""
        with self._lock:
            now = self._clock()
            window = self._window(address)
            self._prune(window.responses, now - self.limits.burst_window_s)
            return len(window.responses) >= self.limits.burst_count

    def note_response(self, address: str) -> None:
        """Count one newly stored response from this address."""
        with self._lock:
            self._window(address).responses.append(self._clock())


def flag_reasons(*, honeypot_value: str | None, burst: bool) -> str | None:
    """The flag_reason to store ('honeypot', 'burst' or both, comma-separated), or None."""
    reasons = [name for name, hit in (("honeypot", bool(honeypot_value)), ("burst", burst)) if hit]
    return ",".join(reasons) or None
