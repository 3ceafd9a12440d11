"""verify_license: signature, pinned algorithm, trusted keys, fingerprint, dates, revocation, stage, clock."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jsonschema
import pytest

from audit.trust.canonical import canonical_bytes
from audit.trust.paths import REPO_ROOT
from licensing.core.crl import build_crl
from licensing.core.license_file import LicenseError, parse_license
from licensing.core.trusted_keys import TRUSTED
from licensing.core.verify import verify_license as _verify_license
from tests.licensing.fakesys import (
    build_machine,
    make_vm,
    set_cpu_model,
    set_disk_serial,
    set_mac,
    set_machine_id,
)
from tests.licensing.helpers import NOW, fingerprint, make_license, this_pin, untrusted_signer


def verify_license(*args, **kwargs):
    """verify_license on this test's installation: its pin is what every license here is made for."""
    kwargs.setdefault("trust_root", this_pin())
    return _verify_license(*args, **kwargs)


def _only_reason(status, text):
    assert not status.valid
    assert any(text in r for r in status.reasons), status.reasons


def test_a_license_for_this_machine_is_valid(lic, record):
    status = verify_license(lic.to_bytes(), fingerprint_record=record, now=NOW, stage="paper")
    assert status.valid, status.reasons
    assert status.matched == ("machine_id", "cpu", "mac", "disk", "tpm")
    assert status.changed == ()


def test_the_license_document_matches_its_published_schema(lic):
    schema = json.loads((REPO_ROOT / "docs/schemas/license_v2.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(lic.to_bytes()))


def test_a_forged_signature_is_refused(lic, record):
    doc = json.loads(lic.to_bytes())
    raw = bytearray(base64.b64decode(doc["signature"].split(":")[2]))
    raw[0] ^= 0x01
    doc["signature"] = "ed25519:license-dev-1:" + base64.b64encode(bytes(raw)).decode()
    _only_reason(
        verify_license(canonical_bytes(doc), fingerprint_record=record, now=NOW), "bad ed25519 signature"
    )


def test_an_edited_license_field_breaks_the_signature(lic, record):
    doc = json.loads(lic.to_bytes())
    doc["stages"] = ["demo", "paper", "live"]
    _only_reason(
        verify_license(canonical_bytes(doc), fingerprint_record=record, now=NOW), "bad ed25519 signature"
    )


def test_a_license_signed_by_an_untrusted_key_is_refused(record):
    forged = make_license(untrusted_signer("vendor-evil"), record["components"])
    _only_reason(verify_license(forged, fingerprint_record=record, now=NOW), "not a trusted license key")


def test_an_untrusted_key_claiming_the_trusted_kid_is_refused(record):
    forged = make_license(untrusted_signer("license-dev-1"), record["components"])
    _only_reason(verify_license(forged, fingerprint_record=record, now=NOW), "bad ed25519 signature")


def test_a_license_whose_signature_claims_hmac_sha384_is_refused(lic, record):
    doc = json.loads(lic.to_bytes())
    doc["signature"] = "hmac-sha384:license-dev-1:" + base64.b64encode(b"\x00" * 48).decode()
    _only_reason(
        verify_license(canonical_bytes(doc), fingerprint_record=record, now=NOW),
        "claims hmac-sha384 but key license-dev-1 is ed25519",
    )


def test_a_license_whose_signature_names_an_unknown_algorithm_is_refused(lic, record):
    doc = json.loads(lic.to_bytes())
    doc["signature"] = doc["signature"].replace("ed25519:", "rsa-pss:", 1)
    _only_reason(
        verify_license(canonical_bytes(doc), fingerprint_record=record, now=NOW),
        "unknown signature algorithm",
    )


def test_a_development_key_is_refused_when_the_caller_refuses_it(lic, record):
    """Fails when trusted_verifying_key stops refusing `development` keys on request."""
    status = verify_license(lic, fingerprint_record=record, now=NOW, allow_development_keys=False)
    _only_reason(status, "development key, refused unless OEM_ALLOW_DEVELOPMENT_LICENSES=true")


@pytest.mark.parametrize("switch", [None, "", "false"])
def test_a_development_key_license_is_refused_without_the_switch(lic, record, monkeypatch, switch):
    """Fails when vendor_trust stops asking devkeys.resolve (the default would accept the development key)."""
    if switch is None:
        monkeypatch.delenv("OEM_ALLOW_DEVELOPMENT_LICENSES", raising=False)
    else:
        monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", switch)
    status = verify_license(lic, fingerprint_record=record, now=NOW)
    _only_reason(status, "development key, refused unless OEM_ALLOW_DEVELOPMENT_LICENSES=true")


@pytest.mark.parametrize(
    ("switch", "env", "text"),
    [
        ("yes", "development", "must be true or false"),
        ("true", "production", "refused when OEM_ENV=production"),
    ],
)
def test_a_malformed_or_production_switch_refuses_in_one_line(lic, record, monkeypatch, switch, env, text):
    """Fails when development_licenses_allowed guesses at values or honours the switch in production."""
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", switch)
    monkeypatch.setenv("OEM_ENV", env)
    _only_reason(verify_license(lic, fingerprint_record=record, now=NOW), text)


def test_a_production_key_verifies_in_production_mode(record):
    vendor = untrusted_signer("license-prod-1")
    public = vendor._private_key.public_key().public_bytes_raw()
    trusted = {**TRUSTED, "license-prod-1": ("ed25519", base64.b64encode(public).decode(), "production")}
    lic = make_license(vendor, record["components"])
    status = verify_license(
        lic, fingerprint_record=record, now=NOW, trusted_keys=trusted, allow_development_keys=False
    )
    assert status.valid, status.reasons


def test_a_license_for_another_fingerprint_is_refused(lic, tmp_path, keyring):
    other = build_machine(
        tmp_path / "other",
        machine_id="9" * 32,
        mac="3c:ec:ef:00:00:99",
        disk_serial="OTHER",
        tpm_pubek="other ek",
        cpuinfo="processor: 0\nvendor_id: AuthenticAMD\nmodel name: EPYC\n",
    )
    status = verify_license(lic, fingerprint_record=fingerprint(other, keyring), now=NOW)
    _only_reason(status, "device fingerprint does not match")
    assert set(status.changed) == {"machine_id", "cpu", "mac", "disk", "tpm"}


def test_one_changed_component_is_still_valid_and_reported(lic, machine, keyring):
    set_disk_serial(machine, "REPLACED-DISK")
    status = verify_license(lic, fingerprint_record=fingerprint(machine, keyring), now=NOW)
    assert status.valid, status.reasons
    assert status.changed == ("disk",)
    assert "changed components: disk" in status.summary()


def test_three_changed_components_are_refused(lic, machine, keyring):
    set_disk_serial(machine, "REPLACED-DISK")
    set_cpu_model(machine, "AMD EPYC 7763")
    set_mac(machine, "eno1", "3c:ec:ef:ff:ff:ff")
    status = verify_license(lic, fingerprint_record=fingerprint(machine, keyring), now=NOW)
    _only_reason(status, "only 2 of the required 3 components match")


def test_a_changed_machine_id_is_refused(lic, machine, keyring):
    set_machine_id(machine, "a" * 32)
    _only_reason(
        verify_license(lic, fingerprint_record=fingerprint(machine, keyring), now=NOW),
        "machine_id does not match",
    )


def test_a_virtual_machine_is_refused_unless_the_license_allows_it(signer, machine, keyring):
    make_vm(machine, "QEMU Standard PC")
    record = fingerprint(machine, keyring)
    plain = make_license(signer, record["components"])
    _only_reason(
        verify_license(plain, fingerprint_record=record, now=NOW),
        "license does not allow virtual environments",
    )
    allowing = make_license(signer, record["components"], allow_virtual=True)
    assert verify_license(allowing, fingerprint_record=record, now=NOW).valid


def test_an_expired_license_is_refused(lic, record):
    _only_reason(
        verify_license(lic, fingerprint_record=record, now=NOW + timedelta(days=366)), "license expired at"
    )


def test_a_license_is_refused_before_not_before(signer, record):
    lic = make_license(signer, record["components"], not_before=NOW + timedelta(days=2))
    _only_reason(verify_license(lic, fingerprint_record=record, now=NOW), "not valid before")


def test_the_clock_moved_back_before_the_high_water_mark_is_refused(lic, record):
    status = verify_license(lic, fingerprint_record=record, now=NOW, high_water=NOW + timedelta(minutes=6))
    _only_reason(status, "clock moved back")
    within = verify_license(lic, fingerprint_record=record, now=NOW, high_water=NOW + timedelta(minutes=4))
    assert within.valid, within.reasons


def test_a_revoked_serial_is_refused(lic, record):
    _only_reason(
        verify_license(lic, fingerprint_record=record, now=NOW, revoked_serials={1}), "serial 1 is revoked"
    )


def test_a_signed_crl_listing_the_serial_revokes_it(lic, record, signer):
    crl = build_crl(
        [{"serial": 1, "reason": "refund", "revoked_at": "2025-05-01T00:00:00.000000Z"}],
        number=7,
        issued_at=NOW,
        signer=signer,
    )
    _only_reason(
        verify_license(lic, fingerprint_record=record, now=NOW, revoked_serials=canonical_bytes(crl)),
        "revoked",
    )


def test_a_tampered_crl_fails_closed(lic, record, signer):
    crl = build_crl(
        [{"serial": 1, "reason": "refund", "revoked_at": "2025-05-01T00:00:00.000000Z"}],
        number=7,
        issued_at=NOW,
        signer=signer,
    )
    crl["revoked"] = []  # someone un-revokes serial 1
    status = verify_license(lic, fingerprint_record=record, now=NOW, revoked_serials=canonical_bytes(crl))
    _only_reason(status, "revocation list signature")


def test_a_stage_outside_the_license_is_refused(lic, record):
    _only_reason(
        verify_license(lic, fingerprint_record=record, now=NOW, stage="live"), "stage live is not licensed"
    )


def test_ambiguous_json_is_refused_before_any_check(lic, record):
    text = lic.to_bytes().decode().replace('{"customer":', '{"customer":"Evil","customer":', 1)
    _only_reason(verify_license(text.encode(), fingerprint_record=record, now=NOW), "duplicate key")


def test_a_naive_time_is_refused(lic, record):
    _only_reason(
        verify_license(lic, fingerprint_record=record, now=NOW.replace(tzinfo=None)), "timezone-aware"
    )


def test_unexpected_license_fields_are_refused(lic):
    doc = json.loads(lic.to_bytes())
    doc["unlimited"] = True
    with pytest.raises(LicenseError, match="unexpected"):
        parse_license(doc)


def test_the_fast_signed_message_equals_rfc8785_signing_input(signer, record):
    from audit.trust.canonical import DOMAIN_LICENSE, signing_input

    odd = 'Zürich \u2028 Tab\t Ctrl\x01 "quoted" \\ 😀 \u00e9\u0301 \x7f'
    lic = make_license(signer, record["components"], customer=odd, edition="e\u00e9", serial=2**53 - 1)
    assert lic.signed_message() == signing_input(DOMAIN_LICENSE, lic.body)
    assert verify_license(lic.to_bytes(), fingerprint_record=record, now=NOW).valid


def test_a_canonical_license_file_is_parsed_once_and_its_signed_bytes_cut_from_it(signer, record):
    """The bytes of a canonical file give the signed body directly; any other form of the same document
    goes through the strict parser and the encoder, with the same license and the same signed message."""
    from audit.trust.canonical import DOMAIN_LICENSE, signing_input

    odd = 'Zürich \u2028 Tab\t Ctrl\x01 "quoted" \\ 😀 \u00e9\u0301 \x7f ,"signature":"x"'
    lic = make_license(signer, record["components"], customer=odd)
    canonical = parse_license(lic.to_bytes())
    assert canonical.signed_body is not None
    assert canonical.signed_message() == signing_input(DOMAIN_LICENSE, lic.body)
    spaced = json.dumps(lic.document, indent=1, ensure_ascii=True).encode()
    for other in (spaced, lic.to_bytes().decode(), lic.document):
        parsed = parse_license(other)
        assert parsed.signed_body is None
        assert parsed == canonical and parsed.signed_message() == canonical.signed_message()
    assert verify_license(lic.to_bytes(), fingerprint_record=record, now=NOW).valid


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.replace(b'{"customer":', b'{"customer":"dup","customer":', 1),
        lambda b: b"\xef\xbb\xbf" + b,
        lambda b: b.replace(b"Bench", b"\\ud800", 1),
        lambda b: b.rstrip(b"\n") + b"{}",
    ],
    ids=["duplicate key", "byte order mark", "lone surrogate", "trailing data"],
)
def test_what_the_strict_parser_refuses_is_refused_whatever_the_form(signer, record, mutate):
    lic = make_license(signer, record["components"], customer="Bench")
    with pytest.raises(LicenseError, match="strict JSON"):
        parse_license(mutate(lic.to_bytes()))
