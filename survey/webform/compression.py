"""A page that differs per request in one short slot, gzip-compressed once.

The blank form is the same for every citizen of a campaign except for its hidden key.
`SlottedPage` compresses the text before the slot and the text after it once, each as
its own run of deflate blocks, and for each request puts the key between them as a
stored (uncompressed) deflate block, then the gzip trailer (CRC-32 and length, the CRC
carried on from the text before the slot). The result is one ordinary gzip stream
(RFC 1951/1952): the same bytes after decompression as compressing the filled page,
for the cost of a CRC over the key and the short tail. No zlib call on the request path
is long enough to release the GIL (the writer thread would then keep it for a while).
"""

from __future__ import annotations

import struct
import zlib

COMPRESS_LEVEL = 6
RAW_DEFLATE = -15  # zlib's wbits for deflate blocks without a header
# RFC 1952 member header: magic, deflate, no flags, no time, no extra flags, OS unknown.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
MAX_STORED = 65535  # bytes in one stored deflate block


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


def _deflate(data: bytes, mode: int) -> bytes:
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, RAW_DEFLATE)
    return compressor.compress(data) + compressor.flush(mode)


def _stored_block(data: bytes) -> bytes:
    """A non-final stored deflate block (starts on a byte boundary: after a sync flush)."""
    return b"\x00" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data


class SlottedPage:
    """A page with one slot to fill per request, plain or gzip-compressed."""

    def __init__(self, page: str, slot: str):
        head, found, tail = page.partition(slot)
        if not found:
            raise ValueError("the page has no slot to fill")
        self._head = head.encode("utf-8")
        self._tail = tail.encode("utf-8")
        # The head ends on a byte boundary (sync flush); the tail is its own deflate run,
        # referring only to itself, and ends with the final block.
        self._compressed_head = GZIP_HEADER + _deflate(self._head, zlib.Z_SYNC_FLUSH)
        self._compressed_tail = _deflate(self._tail, zlib.Z_FINISH)
        self._head_crc = zlib.crc32(self._head)

    def plain(self, value: str) -> bytes:
        return self._head + value.encode("utf-8") + self._tail

    def gzipped(self, value: str) -> bytes:
        """The filled page as a gzip body (decompresses to `plain(value)`)."""
        filling = value.encode("utf-8")
        if len(filling) > MAX_STORED:
            raise ValueError("the value is too long for one stored block")
        crc = zlib.crc32(self._tail, zlib.crc32(filling, self._head_crc))
        size = (len(self._head) + len(filling) + len(self._tail)) & 0xFFFFFFFF
        return b"".join(
            (
                self._compressed_head,
                _stored_block(filling),
                self._compressed_tail,
                struct.pack("<II", crc, size),
            )
        )
