"""Provision, activate and revoke complete entirely or leave no trace: a crash between any two writes is
finished by the retry, which succeeds, and the result equals an uninterrupted run's.

Each test stops the command at every gap between two writes in turn (`licensing.core.intent.crash_point`),
on a fresh installation each time, then runs the same command again.
"""

from __future__ import annotations

import json

import pytest

from licensing.core import intent
from licensing.core.cli import (
    activate_license_main,
    license_request_main,
    oem_provision_license_main,
    revoke_license_main,
    verify_license_registry_main,
)
from licensing.core.crl import load_crl
from licensing.core.intent import IntentError, load_intent
from licensing.core.license_file import parse_license, read_license_qr_png
from licensing.core.registry import Registry, registry_path
from tests.trust_setup import installed


class Crash(BaseException):
    """The process dies here (BaseException: no handler of the commands catches it)."""


def _crash_at(monkeypatch, k: int) -> list[str]:
    seen: list[str] = []

    def point(step: str) -> None:
        seen.append(step)
        if len(seen) == k:
            raise Crash(step)

    monkeypatch.setattr(intent, "crash_point", point)
    return seen


def _fresh(tmp_path, monkeypatch, name: str):
    data_dir = tmp_path / name
    monkeypatch.setenv("OEM_DATA_DIR", str(data_dir))
    installed(data_dir)
    work = tmp_path / f"{name}-work"
    work.mkdir()
    assert license_request_main(["--out", str(work / "req.json")]) == 0
    return data_dir, work


def _provision_argv(work, *extra):
    return [
        "--request",
        str(work / "req.json"),
        "--customer",
        "ACME Trading",
        "--stages",
        "demo,paper",
        "--valid-days",
        "30",
        "--out",
        str(work / "lic.json"),
        "--qr",
        str(work / "lic.png"),
        *extra,
    ]


def _kinds(data_dir):
    return [json.loads(line)["kind"] for line in registry_path(data_dir).read_bytes().splitlines()]


def _pending(data_dir):
    return (data_dir / "licenses" / "intent.json").exists()


def _run_with_crashes(tmp_path, monkeypatch, capsys, prepare, command, check):
    """For k = 1, 2, ...: fresh install, prepare, crash `command` at its k-th gap, retry, check. Stops at the
    first k the command survives; returns the gaps it went through."""
    k = 0
    while True:
        k += 1
        monkeypatch.setattr(intent, "crash_point", lambda step: None)
        data_dir, work = _fresh(tmp_path, monkeypatch, f"k{k}")
        prepare(data_dir, work)
        seen = _crash_at(monkeypatch, k)
        try:
            assert command(work) == 0
        except Crash:
            crashed = True
        else:
            crashed = False
        monkeypatch.setattr(intent, "crash_point", lambda step: None)
        if not crashed:
            check(data_dir, work)
            return seen
        assert command(work) == 0, capsys.readouterr().err  # the retry succeeds
        check(data_dir, work)
        assert not _pending(data_dir)
        capsys.readouterr()


def test_a_crash_between_any_two_writes_of_provisioning_is_finished_by_the_retry(
    tmp_path, monkeypatch, capsys
):
    """Fails without the intent record (a crash after the registry line leaves no license file and the retry
    is refused: "device already holds live license 1") or without recovery on the next run."""

    def check(data_dir, work):
        assert _kinds(data_dir) == ["issued"]
        state = Registry(registry_path(data_dir)).read_state()
        assert parse_license((work / "lic.json").read_bytes()) == state.licenses[1].license
        assert read_license_qr_png(work / "lic.png") == state.licenses[1].license
        assert verify_license_registry_main([]) == 0

    seen = _run_with_crashes(
        tmp_path,
        monkeypatch,
        capsys,
        lambda data_dir, work: None,
        lambda work: oem_provision_license_main(_provision_argv(work)),
        check,
    )
    assert seen == [
        "before the registry line",
        "provision: before writing registry.checkpoint.json",
        "provision: before writing lic.json",
        "provision: before writing lic.png",
        "before the registry witness",
        "before removing the intent",
    ]


def test_a_crash_between_any_two_writes_of_a_reissue_is_finished_by_the_retry(tmp_path, monkeypatch, capsys):
    """Fails when the reissue's CRL is written outside its intent (a crash leaves serial 1 superseded in the
    registry but missing from crl.json, and the retry is refused)."""

    def prepare(data_dir, work):
        assert oem_provision_license_main(_provision_argv(work)) == 0

    def check(data_dir, work):
        assert _kinds(data_dir) == ["issued", "reissued"]
        assert load_crl(data_dir / "licenses" / "crl.json").serials == {1}
        assert parse_license((work / "lic.json").read_bytes()).serial == 2

    seen = _run_with_crashes(
        tmp_path,
        monkeypatch,
        capsys,
        prepare,
        lambda work: oem_provision_license_main(_provision_argv(work, "--replaces", "1")),
        check,
    )
    assert "provision: before writing crl.json" in seen


def test_a_crash_between_any_two_writes_of_an_activation_is_finished_by_the_retry(
    tmp_path, monkeypatch, capsys
):
    """Fails without the intent (a crash after the `activated` line leaves the device without license.json
    and the retry takes a second activation: "already has 1 of 1 allowed active activations")."""

    def prepare(data_dir, work):
        assert oem_provision_license_main(_provision_argv(work)) == 0

    def check(data_dir, work):
        assert _kinds(data_dir) == ["issued", "activated"]
        licenses = data_dir / "licenses"
        assert parse_license((licenses / "license.json").read_bytes()).serial == 1
        record = json.loads((licenses / "activation.json").read_bytes())
        state = Registry(registry_path(data_dir)).read_state()
        assert state.licenses[1].active == {record["activation_id"]}
        assert (licenses / "high_water.json").exists()
        assert activate_license_main([str(work / "lic.json")]) == 0  # and again: already active

    seen = _run_with_crashes(
        tmp_path,
        monkeypatch,
        capsys,
        prepare,
        lambda work: activate_license_main([str(work / "lic.json")]),
        check,
    )
    assert seen[-1] == "before the high-water mark"
    assert "activate: before writing activation.json" in seen


def test_a_crash_between_any_two_writes_of_a_revocation_is_finished_by_the_retry(
    tmp_path, monkeypatch, capsys
):
    """Fails when the CRL is written after the registry line outside the intent (a crash in between leaves
    a revocation the devices never see, and the retry is refused: "license 1 is revoked")."""

    def prepare(data_dir, work):
        assert oem_provision_license_main(_provision_argv(work)) == 0

    def check(data_dir, work):
        assert _kinds(data_dir) == ["issued", "revoked"]
        crl = load_crl(data_dir / "licenses" / "crl.json")
        assert crl.serials == {1} and crl.number == 2

    seen = _run_with_crashes(
        tmp_path,
        monkeypatch,
        capsys,
        prepare,
        lambda work: revoke_license_main(["--serial", "1", "--reason", "refund"]),
        check,
    )
    assert "revoke: before writing crl.json" in seen


def test_a_partial_registry_line_left_by_a_crash_inside_the_write_is_cut_and_the_retry_succeeds(
    tmp_path, monkeypatch, capsys
):
    """Fails when recovery does not cut the partial tail of the planned line (the registry stays broken)."""
    data_dir, work = _fresh(tmp_path, monkeypatch, "partial")
    _crash_at(monkeypatch, 2)  # stop right after the registry line
    with pytest.raises(Crash):
        oem_provision_license_main(_provision_argv(work))
    monkeypatch.setattr(intent, "crash_point", lambda step: None)
    path = registry_path(data_dir)
    path.write_bytes(path.read_bytes()[:-40])  # the write died half way through the line
    assert oem_provision_license_main(_provision_argv(work)) == 0
    assert _kinds(data_dir) == ["issued"] and verify_license_registry_main([]) == 0


def test_a_planted_or_edited_intent_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    """Fails when intents are not HMAC-checked (an intent names files and bytes the next run would write)."""
    data_dir, work = _fresh(tmp_path, monkeypatch, "planted")
    _crash_at(monkeypatch, 1)  # intent written, registry line not yet
    with pytest.raises(Crash):
        oem_provision_license_main(_provision_argv(work))
    monkeypatch.setattr(intent, "crash_point", lambda step: None)
    path = data_dir / "licenses" / "intent.json"
    doc = json.loads(path.read_bytes())
    doc["writes"][-1]["path"] = str(tmp_path / "elsewhere")
    path.write_text(json.dumps(doc))
    from audit.trust.keyring import KeyRing

    with pytest.raises(IntentError, match="failed its signature check"):
        load_intent(path, KeyRing.load(data_dir))
    assert oem_provision_license_main(_provision_argv(work)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "intent" in err
    assert not (tmp_path / "elsewhere").exists()


def test_a_crash_during_an_activation_on_a_device_without_the_registry_is_finished_by_the_retry(
    tmp_path, monkeypatch, capsys
):
    """Fails when the device-only activation writes its files outside an intent (a crash between them
    leaves an activation record for a license that is not installed, or the reverse)."""

    def prepare(data_dir, work):
        # The vendor console is another installation: it accepts the device's request as foreign.
        vendor = tmp_path / f"vendor-{data_dir.name}"
        monkeypatch.setenv("OEM_DATA_DIR", str(vendor))
        installed(vendor)
        assert oem_provision_license_main([*_provision_argv(work), "--foreign-request"]) == 0
        monkeypatch.setenv("OEM_DATA_DIR", str(data_dir))

    def check(data_dir, work):
        licenses = data_dir / "licenses"
        assert not (licenses / "registry.jsonl").exists()
        assert parse_license((licenses / "license.json").read_bytes()).serial == 1
        assert json.loads((licenses / "activation.json").read_bytes())["serial"] == 1
        assert (licenses / "high_water.json").exists()

    seen = _run_with_crashes(
        tmp_path,
        monkeypatch,
        capsys,
        prepare,
        lambda work: activate_license_main([str(work / "lic.json")]),
        check,
    )
    assert seen == [
        "activate: before writing activation.json",
        "activate: before writing license.json",
        "before removing the intent",
        "before the high-water mark",
    ]
