"""The license registry: chain, signatures, monotonic serials, activation policy, CRL."""

from __future__ import annotations

import base64

import pytest

from licensing.core.crl import parse_crl
from licensing.core.license_file import build_license_body
from licensing.core.registry import Registry, RegistryError, device_digest, registry_path, verify_registry
from licensing.core.trusted_keys import TRUSTED
from tests.licensing.helpers import NOW, fingerprint, this_pin, untrusted_signer


@pytest.fixture
def components(machine, keyring):
    return fingerprint(machine, keyring)["components"]


def _body(components, **overrides):
    def build(serial):
        fields = dict(
            serial=serial,
            customer="ACME",
            components=components,
            issued_at=NOW,
            not_before=NOW,
            expires_at=NOW.replace(year=2026),
            stages=["demo"],
            max_activations=2,
            trust_root=this_pin(),
        )
        fields.update(overrides)
        return build_license_body(**fields)

    return build


def _other_device(components, n):
    return {**components, "machine_id": f"{n:096x}"}


@pytest.fixture
def registry(data_dir):
    return Registry(registry_path(data_dir))


@pytest.fixture
def filled(registry, signer, components):
    """Three licenses on three devices, one activation: six lines."""
    for n in range(3):
        registry.issue(_body(_other_device(components, n + 1)), signer, at=NOW)
    registry.activate(1, "act-a", device_digest="sha384:" + "0" * 96, signer=signer, at=NOW)
    registry.revoke(2, reason="refund", signer=signer, at=NOW)
    registry.deactivate(1, "act-a", signer=signer, at=NOW)
    assert verify_registry(registry.path) == []
    return registry


def _lines(registry):
    return registry.path.read_bytes().splitlines(keepends=True)


def test_serials_are_monotonic_and_the_registry_verifies(registry, signer, components):
    serials = [
        registry.issue(_body(_other_device(components, n)), signer, at=NOW).serial for n in range(1, 4)
    ]
    assert serials == [1, 2, 3]
    assert registry.read_state().next_serial() == 4
    assert verify_registry(registry.path) == []


def test_a_second_license_for_the_same_device_is_refused_but_a_reissue_replaces_it(
    registry, signer, components
):
    registry.issue(_body(components), signer, at=NOW)
    with pytest.raises(RegistryError, match="already holds live license 1"):
        registry.issue(_body(components), signer, at=NOW)
    new = registry.reissue(1, _body(components), signer, reason="new disk", at=NOW)
    assert new.serial == 2
    crl = parse_crl(registry.build_crl(signer, at=NOW))
    assert crl.serials == {1}


def test_a_tampered_registry_line_is_reported_with_its_line_number(filled):
    lines = _lines(filled)
    lines[4] = lines[4].replace(b'"refund"', b'"oops!"')
    filled.path.write_bytes(b"".join(lines))
    problems = verify_registry(filled.path)
    assert problems[0].startswith("registry.jsonl:5: signature")
    assert any(p.startswith("registry.jsonl:6: prev_hash") for p in problems)


def test_a_deleted_registry_line_is_reported(filled):
    lines = _lines(filled)
    del lines[2]
    filled.path.write_bytes(b"".join(lines))
    problems = verify_registry(filled.path)
    assert problems and problems[0].startswith("registry.jsonl:3: seq 4 where 3 was expected")


def test_reordered_registry_lines_are_reported(filled):
    lines = _lines(filled)
    lines[1], lines[2] = lines[2], lines[1]
    filled.path.write_bytes(b"".join(lines))
    problems = verify_registry(filled.path)
    assert any(p.startswith("registry.jsonl:2:") for p in problems)
    assert any(p.startswith("registry.jsonl:3:") for p in problems)


def test_a_line_signed_by_an_untrusted_key_is_refused_and_reported(filled, components):
    evil = untrusted_signer("vendor-evil")
    with pytest.raises(RegistryError, match="not a trusted license key"):
        filled.issue(_body(_other_device(components, 9)), evil, at=NOW)
    assert verify_registry(filled.path) == []
    # An attacker's own registry code would write it anyway: the verifier still names the line.
    public = base64.b64encode(evil._private_key.public_key().public_bytes_raw()).decode()
    lenient = Registry(
        filled.path, trusted_keys={**TRUSTED, "vendor-evil": ("ed25519", public, "development")}
    )
    lenient.issue(_body(_other_device(components, 9)), evil, at=NOW)
    assert verify_registry(filled.path) == [
        "registry.jsonl:7: signature: key vendor-evil is not a trusted license key"
    ]


def test_a_broken_registry_is_never_appended_to(filled, signer, components):
    filled.path.write_bytes(filled.path.read_bytes().replace(b'"refund"', b'"oops!"'))
    size = filled.path.stat().st_size
    with pytest.raises(RegistryError, match="registry does not verify"):
        filled.issue(_body(_other_device(components, 9)), signer, at=NOW)
    assert filled.path.stat().st_size == size


def test_an_activate_deactivate_loop_cannot_exceed_max_activations(registry, signer, components):
    registry.issue(_body(components, max_activations=2), signer, at=NOW)
    digest = device_digest(components)
    for round_ in range(10):
        registry.activate(1, f"act-{round_}-a", device_digest=digest, signer=signer, at=NOW)
        registry.activate(1, f"act-{round_}-b", device_digest=digest, signer=signer, at=NOW)
        with pytest.raises(RegistryError, match="already has 2 of 2"):
            registry.activate(1, f"act-{round_}-c", device_digest=digest, signer=signer, at=NOW)
        with pytest.raises(RegistryError, match="already active"):
            registry.activate(1, f"act-{round_}-a", device_digest=digest, signer=signer, at=NOW)
        registry.deactivate(1, f"act-{round_}-a", signer=signer, at=NOW)
        registry.deactivate(1, f"act-{round_}-b", signer=signer, at=NOW)
    state = registry.read_state()
    assert len(state.licenses) == 1  # the loop minted no license
    assert state.licenses[1].active == set()
    assert verify_registry(registry.path) == []
    # Deactivating twice and activating a revoked license are refused too.
    with pytest.raises(RegistryError, match="is not active"):
        registry.deactivate(1, "act-0-a", signer=signer, at=NOW)
    registry.revoke(1, reason="fraud", signer=signer, at=NOW)
    with pytest.raises(RegistryError, match="license 1 is revoked"):
        registry.activate(1, "act-late", device_digest=digest, signer=signer, at=NOW)


def test_cutting_lines_off_the_end_is_caught_by_the_signed_checkpoint(filled):
    lines = filled.path.read_bytes().split(b"\n")[:-1]
    filled.path.write_bytes(b"".join(line + b"\n" for line in lines[:-2]))  # the revocation's tail is gone
    problems = verify_registry(filled.path)
    assert problems and "checkpoint says 6" in problems[0]
    with pytest.raises(RegistryError):
        filled.read_state()


def test_a_registry_without_its_checkpoint_does_not_verify(filled):
    from licensing.core.registry import checkpoint_path

    checkpoint_path(filled.path).unlink()
    assert "missing checkpoint" in verify_registry(filled.path)[0]


def test_an_append_interrupted_before_its_checkpoint_is_sealed_by_the_next_append(filled, signer, components):
    from licensing.core.registry import checkpoint_path

    before = checkpoint_path(filled.path).read_bytes()
    filled.issue(_body(_other_device(components, 9)), signer, at=NOW)
    checkpoint_path(filled.path).write_bytes(before)  # as if the process died between the two writes
    assert verify_registry(filled.path)  # reported until repaired
    filled.issue(_body(_other_device(components, 10)), signer, at=NOW)
    assert verify_registry(filled.path) == []
    assert filled.read_state().seq == 8


def test_a_forged_checkpoint_is_refused(filled):
    from licensing.core.registry import checkpoint_path

    path = checkpoint_path(filled.path)
    path.write_bytes(path.read_bytes().replace(b'"count":6', b'"count":4'))
    assert "checkpoint does not verify" in verify_registry(filled.path)[0]
