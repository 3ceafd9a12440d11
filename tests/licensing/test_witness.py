"""Licensing state cannot be rolled back: registry (+ checkpoint), CRL number and high-water mark are kept
monotonic through audit.trust.witness. An older signed copy, or a file deleted after first use, is refused
naming the file and both positions."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from audit.trust.keyring import utc_now
from audit.trust.witness import WitnessError
from licensing.core.cli import (
    activate_license_main,
    license_request_main,
    oem_provision_license_main,
    revoke_license_main,
    verify_license_registry_main,
)
from licensing.core.cli import system_probe as probe
from licensing.core.device import check_installed_license, observe_crl
from licensing.core.high_water import high_water_path, load_mark, update_mark
from licensing.core.registry import Registry, registry_path
from tests.licensing.helpers import NOW, this_pin


@pytest.fixture
def provisioned(tmp_path, data_dir, capsys):
    """This device's license (serial 1) and two other devices' (2, 3), issued through the registry."""
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    argv = ["--request", str(tmp_path / "req.json"), "--customer", "ACME", "--stages", "demo,paper"]
    assert oem_provision_license_main([*argv, "--valid-days", "30", "--out", str(tmp_path / "lic.json")]) == 0
    registry = Registry(registry_path(data_dir))
    from licensing.core.license_file import build_license_body, load_vendor_signer

    for n in (2, 3):
        registry.issue(
            lambda serial, n=n: build_license_body(
                serial=serial,
                customer="Other",
                components={"machine_id": f"{n:096x}", "cpu": "ab" * 48, "mac": "cd" * 48},
                issued_at=NOW,
                not_before=NOW,
                expires_at=NOW + timedelta(days=3650),
                stages=["demo"],
                trust_root=this_pin(),
            ),
            load_vendor_signer(),
            at=NOW,
        )
    capsys.readouterr()
    return tmp_path / "lic.json"


def _refused(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def test_an_older_signed_crl_is_refused_after_a_newer_one_was_seen(provisioned, data_dir, capsys):
    """Fails when device_state reads the CRL without observe_crl's witness check (the older CRL, validly
    signed, would hide the revocation of serial 3)."""
    crl = data_dir / "licenses" / "crl.json"
    assert revoke_license_main(["--serial", "2", "--reason", "refund"]) == 0
    older = crl.read_bytes()
    assert revoke_license_main(["--serial", "3", "--reason", "fraud"]) == 0
    assert activate_license_main([str(provisioned)]) == 0
    capsys.readouterr()
    crl.write_bytes(older)
    assert activate_license_main([str(provisioned)]) == 1
    _refused(capsys, str(crl), "rolled back", "file at 4 ", "witness at 5 ")


def test_a_deleted_crl_after_first_use_is_refused(provisioned, data_dir, capsys):
    """Fails when a missing crl.json is taken as "nothing revoked" once a CRL was seen."""
    assert revoke_license_main(["--serial", "2", "--reason", "refund"]) == 0
    assert activate_license_main([str(provisioned)]) == 0
    capsys.readouterr()
    (data_dir / "licenses" / "crl.json").unlink()
    assert activate_license_main([str(provisioned)]) == 1
    _refused(capsys, "crl.json", "rolled back", "file at 0 ", "witness at 4 ")
    with pytest.raises(WitnessError, match="crl.json: rolled back"):
        observe_crl(data_dir)


def test_an_older_registry_and_checkpoint_are_refused(provisioned, data_dir, tmp_path, capsys):
    """Fails when Registry.read_state / verify_registry skip the witness: the older registry and its
    checkpoint are both validly vendor-signed and agree with each other."""
    licenses = data_dir / "licenses"
    saved = tmp_path / "saved"
    saved.mkdir()
    for name in ("registry.jsonl", "registry.checkpoint.json"):
        shutil.copy2(licenses / name, saved / name)
    assert revoke_license_main(["--serial", "2", "--reason", "refund"]) == 0
    capsys.readouterr()
    for name in ("registry.jsonl", "registry.checkpoint.json"):
        shutil.copy2(saved / name, licenses / name)
    assert verify_license_registry_main([]) == 1
    _refused(capsys, "registry.jsonl", "rolled back", "file at 3 ", "witness at 4 ")
    # The same files examined as a copy elsewhere verify (chain, signatures, checkpoint): only the data dir's
    # own registry is held to its witness.
    assert verify_license_registry_main(["--registry", str(saved / "registry.jsonl")]) == 0
    assert "a copy: not compared with the witness" in capsys.readouterr().out
    assert revoke_license_main(["--serial", "3", "--reason", "fraud"]) == 1  # never appended to either
    _refused(capsys, "registry.jsonl", "rolled back")


def test_a_deleted_registry_after_first_use_is_refused(provisioned, data_dir, capsys):
    """Fails when a missing registry is read as an empty one once lines were witnessed."""
    (data_dir / "licenses" / "registry.jsonl").unlink()
    (data_dir / "licenses" / "registry.checkpoint.json").unlink()
    assert verify_license_registry_main([]) == 1
    _refused(capsys, "registry.jsonl", "rolled back: file at 0 ", "witness at 3 ")
    with pytest.raises(WitnessError, match="rolled back: file at 0 "):
        Registry(registry_path(data_dir)).read_state()


def test_a_deleted_high_water_mark_after_first_use_is_refused(provisioned, data_dir, keyring, capsys):
    """Fails when load_mark treats a missing high_water.json as "no mark" (an expired license would then
    activate again after moving the clock back)."""
    assert activate_license_main([str(provisioned)]) == 0
    capsys.readouterr()
    high_water_path(data_dir).unlink()
    assert activate_license_main([str(provisioned)]) == 1
    _refused(capsys, "high_water.json", "rolled back", "file at 0 ", "witness at ")
    status = check_installed_license(data_dir, keyring, stage="demo", now=utc_now(), probe=probe())
    assert not status.valid and "high_water.json" in status.reasons[0]


def test_an_older_high_water_mark_is_refused(data_dir, keyring):
    """Fails when load_mark does not compare the signed mark with its witness (an older, validly signed
    mark would let the clock move back)."""
    update_mark(keyring, NOW)
    older = high_water_path(data_dir).read_bytes()
    update_mark(keyring, NOW + timedelta(days=30))
    high_water_path(data_dir).write_bytes(older)
    with pytest.raises(WitnessError, match="high_water.json: rolled back"):
        load_mark(keyring)


def test_the_daemon_refuses_a_crl_whose_witness_was_lost(provisioned, data_dir, keyring, capsys):
    """Fails when the daemon's check (check_installed_license) may start the CRL witness afresh: with both
    witness places deleted, any older CRL would then be taken as the first one."""
    from audit.trust import paths

    assert revoke_license_main(["--serial", "2", "--reason", "refund"]) == 0
    assert activate_license_main([str(provisioned)]) == 0
    status = check_installed_license(data_dir, keyring, stage="demo", now=utc_now(), probe=probe())
    assert status.valid, status.reasons
    paths.witness_state_path(data_dir).unlink()
    shutil.rmtree(paths.witness_dir(data_dir))
    status = check_installed_license(data_dir, keyring, stage="demo", now=utc_now(), probe=probe())
    assert not status.valid
    assert "crl.json: in use (at 4 " in status.reasons[0] and "no witness holds a mark" in status.reasons[0]
