"""QR codes for offline transfer: render with `qrcode` (pure Python + Pillow), decode with zxing-cpp.

The text is "<PREFIX>:" + unpadded base64url of compact canonical JSON; decoding is strict (known prefix,
canonical base64url, size limit) so one QR code has exactly one meaning.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from pathlib import Path

from audit.trust.fsutil import atomic_write_bytes, read_regular_file

MAX_PNG_BYTES = 8 * 1024 * 1024
MAX_QR_PIXELS = 4096 * 4096  # a version-40 code at 4 px per module is 740 px wide; a photo of one fits too
MAX_QR_PAYLOAD = 2300  # bytes in a version-40 QR code at error-correction level M is 2331
_B64URL = re.compile(r"^[A-Za-z0-9_-]+\Z")


class QrError(ValueError):
    """A QR text or image cannot be encoded or decoded. One-line message."""


def encode_text(prefix: str, payload: bytes) -> str:
    text = prefix + base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")
    if len(text) > MAX_QR_PAYLOAD:
        raise QrError(f"QR text is {len(text)} bytes, more than the {MAX_QR_PAYLOAD} a QR code holds")
    return text


def decode_text(prefix: str, text: str) -> bytes:
    if not isinstance(text, str):
        raise QrError("QR text is not a string")
    text = text.strip()
    if not text.startswith(prefix):
        raise QrError(f"QR text does not start with {prefix}")
    body = text[len(prefix) :]
    if len(text) > MAX_QR_PAYLOAD or not _B64URL.match(body):
        raise QrError("QR text is not base64url or is too long")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise QrError("QR text is not base64url") from exc
    if base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii") != body:
        raise QrError("QR text is not canonical base64url")
    return payload


def render_png(text: str) -> bytes:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=4, border=4)
    code.add_data(text.encode("ascii"), optimize=0)
    try:
        code.make(fit=True)
    except Exception as exc:  # qrcode raises DataOverflowError (no common base) when it does not fit
        raise QrError(f"text does not fit a QR code: {exc}") from exc
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(text: str, path: Path) -> None:
    atomic_write_bytes(Path(path), render_png(text))


def read_png(path: Path) -> str:
    """Decode the single QR code in a PNG with zxing-cpp. Raises QrError (one line).

    Only a regular file of at most MAX_PNG_BYTES, only PNG, at most MAX_QR_PIXELS pixels (checked from the
    header before any pixel is decoded): a hostile image can neither hang the reader nor exhaust memory."""
    import zxingcpp
    from PIL import Image

    try:
        data = read_regular_file(path, max_bytes=MAX_PNG_BYTES, what="QR code image")
    except OSError as exc:
        raise QrError(str(exc)) from None
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size
            if width * height > MAX_QR_PIXELS:
                raise QrError(
                    f"image {path} is {width}x{height} pixels, more than the {MAX_QR_PIXELS} allowed"
                )
            image.load()
            results = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    except QrError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken files; all are one refusal
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise QrError(f"cannot read image {path} as PNG: {reason}") from None
    texts = [r.text for r in results if r.valid]
    if len(texts) != 1:
        raise QrError(f"expected exactly one QR code in {path}, found {len(texts)}")
    return texts[0]
