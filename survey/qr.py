"""QR codes of campaign links, as PNG and SVG (qrcode library, error correction M)."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE_MODULES = 4  # the standard's white border


def _qr(url: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE_MODULES)
    code.add_data(url)
    code.make(fit=True)
    return code


def qr_version(url: str) -> int:
    """The QR version (size class 1–40) the link needs; small is easier to scan."""
    return _qr(url).version


def qr_image(url: str, *, box_size: int = 10) -> Image.Image:
    """The link's QR code as a greyscale image, `box_size` pixels per module."""
    code = _qr(url)
    code.box_size = box_size
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def qr_png(url: str, *, box_size: int = 10) -> bytes:
    """A black-on-white PNG of the link's QR code, `box_size` pixels per module."""
    image = qr_image(url, box_size=box_size).convert("1")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def qr_svg(url: str) -> bytes:
    """An SVG of the link's QR code: one path on white, scales to any print size."""
    image = _qr(url).make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
