"""Secure random bytes for form keys and receipts, read from the OS 4 KB at a time.

`os.urandom` releases the GIL for its system call; on the event loop's thread, under
load, getting it back can take milliseconds while the writer thread runs. Reading the
operating system's CSPRNG in larger chunks makes that one call per hundred forms.
"""

from __future__ import annotations

import os
import threading

CHUNK_BYTES = 4096


class RandomPool:
    """Bytes and integers from os.urandom, buffered; safe to share between threads."""

    def __init__(self, chunk_bytes: int = CHUNK_BYTES):
        self.chunk_bytes = chunk_bytes
        self._buffer = b""
        self._position = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> bytes:
        """`count` fresh random bytes (never handed out twice)."""
        with self._lock:
            if self._position + count > len(self._buffer):
                self._buffer = os.urandom(max(self.chunk_bytes, count))
                self._position = 0
            start = self._position
            self._position += count
            return self._buffer[start : self._position]

    def below(self, limit: int) -> int:
        """A uniform integer in [0, limit): random bits, redrawn when too large."""
        if limit < 1:
            raise ValueError("limit must be positive")
        bits = (limit - 1).bit_length()
        while True:
            number = int.from_bytes(self.take((bits + 7) // 8), "big") >> (-bits % 8)
            if number < limit:
                return number
