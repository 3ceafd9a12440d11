"""The installation trust root: set up once with the administrator password, pinned, never re-created; and
every decision-log signature bound to its installation and deployment."""

from __future__ import annotations

import shutil

import pytest

from audit.trust import paths
from audit.trust.canonical import canonical_bytes
from audit.trust.cli import verify_decision_log_main
from audit.trust.decision_log import build_entry, sign_entry
from audit.trust.decision_rules import genesis_hash, signing_context, witness_key
from audit.trust.gates import evaluate_all
from audit.trust.installation import InstallationError, init_installation, load_installation, write_pin
from audit.trust.keyring import KeyRing, KeyRingError
from audit.trust.verifier import verify_decision_logs
from audit.trust.witness import Mark, witness_for
from tests.audit.conftest import PEOPLE, password
from tests.audit.helpers import DEMO_FLAGS, append, cosigned_checkpoint, reasons, signers, write_lines
from tests.trust_setup import ADMIN_PASSWORD, installed

MALLORY_ADMIN = "mallory-admin-password"


def _forge_fresh_demo_log(data_dir, ring, *, mark_witness=False):
    """What someone holding a freshly made root writes: a demo_ready signed by signers they enrolled (and,
    with `mark_witness`, the witness marks an append would have made)."""
    for username, roles in PEOPLE.items():
        ring.create_signer_key(username, roles, password(username), admin_password=MALLORY_ADMIN)
    log = paths.decision_log_path("demo", data_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    who = signers(ring, {"owner": "alice", "compliance": "carol"})
    entry = build_entry(
        seq=1,
        prev_hash=genesis_hash("demo"),
        stage="demo",
        status="demo_ready",
        artefacts={},
        runtime_flags=DEMO_FLAGS,
    )
    context = signing_context(ring, data_dir)
    signed = sign_entry(entry, "demo", who, context=context)
    if mark_witness:
        witness_for(data_dir).begin(
            witness_key("demo", context), Mark(0, genesis_hash("demo")), label=str(log)
        )
    write_lines(log, [canonical_bytes(signed)])
    cosigned_checkpoint(log, ring, signed, who)


def _recreate_root(data_dir):
    """Delete keys/, the installation record and its pin, then run the setup step again."""
    shutil.rmtree(data_dir / "keys")
    paths.installation_path(data_dir).unlink()
    (paths.witness_dir(data_dir) / "installation.pin").unlink()
    init_installation(data_dir, MALLORY_ADMIN)
    return KeyRing.load(data_dir)


def test_an_installation_is_set_up_once_and_never_again(data_dir):
    """Fails if init_installation stops refusing an existing installation (a second root would replace it)."""
    first = installed(data_dir)
    with pytest.raises(InstallationError, match="never re-created"):
        init_installation(data_dir, "another-admin-password")
    assert load_installation(data_dir).root_fingerprint == first.root_fingerprint


def test_deleted_keys_are_never_recreated_and_strict_verification_refuses(keyring, data_dir, capsys):
    """Fails if KeyRing.load creates a root secret or key ring on demand again (load_root_secret)."""
    append(keyring, data_dir, "demo", "demo_ready")
    shutil.rmtree(data_dir / "keys")
    assert verify_decision_log_main(["--strict"]) == 1
    err = capsys.readouterr().err
    assert "never re-created" in err and len(err.strip().splitlines()) == 1
    assert not (data_dir / "keys").exists()
    assert not evaluate_all(verify_decision_logs(None, None, data_dir=data_dir))["demo_exit"].passed
    with pytest.raises(InstallationError, match="already exists"):
        init_installation(data_dir, MALLORY_ADMIN)


def test_setting_up_again_over_a_pinned_data_dir_is_refused(keyring, data_dir):
    """Fails if init_installation ignores the pin kept in the second witness place."""
    shutil.rmtree(data_dir / "keys")
    paths.installation_path(data_dir).unlink()
    with pytest.raises(InstallationError, match="pins an earlier installation"):
        init_installation(data_dir, MALLORY_ADMIN)


def test_recreated_root_with_new_signers_is_refused_by_the_pin(keyring, data_dir, monkeypatch, capsys):
    """keys/ deleted and re-created with new signers: fails if installation.check_pins is removed (the ring,
    the signers and the log are all consistent under the new root; only the pinned fingerprint differs)."""
    pinned = load_installation(data_dir).root_fingerprint
    append(keyring, data_dir, "demo", "demo_ready")
    ring = _recreate_root(data_dir)
    # the witness places (which also remember the old installation) are wiped as well
    shutil.rmtree(paths.witness_dir(data_dir))
    paths.witness_state_path(data_dir).unlink()
    write_pin(ring.installation)
    _forge_fresh_demo_log(data_dir, ring, mark_witness=True)
    monkeypatch.setenv("OEM_INSTALLATION_ROOT", pinned)  # the service's pinned root (or the license's)
    assert verify_decision_log_main(["--strict"]) == 1
    err = capsys.readouterr().err
    assert (
        "does not match the root pinned in OEM_INSTALLATION_ROOT" in err
        and len(err.strip().splitlines()) == 1
    )
    report = verify_decision_logs(None, None, data_dir=data_dir)
    assert not report.ok and not evaluate_all(report)["demo_exit"].passed
    monkeypatch.delenv("OEM_INSTALLATION_ROOT")
    assert verify_decision_logs(None, None, data_dir=data_dir).ok  # control: nothing else tells them apart


def test_recreated_root_is_refused_by_the_witness_of_the_old_installation(keyring, data_dir):
    """keys/ deleted and re-created, witness places left alone: fails if the witness stops binding its
    sealed places to the installation (SealedFileStore scope)."""
    append(keyring, data_dir, "demo", "demo_ready")
    ring = _recreate_root(data_dir)
    _forge_fresh_demo_log(data_dir, ring)
    report = verify_decision_logs(None, ring, data_dir=data_dir)
    assert not report.ok and not evaluate_all(report)["demo_exit"].passed
    assert f"belongs to {keyring.installation_id!r}" in reasons(report)


def test_a_signer_added_to_the_ring_without_the_administrator_is_refused(keyring, data_dir):
    """Fails if the verifier accepts signer keys the root did not certify (KeyRing._check_certificate)."""
    from dataclasses import replace

    alice = keyring.active_key("signer", owner="alice")
    forged = replace(alice, kid=alice.kid + "-x", certificate=None)
    keyring._modify(lambda records: records.__setitem__(forged.kid, forged))
    with pytest.raises(KeyRingError, match="not certified"):
        KeyRing.load(data_dir).verifying_key(forged.kid)


def test_enrolling_a_signer_needs_the_administrator_password(keyring):
    """Fails if create_signer_key enrols without unlocking the installation root."""
    with pytest.raises(KeyRingError, match="administrator password"):
        keyring.create_signer_key("erin", ["owner"], "pw-erin")
    with pytest.raises(KeyRingError, match="wrong password for the installation root"):
        keyring.create_signer_key("erin", ["owner"], "pw-erin", admin_password="guess-guess")
    assert keyring.create_signer_key("erin", ["owner"], "pw-erin", admin_password=ADMIN_PASSWORD).certificate


def test_logs_copied_into_another_deployment_are_refused(keyring, data_dir):
    """Cross-deployment replay: fails if entry and checkpoint signatures stop binding the deployment id."""
    append(keyring, data_dir, "demo", "demo_ready")
    other = data_dir / "deployments" / "7"
    shutil.copytree(data_dir / "audit", other / "audit")
    report = verify_decision_logs(None, keyring, data_dir=other)
    assert not report.ok and not report.entries
    assert "bad ed25519 signature" in reasons(report)
    assert "copied from another deployment or installation" in reasons(report)
    assert not evaluate_all(report)["demo_exit"].passed
    assert verify_decision_logs(None, keyring, data_dir=data_dir).ok  # control: at home it verifies


def test_logs_copied_into_another_installation_are_refused(keyring, data_dir, tmp_path):
    """Cross-installation replay, key ring copied along: fails if the ring stops binding its installation."""
    append(keyring, data_dir, "demo", "demo_ready")
    other = tmp_path / "other-var"
    installed(other)
    shutil.copytree(data_dir / "audit", other / "audit")
    report = verify_decision_logs(None, KeyRing.load(other), data_dir=other)
    assert not report.ok and "copied from another deployment or installation" in reasons(report)
    shutil.rmtree(other / "keys")
    shutil.copytree(data_dir / "keys", other / "keys")
    with pytest.raises(KeyRingError, match="another installation"):
        KeyRing.load(other)
