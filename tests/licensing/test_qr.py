"""QR round trips through real PNG images decoded by zxing-cpp (no fallback decoder)."""

from __future__ import annotations

import zxingcpp
from PIL import Image

from licensing.core import qr
from licensing.core.license_file import from_qr_text, read_license_qr_png, to_qr_text, write_license_qr_png
from licensing.core.request import build_request, load_request
from licensing.core.request import from_qr_text as request_from_qr_text
from licensing.core.request import to_qr_text as request_to_qr_text
from licensing.core.verify import verify_license
from tests.licensing.helpers import NOW, fingerprint, make_license, this_pin


def test_a_license_survives_encode_png_zxing_decode_and_verifies(tmp_path, machine, keyring, signer):
    record = fingerprint(machine, keyring)
    lic = make_license(signer, record["components"], features=["paper-labs", "smart-routing"])
    text = to_qr_text(lic)
    assert text.startswith("OEMLIC1:") and len(text) < qr.MAX_QR_PAYLOAD
    png = tmp_path / "license.png"
    write_license_qr_png(lic, png)
    assert png.read_bytes().startswith(b"\x89PNG")
    with Image.open(png) as image:  # the real decoder, called directly as well
        assert [r.text for r in zxingcpp.read_barcodes(image)] == [text]
    decoded = read_license_qr_png(png)
    assert decoded.to_bytes() == lic.to_bytes()
    assert verify_license(
        decoded, fingerprint_record=record, now=NOW, stage="paper", trust_root=this_pin()
    ).valid


def test_a_request_survives_a_qr_round_trip(tmp_path, machine, keyring):
    document = build_request(
        fingerprint(machine, keyring), hostname="trader-01", now=NOW, trust_root=this_pin()
    )
    png = tmp_path / "request.png"
    qr.write_png(request_to_qr_text(document), png)
    request = load_request(request_from_qr_text(qr.read_png(png)), keyring)
    assert request.digest == document["request_digest"]


def test_an_edited_qr_text_does_not_verify(machine, keyring, signer):
    record = fingerprint(machine, keyring)
    lic = make_license(signer, record["components"])
    doc = dict(lic.document, customer="Someone Else")
    assert not verify_license(from_qr_text(to_qr_text(doc)), fingerprint_record=record, now=NOW).valid
