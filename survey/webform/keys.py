"""The hidden key of a rendered form and the receipt of a stored response."""

from __future__ import annotations

import hashlib
import hmac
import re

from survey.webform.http import b64 as _b64
from survey.webform.randomness import RandomPool

RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
RECEIPT_LENGTH = 8
_RANDOM = RandomPool()


def _key_mac(secret: bytes, scope: int | str, nonce: str) -> str:
    message = f"form-key|{scope}|{nonce}".encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest()[:9])


def new_form_key(scope: int | str, secret: bytes) -> str:
    """A fresh hidden key for one rendered form: 20 random characters + 12 of signature.

    `scope` is the campaign id, or "campaign.link" for a single-use link (LinkClaims.key_scope):
    a key of one link does not pass on another."""
    nonce = _b64(_RANDOM.take(15))
    return nonce + _key_mac(secret, scope, nonce)


def form_key_nonce(key: str, scope: int | str, secret: bytes) -> str | None:
    """The random part of a genuine key for this campaign (or single-use link), else None."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{32}", key or ""):
        return None
    nonce, mac = key[:20], key[20:]
    return nonce if hmac.compare_digest(mac, _key_mac(secret, scope, nonce)) else None


def idempotency_key(campaign_id: int, nonce: str) -> str:
    """The stored idempotency key of a web response."""
    return f"web-{campaign_id}-{nonce}"


def new_receipt() -> str:
    """A short receipt code in an alphabet without look-alike characters: one uniform draw
    below 31^8, written in base 31."""
    number = _RANDOM.below(len(RECEIPT_ALPHABET) ** RECEIPT_LENGTH)
    digits = []
    for _ in range(RECEIPT_LENGTH):
        number, digit = divmod(number, len(RECEIPT_ALPHABET))
        digits.append(RECEIPT_ALPHABET[digit])
    return "".join(digits)


def is_receipt(text: str) -> bool:
    return len(text) == RECEIPT_LENGTH and all(c in RECEIPT_ALPHABET for c in text)


