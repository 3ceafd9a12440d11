"""The CRL and the installed license are signature-checked once per content: the daemon's periodic check
re-reads them but checks a vendor signature again only when the bytes, the trusted keys or the
development-key switch change. Refusals are never remembered."""

from __future__ import annotations

import pytest

from audit.trust.canonical import canonical_bytes
from audit.trust.keyring import format_time
from licensing.core import crl as crl_module
from licensing.core.crl import CrlError, build_crl, clear_cache, parse_crl
from licensing.core.license_file import load_vendor_signer
from licensing.core.trusted_keys import TRUSTED
from tests.licensing.helpers import NOW


@pytest.fixture
def verifications(monkeypatch):
    """How many times the real vendor-signature check runs (a counting wrapper around it)."""
    clear_cache()
    calls = []
    real = crl_module.verify_vendor_bytes

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(crl_module, "verify_vendor_bytes", counting)
    yield calls
    clear_cache()


def _crl_bytes(serials=(2, 3), number=4) -> bytes:
    revoked = [{"serial": s, "reason": "refund", "revoked_at": format_time(NOW)} for s in serials]
    return canonical_bytes(build_crl(revoked, number=number, issued_at=NOW, signer=load_vendor_signer()))


def test_the_same_crl_bytes_are_verified_once(verifications):
    data = _crl_bytes()
    first = parse_crl(data)
    again = parse_crl(bytearray(data))
    as_text = parse_crl(data.decode())
    assert first.serials == again.serials == as_text.serials == frozenset({2, 3})
    assert len(verifications) == 1


def test_a_changed_crl_is_verified_again_and_a_tampered_one_is_refused_every_time(verifications):
    parse_crl(_crl_bytes())
    newer = parse_crl(_crl_bytes(serials=(2, 3, 5), number=5))
    assert newer.serials == frozenset({2, 3, 5}) and len(verifications) == 2
    tampered = _crl_bytes().replace(b'"serial":3', b'"serial":9')
    for _ in range(2):
        with pytest.raises(CrlError, match="signature"):
            parse_crl(tampered)
    assert len(verifications) == 4


def test_a_crl_cached_under_the_development_switch_is_refused_once_the_switch_is_off(
    verifications, monkeypatch
):
    data = _crl_bytes()  # signed with the committed development key
    assert parse_crl(data).number == 4
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "false")
    with pytest.raises(CrlError, match="development key"):
        parse_crl(data)
    assert parse_crl(data, allow_development_keys=True).number == 4
    assert len(verifications) == 2


def test_a_crl_cached_under_one_set_of_trusted_keys_is_checked_again_under_another(verifications):
    data = _crl_bytes()
    parse_crl(data)
    with pytest.raises(CrlError, match="not a trusted license key"):
        parse_crl(data, trusted_keys={k: v for k, v in TRUSTED.items() if v[2] != "development"})
    assert len(verifications) == 2


def test_an_installed_license_is_signature_checked_once_and_a_changed_one_again(
    monkeypatch, machine, keyring
):
    """The daemon re-verifies the same license on every gate tick: its vendor signature is checked once per
    signed bytes; a license with a changed byte is checked again and refused."""
    from licensing.core import verify as verify_module
    from tests.licensing.helpers import fingerprint, make_license, this_pin

    verify_module.clear_cache()
    calls = []
    real = verify_module.verify_vendor_parsed

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(verify_module, "verify_vendor_parsed", counting)
    record = fingerprint(machine, keyring)
    data = make_license(load_vendor_signer(), record["components"]).to_bytes()
    for _ in range(3):
        status = verify_module.verify_license(data, fingerprint_record=record, now=NOW, trust_root=this_pin())
        assert status.valid, status.reasons
    assert len(calls) == 1
    forged = data.replace(b"ACME Trading", b"ACME Tradinh")
    for _ in range(2):
        status = verify_module.verify_license(
            forged, fingerprint_record=record, now=NOW, trust_root=this_pin()
        )
        assert not status.valid and "license signature" in status.reasons[0]
    assert len(calls) == 3
    verify_module.clear_cache()
