"""Offline reinstall: backup_installation -> wipe -> restore_installation -> strict verification passes; a
tampered backup or one of another installation is refused before anything is written."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from audit.services import audit_trail_problems
from audit.trust import cli
from audit.trust import paths as trust_paths
from audit.trust.keyring import KeyRing
from tests.audit.helpers import append
from tests.trust_setup import ADMIN_PASSWORD, installed


@pytest.fixture(autouse=True)
def fresh_content_types():
    """flush re-creates content types under new ids inside the test's transaction; once it is rolled back
    the process-wide cache must not keep them for the next test."""
    from django.contrib.contenttypes.models import ContentType

    yield
    ContentType.objects.clear_cache()


@pytest.fixture
def console(settings, data_dir, keyring, transactional_db, django_capture_on_commit_callbacks):
    """An installation with signers, two demo decisions, an audit artefact and keyed audit events.

    Transactional: a restore runs as its own command, never inside a test's open transaction (PostgreSQL
    refuses to TRUNCATE tables with rows written earlier in the same transaction)."""
    settings.OEM_DATA_DIR = data_dir
    from audit.services import audit_event_record

    for n in range(2):
        append(keyring, data_dir, "demo", "demo_ready", artefacts={"run": f"r{n}"})
    (data_dir / "audit" / "acceptance").mkdir(parents=True)
    (data_dir / "audit" / "acceptance" / "report.json").write_bytes(b'{"ok": true}\n')
    (data_dir / "certs").mkdir()
    (data_dir / "certs" / "ca.pem").write_bytes(
        b"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"
    )
    for n in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            audit_event_record(action="test.event", actor=f"user{n}")
    return data_dir


@pytest.fixture
def password_file(tmp_path) -> Path:
    path = tmp_path / "admin.pw"
    path.write_text(ADMIN_PASSWORD + "\n")
    return path


def backup(tmp_path, password_file, callbacks) -> Path:
    out = tmp_path / "offline" / "backup.tar"
    with callbacks(execute=True):
        call_command("backup_installation", "--out", str(out), "--password-file", str(password_file))
    return out


def restore(archive: Path, callbacks, *extra: str) -> str:
    out = io.StringIO()
    with callbacks(execute=True):
        call_command("restore_installation", str(archive), "--actor", "admin", *extra, stdout=out)
    return out.getvalue()


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha384(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def wipe(data_dir: Path) -> None:
    """The machine is reinstalled: the data dir and the console database are gone; the witness copy
    outside the data dir (another disk, in production) survives."""
    shutil.rmtree(data_dir)
    call_command("flush", interactive=False, verbosity=0)


def test_backup_wipe_restore_then_strict_verification_passes(
    console, tmp_path, password_file, django_capture_on_commit_callbacks, capsys
):
    """Fails when restore stops bringing back any of: the files (key ring, logs, checkpoints, artefacts),
    the database (the audit trail) or the witness marks (the strict verifier would call the logs rolled
    back or unwitnessed)."""
    before_files = tree_digest(console / "audit")
    before_events = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    archive = backup(tmp_path, password_file, django_capture_on_commit_callbacks)
    wipe(console)
    assert not console.exists() and AuditEvent.objects.count() == 0

    message = restore(archive, django_capture_on_commit_callbacks)
    assert message.startswith("restored installation inst-")
    assert tree_digest(console / "audit") == before_files
    assert cli.verify_decision_log_main(["--strict"]) == 0, capsys.readouterr().err
    assert audit_trail_problems() == []
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions[: len(before_events)] == before_events  # the backup event itself follows the dump
    assert "witness.reset" in actions and actions[-1] == "installation.restore"
    KeyRing.load(console)  # every pin agrees


def test_after_restore_new_decisions_append_and_verify(
    console, keyring, tmp_path, password_file, django_capture_on_commit_callbacks
):
    """Fails when the witness is not reset to the backup's marks (the next append would be refused)."""
    archive = backup(tmp_path, password_file, django_capture_on_commit_callbacks)
    wipe(console)
    restore(archive, django_capture_on_commit_callbacks)
    append(KeyRing.load(console), console, "demo", "demo_ready", artefacts={"run": "after"})
    assert cli.verify_decision_log_main(["--strict"]) == 0


def _rewrite(archive: Path, change) -> None:
    """Rewrite the tar with `change(name, data) -> data` applied to every member (the index untouched
    unless the change touches it)."""
    members = []
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            members.append((member, tar.extractfile(member).read()))
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            data = change(member.name, data)
            if data is None:
                continue
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))


def _edited_index(data: bytes) -> bytes:
    """The index with one file's recorded hash changed and re-serialised canonically, signature kept."""
    from audit.trust.canonical import canonical_bytes, strict_loads

    doc = strict_loads(data)
    doc["index"]["files"][0]["sha384"] = "0" * 96
    return canonical_bytes(doc) + b"\n"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda name, data: (
                data.replace(b"r0", b"r9") if name.endswith("decision_logs/demo.jsonl") else data
            ),
            "SHA-384 does not match the signed index",
        ),
        (lambda name, data: None if name.endswith("keyring.json") else data, "lacks data/keys/keyring.json"),
        (
            lambda name, data: data.replace(b'"size":', b'"size": ') if name == "index.json" else data,
            "not in canonical form",
        ),
        (
            lambda name, data: _edited_index(data) if name == "index.json" else data,
            "index.json: signature does not verify",
        ),
        (
            lambda name, data: data.replace(b"test.event", b"test.evenX") if name == "database.xml" else data,
            "database.xml: SHA-384 does not match",
        ),
    ],
    ids=["log-byte", "missing-keyring", "index-not-canonical", "index-edited", "database-edited"],
)
def test_a_tampered_backup_is_refused_before_anything_is_written(
    console, tmp_path, password_file, django_capture_on_commit_callbacks, change, reason
):
    """Fails when restore writes before verifying the signed index, the member list or each SHA-384."""
    archive = backup(tmp_path, password_file, django_capture_on_commit_callbacks)
    _rewrite(archive, change)
    before, events = tree_digest(console), AuditEvent.objects.count()
    with pytest.raises(CommandError, match=reason):
        restore(archive, django_capture_on_commit_callbacks)
    assert tree_digest(console) == before and AuditEvent.objects.count() == events
    assert not list(console.parent.glob(f".{console.name}.restore-*")), "the stage is removed"


def test_an_added_member_is_refused(console, tmp_path, password_file, django_capture_on_commit_callbacks):
    """Fails when members the signed index does not list are accepted (a planted key or log)."""
    archive = backup(tmp_path, password_file, django_capture_on_commit_callbacks)
    with tarfile.open(archive, "a") as tar:
        info = tarfile.TarInfo("data/keys/extra.key")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(CommandError, match="which its signed index does not list"):
        restore(archive, django_capture_on_commit_callbacks)


def test_a_backup_of_another_installation_is_refused_unless_allowed(
    console, tmp_path, password_file, django_capture_on_commit_callbacks, capsys
):
    """Fails when check_installation is removed: another installation's state would silently replace
    this one's (its own key ring and logs verify against its own root)."""
    archive = backup(tmp_path, password_file, django_capture_on_commit_callbacks)
    wipe(console)
    shutil.rmtree(trust_paths.witness_dir(console))  # a different machine: no pin of the first one
    other = installed(console)
    with pytest.raises(CommandError, match="--allow-other-installation"):
        restore(archive, django_capture_on_commit_callbacks)
    assert trust_paths.installation_path(console).exists()
    assert KeyRing.load(console).installation.installation_id == other.installation_id
    restore(archive, django_capture_on_commit_callbacks, "--allow-other-installation")
    assert KeyRing.load(console).installation.installation_id != other.installation_id
    assert cli.verify_decision_log_main(["--strict"]) == 0, capsys.readouterr().err


def test_a_fifo_given_as_the_backup_is_refused(console, tmp_path, django_capture_on_commit_callbacks):
    """Fails when the archive is opened without the regular-file check (restore would block on a FIFO)."""
    import os

    fifo = tmp_path / "backup.tar"
    os.mkfifo(fifo)
    with pytest.raises(CommandError, match="not a regular file"):
        restore(fifo, django_capture_on_commit_callbacks)


@pytest.fixture
def licensed(console, tmp_path, monkeypatch, capsys):
    """This machine holds an activated license (request -> provision -> activate, development vendor key)."""
    from licensing.core.cli import activate_license_main, license_request_main, oem_provision_license_main
    from tests.licensing.fakesys import build_machine

    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")
    monkeypatch.setenv("OEM_ENV", "test")
    build_machine(tmp_path / "machine")
    monkeypatch.setenv("OEM_FINGERPRINT_ROOT", str(tmp_path / "machine"))
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    provision = ["--request", str(tmp_path / "req.json"), "--customer", "ACME", "--stages", "demo,paper"]
    assert (
        oem_provision_license_main([*provision, "--valid-days", "30", "--out", str(tmp_path / "lic.json")])
        == 0
    )
    assert activate_license_main([str(tmp_path / "lic.json"), "--stage", "paper"]) == 0
    capsys.readouterr()
    return console


def daemon_check(data_dir: Path, capsys) -> list[str]:
    from execution.daemon.server import main as daemon_main

    daemon_main(["--mode", "paper", "--data-dir", str(data_dir), "--check"])
    return capsys.readouterr().out.splitlines()


def test_a_licensed_installation_restores_with_its_registry_activation_and_gate(
    licensed, tmp_path, password_file, django_capture_on_commit_callbacks, capsys
):
    """Fails when the license registry, its checkpoint/witness, the activation or the high-water mark is not
    carried and re-witnessed: verify_license_registry or the daemon's gate evaluation would differ."""
    from licensing.core.cli import verify_license_registry_main

    gate_before = daemon_check(licensed, capsys)
    # The license itself verifies (activation, CRL, high-water, witness): only the unlicensed stage fails.
    assert "[FAIL] license: license: stage live is not licensed (allowed: demo, paper)" in gate_before
    archive = backup(tmp_path, password_file, django_capture_on_commit_callbacks)
    wipe(licensed)
    restore(archive, django_capture_on_commit_callbacks)
    capsys.readouterr()
    assert verify_license_registry_main([]) == 0, capsys.readouterr()
    assert "1 licenses (1 live)" in capsys.readouterr().out
    assert daemon_check(licensed, capsys) == gate_before
    assert cli.verify_decision_log_main(["--strict"]) == 0


def test_restoring_over_a_newer_state_is_the_one_documented_way_back(
    console, keyring, tmp_path, password_file, django_capture_on_commit_callbacks
):
    """Fails when restore does not reset the witnesses (the older log would be refused as rolled back) or
    deletes what it replaces instead of keeping it aside."""
    archive = backup(tmp_path, password_file, django_capture_on_commit_callbacks)
    log = console / "audit" / "decision_logs" / "demo.jsonl"
    backed_up = log.read_bytes()
    append(keyring, console, "demo", "demo_ready", artefacts={"run": "newer"})
    newer = log.read_bytes()
    restore(archive, django_capture_on_commit_callbacks)
    assert log.read_bytes() == backed_up
    assert cli.verify_decision_log_main(["--strict"]) == 0
    (aside,) = console.parent.glob(f"{console.name}.restore-aside-*")
    assert (aside / "audit" / "decision_logs" / "demo.jsonl").read_bytes() == newer
    reset = AuditEvent.objects.filter(action="witness.reset").values_list("detail", flat=True)
    assert any("restore_installation" in detail["reason"] for detail in reset)


def test_a_backup_racing_an_append_is_refused_not_written_torn(
    console, keyring, tmp_path, password_file, django_capture_on_commit_callbacks, monkeypatch
):
    """Fails when write_backup stops re-checking every file after the archive is written: a log appended
    between reading its checkpoint and itself would be backed up as an inconsistent pair."""
    import audit.trust.backup as backup_module

    digest = backup_module._digest_file

    def digest_then_append(path):
        result = digest(path)
        if path.name == "demo.checkpoint.json":
            append(keyring, console, "demo", "demo_ready", artefacts={"run": "racing"})
        return result

    monkeypatch.setattr(backup_module, "_digest_file", digest_then_append)
    with pytest.raises(CommandError, match="changed while the backup was written"):
        backup(tmp_path, password_file, django_capture_on_commit_callbacks)
    assert not (tmp_path / "offline" / "backup.tar").exists()
    assert not list((tmp_path / "offline").glob(".backup.tar.*"))
