"""Match policies: the admin's choice at provisioning is signed into the license and holds the device to it.
A container exposes two stable components (machine id, CPU); `--allow-virtual --match-policy machine_id+cpu`
licenses it end to end, on a container tree and on the machine the tests run on."""

from __future__ import annotations

import shutil

import pytest

from audit.trust.keyring import KeyRing, utc_now
from licensing.core.cli import (
    activate_license_main,
    license_request_main,
    oem_provision_license_main,
    system_probe,
)
from licensing.core.device import check_installed_license
from licensing.core.fingerprint import (
    CONTAINER_POLICY,
    DEFAULT_POLICY,
    FingerprintError,
    SystemProbe,
    collect_components,
    detect_environment,
    policy_named,
)
from licensing.core.license_file import parse_license
from tests.licensing.fakesys import CPUINFO, make_container, set_cpu_model


@pytest.fixture
def container(machine):
    """A Docker container: machine id (bind-mounted) and CPU; no physical NIC, no disk serial, no TPM."""
    for rel in ("sys/class/net", "sys/block", "sys/class/tpm", "sys/class/dmi"):
        shutil.rmtree(machine / rel, ignore_errors=True)
    (machine / "proc/cpuinfo").write_text(CPUINFO.replace("sse2 avx2", "sse2 avx2 hypervisor"))
    make_container(machine)
    assert sorted(collect_components(SystemProbe(machine))) == ["cpu", "machine_id"]
    return machine


def _request(tmp_path) -> list[str]:
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    return [
        "--request",
        str(tmp_path / "req.json"),
        "--customer",
        "ACME",
        "--stages",
        "demo,paper",
        "--valid-days",
        "30",
        "--out",
        str(tmp_path / "lic.json"),
    ]


def test_a_container_is_licensed_end_to_end_with_the_machine_id_and_cpu_policy(
    tmp_path, container, data_dir, capsys
):
    """Fails when the policy named in the license is not the one verify_license applies (the default 3-of-5
    policy can never match a container), or when provisioning ignores --match-policy."""
    argv = _request(tmp_path)
    assert oem_provision_license_main(argv) == 1
    assert "container (docker): pass --allow-virtual" in capsys.readouterr().err
    assert oem_provision_license_main([*argv, "--allow-virtual"]) == 1
    err = capsys.readouterr().err
    assert "policy 3-of-5+machine_id needs 3 including machine_id" in err and "--match-policy" in err
    assert oem_provision_license_main([*argv, "--allow-virtual", "--match-policy", "machine_id+cpu"]) == 0
    assert "policy machine_id+cpu" in capsys.readouterr().out
    lic = parse_license((tmp_path / "lic.json").read_bytes())
    assert lic.document["device"]["match_policy"] == "machine_id+cpu" and lic.allow_virtual
    assert activate_license_main([str(tmp_path / "lic.json"), "--stage", "paper"]) == 0
    assert "matched components: machine_id, cpu" in capsys.readouterr().out
    # The daemon's check, run as it would be: installed license, fresh fingerprint, witnessed files.
    status = check_installed_license(
        data_dir, KeyRing.load(data_dir), stage="paper", now=utc_now(), probe=system_probe()
    )
    assert status.valid, status.reasons


def test_the_container_policy_still_binds_the_cpu(tmp_path, container, data_dir, capsys):
    """Fails when machine_id+cpu stops making the CPU mandatory (a copied machine id would then be enough)."""
    argv = _request(tmp_path)
    assert oem_provision_license_main([*argv, "--allow-virtual", "--match-policy", "machine_id+cpu"]) == 0
    set_cpu_model(container, "AMD EPYC 7763 64-Core Processor")
    assert activate_license_main([str(tmp_path / "lic.json")]) == 1
    assert "policy machine_id+cpu: cpu does not match" in capsys.readouterr().err


def test_an_unknown_policy_is_a_usage_error_and_writes_nothing(tmp_path, data_dir, capsys):
    """Fails when --match-policy accepts a name policy_named does not know (it would be signed in)."""
    argv = _request(tmp_path)
    assert oem_provision_license_main([*argv, "--match-policy", "any-one"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "lic.json").exists() and not (data_dir / "licenses" / "registry.jsonl").exists()
    with pytest.raises(FingerprintError, match="unknown match policy"):
        policy_named("any-one")


def test_the_policies_are_what_their_names_say():
    """Fails when CONTAINER_POLICY stops requiring both components or the default accepts two."""
    both = {"machine_id": "a" * 96, "cpu": "b" * 96}
    assert CONTAINER_POLICY.match(both, both).ok
    assert not DEFAULT_POLICY.match(both, both).ok
    assert not CONTAINER_POLICY.match(both, {**both, "machine_id": "c" * 96}).ok


def test_this_machine_is_licensed_with_a_policy_it_can_meet(tmp_path, data_dir, monkeypatch, capsys):
    """End to end on the real machine the tests run on (a container in CI): the request reports what the
    machine has, and --allow-virtual with the machine_id+cpu policy (or the default on a physical machine
    with enough components) licenses and activates it. Fails when either policy or --allow-virtual breaks."""
    monkeypatch.delenv("OEM_FINGERPRINT_ROOT")
    real = SystemProbe("/")
    components = collect_components(real)
    assert {"machine_id", "cpu"} <= set(components), (
        f"this machine reports only {sorted(components)}: licensing needs /etc/machine-id and a CPU"
    )
    physical = detect_environment(real)["kind"] == "physical"
    policy = DEFAULT_POLICY if physical and DEFAULT_POLICY.unmet_by(components) is None else CONTAINER_POLICY
    argv = [*_request(tmp_path), "--allow-virtual", "--match-policy", policy.name]
    assert oem_provision_license_main(argv) == 0, capsys.readouterr().err
    assert activate_license_main([str(tmp_path / "lic.json")]) == 0, capsys.readouterr().err
    status = check_installed_license(
        data_dir, KeyRing.load(data_dir), stage="demo", now=utc_now(), probe=system_probe()
    )
    assert status.valid, status.reasons
