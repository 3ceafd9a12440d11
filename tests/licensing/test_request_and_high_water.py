"""Device requests (fingerprint HMAC, digest, foreign installations) and the signed high-water mark."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from audit.trust.canonical import canonical_bytes
from audit.trust.keyring import KeyRing
from licensing.core.high_water import HighWaterError, check_clock, high_water_path, load_mark, update_mark
from licensing.core.request import RequestError, build_request, load_request, request_digest
from tests.licensing.helpers import NOW, fingerprint, this_pin
from tests.trust_setup import installed


@pytest.fixture
def request_bytes(machine, keyring):
    return canonical_bytes(
        build_request(fingerprint(machine, keyring), hostname="trader-01", now=NOW, trust_root=this_pin())
    )


def test_a_request_from_this_installation_loads_with_its_hmac_verified(request_bytes, keyring):
    request = load_request(request_bytes, keyring)
    assert request.device_hmac_verified
    assert request.hostname == "trader-01"
    assert set(request.components) == {"machine_id", "cpu", "mac", "disk", "tpm"}


def test_a_request_with_a_broken_fingerprint_signature_is_refused(request_bytes, keyring):
    doc = json.loads(request_bytes)
    doc["fingerprint"]["components"]["disk"] = "ab" * 48  # swap in another disk, keep the old HMAC
    doc["request_digest"] = request_digest(doc)  # and fix up the digest, as an attacker would
    with pytest.raises(RequestError, match="fingerprint signature does not verify") as caught:
        load_request(canonical_bytes(doc), keyring)
    assert "\n" not in str(caught.value)


def test_a_request_damaged_in_transit_is_refused_by_its_digest(request_bytes, keyring):
    doc = json.loads(request_bytes)
    doc["hostname"] = "trader-02"
    with pytest.raises(RequestError, match="digest does not match"):
        load_request(canonical_bytes(doc), keyring)


def test_a_request_from_another_installation_needs_explicit_acceptance(request_bytes, tmp_path):
    installed(tmp_path / "vendor")
    vendor_ring = KeyRing.load(tmp_path / "vendor")
    with pytest.raises(RequestError, match="not on this key ring"):
        load_request(request_bytes, vendor_ring)
    request = load_request(request_bytes, vendor_ring, allow_foreign=True)
    assert not request.device_hmac_verified


def test_the_high_water_mark_only_moves_forward(keyring):
    assert load_mark(keyring) is None
    update_mark(keyring, NOW)
    update_mark(keyring, NOW - timedelta(hours=1))
    assert load_mark(keyring) == NOW
    update_mark(keyring, NOW + timedelta(hours=1))
    assert load_mark(keyring) == NOW + timedelta(hours=1)


def test_a_clock_moved_back_before_the_stored_mark_is_refused(keyring):
    update_mark(keyring, NOW)
    reason = check_clock(NOW - timedelta(minutes=10), load_mark(keyring))
    assert reason.startswith("clock moved back")
    assert check_clock(NOW - timedelta(minutes=4), load_mark(keyring)) is None


def test_a_tampered_high_water_file_is_refused(keyring):
    update_mark(keyring, NOW)
    path = high_water_path(keyring.data_dir)
    doc = json.loads(path.read_bytes())
    doc["mark"] = "2020-01-01T00:00:00.000000Z"  # roll the mark back to hide a clock rollback
    path.write_bytes(canonical_bytes(doc))
    with pytest.raises(HighWaterError, match="failed its signature check"):
        load_mark(keyring)
    with pytest.raises(HighWaterError):
        update_mark(keyring, NOW)
