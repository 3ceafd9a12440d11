"""The parse cache: a canonical license file is parsed once per exact bytes, and nobody shares anything
mutable through it. The daemon re-verifies the same installed file on every gate tick."""

from __future__ import annotations

import json

import pytest

from licensing.core import crl as crl_module
from licensing.core import license_file
from licensing.core.crl import build_crl, parse_crl
from licensing.core.license_file import LicenseError, clear_parse_cache, parse_license
from licensing.core.trusted_keys import TRUSTED
from licensing.core.verify import verify_license
from tests.licensing.helpers import NOW, make_license, this_pin


@pytest.fixture(autouse=True)
def _cold_cache():
    clear_parse_cache()
    yield
    clear_parse_cache()


def _strict(data: bytes):
    """The parse without the cache, for comparison."""
    return license_file._parse_license(data)


def test_the_same_bytes_twice_give_equal_licenses_that_share_nothing_mutable(lic):
    data = lic.to_bytes()
    first, second = parse_license(data), parse_license(bytearray(data))
    assert first == second == _strict(data)
    assert first is not second
    assert first.document is not second.document and first.components is not second.components
    assert first.signed_message() == second.signed_message() == _strict(data).signed_message()


def test_a_caller_that_changes_its_license_changes_only_its_own(lic):
    data = lic.to_bytes()
    mine = parse_license(data)
    mine.document["customer"] = "Mallory"
    mine.document["device"]["components"]["cpu"] = "0" * 96
    mine.components["machine_id"] = "f" * 96
    again = parse_license(data)
    assert again.document == json.loads(data)
    assert again.components == lic.components
    assert again.to_bytes() == data


def test_a_license_from_the_cache_still_verifies_and_one_changed_byte_is_a_new_parse(lic, record):
    data = lic.to_bytes()
    for _ in range(3):
        status = verify_license(data, fingerprint_record=record, now=NOW, trust_root=this_pin())
        assert status.valid, status.reasons
    forged = data.replace(b'"customer":"', b'"customer":"X', 1)
    status = verify_license(forged, fingerprint_record=record, now=NOW, trust_root=this_pin())
    assert not status.valid and "license signature" in status.reasons[0]


def test_non_canonical_bytes_are_parsed_strictly_every_time_and_never_kept(lic):
    spaced = json.dumps(lic.document, indent=1).encode()
    duplicate = lic.to_bytes().replace(b'{"customer"', b'{"customer":"A","customer"', 1)
    assert parse_license(spaced) == lic
    for _ in range(2):
        with pytest.raises(LicenseError, match="strict JSON"):
            parse_license(duplicate)
    assert not license_file._parsed  # only canonical files are cached


def test_a_malformed_signature_is_refused_in_the_same_words_from_the_cache(signer, record):
    doc = dict(make_license(signer, record["components"]).document, signature="ed25519:nokey:AAAA")
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    reasons = {
        tuple(verify_license(data, fingerprint_record=record, now=NOW, trust_root=this_pin()).reasons)
        for _ in range(3)
    }
    assert len(reasons) == 1
    assert "license signature" in next(iter(reasons))[0]


def test_the_cache_keeps_a_few_licenses_only(signer, record):
    for serial in range(1, 3 * license_file._PARSED_LIMIT):
        parse_license(make_license(signer, record["components"], serial=serial).to_bytes())
    assert len(license_file._parsed) == license_file._PARSED_LIMIT


def test_a_crl_is_verified_once_per_content_and_a_changed_byte_is_verified_again(signer):
    crl_module.clear_cache()
    document = build_crl(
        [{"serial": 7, "reason": "x", "revoked_at": "2026-01-01T00:00:00Z"}],
        number=3,
        issued_at=NOW,
        signer=signer,
    )
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    first = parse_crl(data, trusted_keys=TRUSTED, allow_development_keys=True)
    assert parse_crl(bytes(bytearray(data)), allow_development_keys=True) is first  # equal content
    with pytest.raises(crl_module.CrlError):
        parse_crl(data.replace(b'"number":3', b'"number":4'), allow_development_keys=True)
