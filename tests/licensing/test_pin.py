"""The installation's trust-root fingerprint travels in the license request into the vendor-signed license;
a license pinned to another root (another installation, or a key ring re-created without the vendor) is
refused, and the installed license pins the root for every key-ring load."""

from __future__ import annotations

import json
import shutil

import pytest

from audit.trust import paths
from audit.trust.installation import init_installation, load_installation
from audit.trust.keyring import KeyRing, KeyRingError
from licensing.core.cli import activate_license_main, license_request_main, oem_provision_license_main
from licensing.core.license_file import parse_license
from licensing.core.pin import TrustRootPin
from licensing.core.verify import verify_license
from tests.licensing.helpers import NOW, fingerprint, make_license


def _provision(tmp_path) -> int:
    argv = ["--request", str(tmp_path / "req.json"), "--customer", "ACME", "--stages", "demo"]
    return oem_provision_license_main([*argv, "--valid-days", "30", "--out", str(tmp_path / "lic.json")])


def test_the_request_and_the_signed_license_carry_this_installations_root(tmp_path, data_dir, capsys):
    """Fails when license_request stops writing the pin or provisioning stops copying it into the license."""
    installation = load_installation(data_dir)
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    request = json.loads((tmp_path / "req.json").read_bytes())
    expected = {
        "installation_id": installation.installation_id,
        "root_fingerprint": installation.root_fingerprint,
    }
    assert request["trust_root"] == expected
    assert _provision(tmp_path) == 0
    assert parse_license((tmp_path / "lic.json").read_bytes()).document["device"]["trust_root"] == expected


def test_a_license_pinned_to_another_root_is_refused(signer, machine, keyring):
    """Fails when verify_license stops comparing the license's pin with the installation's."""
    record = fingerprint(machine, keyring)
    other = TrustRootPin("inst-someone-else", "sha384:" + "ab" * 48)
    lic = make_license(signer, record["components"], trust_root=other)
    status = verify_license(lic, fingerprint_record=record, now=NOW, trust_root=this_installation())
    assert not status.valid
    assert status.reasons == [
        f"license is pinned to {other.short()}... but this is {this_installation().short()}... "
        "(key ring recreated, or a license for another installation)"
    ]
    status = verify_license(lic, fingerprint_record=record, now=NOW)
    assert not status.valid and "no installation trust root" in status.reasons[0]


def this_installation() -> TrustRootPin:
    installation = load_installation(paths.data_dir())
    return TrustRootPin(installation.installation_id, installation.root_fingerprint)


def test_a_key_ring_recreated_after_deleting_keys_is_refused_by_the_installed_license(
    tmp_path, data_dir, capsys
):
    """Fails when licensing.core.installation_pin stops registering the installed license as a pin source:
    with keys/, installation.json and both witness places gone, a fresh setup would otherwise be accepted."""
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    assert _provision(tmp_path) == 0
    assert activate_license_main([str(tmp_path / "lic.json")]) == 0
    capsys.readouterr()
    # A file-level attacker wipes every trace of the installation's root and sets up a new one.
    for path in (paths.keys_dir(data_dir), data_dir / "state", paths.witness_dir(data_dir)):
        shutil.rmtree(path, ignore_errors=True)
    paths.installation_path(data_dir).unlink()
    init_installation(data_dir, "attacker-password")
    with pytest.raises(KeyRingError, match="the installed license"):
        KeyRing.load(data_dir)
    assert activate_license_main([str(tmp_path / "lic.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not match the root pinned in the installed license" in err
