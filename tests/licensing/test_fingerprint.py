"""Fingerprint components, environment detection, the signed record and the matching policy."""

from __future__ import annotations

import pytest

from audit.trust.canonical import canonical_bytes
from licensing.core.fingerprint import (
    DEFAULT_POLICY,
    FingerprintError,
    SystemProbe,
    collect_components,
    component_hash,
    detect_environment,
    verify_fingerprint_record,
)
from tests.licensing.fakesys import (
    MACHINE_ID,
    add_usb_dongle,
    make_container,
    make_vm,
    set_cpu_model,
    set_disk_serial,
    set_mac,
    set_machine_id,
)
from tests.licensing.helpers import fingerprint


def test_a_physical_machine_yields_all_five_core_components(machine, keyring):
    record = fingerprint(machine, keyring)
    assert record["found"] == ["cpu", "disk", "mac", "machine_id", "tpm"]
    assert record["missing"] == []
    assert record["environment"] == {"kind": "physical", "name": "none", "evidence": []}
    verify_fingerprint_record(record, keyring=keyring)


def test_raw_serials_and_addresses_never_appear_in_the_record(machine, keyring):
    text = canonical_bytes(fingerprint(machine, keyring)).decode()
    for raw in (MACHINE_ID, "S4EWNX0R123456", "3c:ec:ef:12:34:56", "GenuineIntel", "Xeon"):
        assert raw not in text


def test_virtual_loopback_random_and_locally_administered_interfaces_are_ignored(machine):
    probe = SystemProbe(machine)
    only_physical = component_hash("mac", ["3c:ec:ef:12:34:56"])
    assert collect_components(probe)["mac"] == only_physical
    set_mac(machine, "eno2", "3c:ec:ef:00:00:01")  # a second physical NIC does count
    assert collect_components(probe)["mac"] != only_physical


def test_a_missing_tpm_is_simply_reported_as_missing(tmp_path, keyring):
    from tests.licensing.fakesys import build_machine

    record = fingerprint(build_machine(tmp_path / "no-tpm", tpm_pubek=None), keyring)
    assert "tpm" not in record["components"]
    assert record["missing"] == ["tpm"]


def test_a_docker_container_is_reported_with_its_evidence(machine):
    make_container(machine)
    env = detect_environment(SystemProbe(machine))
    assert env["kind"] == "container"
    assert "/.dockerenv exists" in env["evidence"]


def test_a_kvm_guest_is_reported_from_its_dmi_product_name(machine):
    make_vm(machine, "KVM")
    env = detect_environment(SystemProbe(machine))
    assert (env["kind"], env["name"]) == ("vm", "kvm")


def test_a_configured_usb_dongle_becomes_a_component_only_when_plugged_in(machine, keyring):
    spec = "096e:0006:DONGLE42"
    assert "usb_dongle" in fingerprint(machine, keyring, usb_dongle=spec)["missing"]
    add_usb_dongle(machine)
    assert "usb_dongle" in fingerprint(machine, keyring, usb_dongle=spec)["components"]


def test_a_malformed_usb_dongle_setting_is_refused(machine):
    with pytest.raises(FingerprintError, match="vendor:product:serial"):
        collect_components(SystemProbe(machine), usb_dongle="not-a-dongle")


def test_an_edited_fingerprint_record_fails_its_hmac(machine, keyring):
    record = fingerprint(machine, keyring)
    record["components"]["cpu"] = "0" * 96
    with pytest.raises(FingerprintError, match="signature does not verify"):
        verify_fingerprint_record(record, keyring=keyring)


def test_one_changed_component_still_matches_and_is_reported(machine):
    licensed = collect_components(SystemProbe(machine))
    set_disk_serial(machine, "NEW-DISK-0001")
    result = DEFAULT_POLICY.match(licensed, collect_components(SystemProbe(machine)))
    assert result.ok
    assert result.changed == ("disk",)


def test_three_changed_components_do_not_match(machine):
    licensed = collect_components(SystemProbe(machine))
    set_disk_serial(machine, "NEW-DISK-0001")
    set_cpu_model(machine, "AMD EPYC 7763")
    set_mac(machine, "eno1", "3c:ec:ef:ff:ff:ff")
    result = DEFAULT_POLICY.match(licensed, collect_components(SystemProbe(machine)))
    assert not result.ok
    assert set(result.changed) == {"disk", "cpu", "mac"}
    assert "only 2 of the required 3" in result.reason


def test_a_changed_machine_id_never_matches(machine):
    licensed = collect_components(SystemProbe(machine))
    set_machine_id(machine, "f" * 32)
    result = DEFAULT_POLICY.match(licensed, collect_components(SystemProbe(machine)))
    assert not result.ok
    assert "machine_id does not match" in result.reason
