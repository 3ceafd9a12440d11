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

from audit.trust.fsutil import atomic_write_bytes

MAX_QR_PAYLOAD = 2300  # bytes in a version-40 QR code at error-correction level M is 2331
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


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
    """Decode the single QR code in an image with zxing-cpp. Raises QrError."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            results = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    except (OSError, UnidentifiedImageError) as exc:
        raise QrError(f"cannot read image {path}: {exc}") from exc
    texts = [r.text for r in results if r.valid]
    if len(texts) != 1:
        raise QrError(f"expected exactly one QR code in {path}, found {len(texts)}")
    return texts[0]
