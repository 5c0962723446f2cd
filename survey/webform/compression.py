"""A page that differs per request in one short slot, gzip-compressed once.

The blank form is the same for every citizen of a campaign except for its hidden key.
`SlottedPage` compresses the page up to the slot once, keeps the compressor's state,
and for each request compresses only the key and the short rest of the page on a copy
of that state: a complete, ordinary gzip body for a fraction of the cost of compressing
the whole page (the key sits near the end of the form for this reason).
"""

from __future__ import annotations

import zlib

GZIP_CONTAINER = 31  # zlib's wbits for a gzip header and trailer
COMPRESS_LEVEL = 6


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (and does not give it q=0)."""
    for entry in accept_encoding.lower().split(","):
        coding, _, parameters = entry.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip"):
            quality = parameters.strip().removeprefix("q=").strip()
            return not quality or _positive(quality)
    return False


def _positive(quality: str) -> bool:
    try:
        return float(quality) > 0
    except ValueError:
        return True


class SlottedPage:
    """A page with one slot to fill per request, plain or gzip-compressed."""

    def __init__(self, page: str, slot: str):
        head, found, tail = page.partition(slot)
        if not found:
            raise ValueError("the page has no slot to fill")
        self._head = head.encode("utf-8")
        self._tail = tail.encode("utf-8")
        compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, GZIP_CONTAINER)
        self._compressed_head = compressor.compress(self._head)
        self._compressor = compressor

    def plain(self, value: str) -> bytes:
        return self._head + value.encode("utf-8") + self._tail

    def gzipped(self, value: str) -> bytes:
        """The filled page as a gzip body (equal to compressing `plain(value)`)."""
        compressor = self._compressor.copy()
        return self._compressed_head + compressor.compress(value.encode("utf-8") + self._tail) \
            + compressor.flush()
