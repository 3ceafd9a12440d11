"""The daemon's gate check refuses a deleted or re-created trust root in one line, before anything else."""

import shutil

import pytest

from audit.trust import paths as trust_paths
from audit.trust.installation import load_installation
from audit.trust.keyring import KeyRingError
from execution.daemon.devkit import Deployment
from execution.daemon.gate import evaluate_live
from execution.daemon.license_hook import LicenseCheck
from execution.daemon.server import Daemon, DaemonOptions
from execution.daemon.server import main as daemon_main
from tests.evidence_factory import stand_in_verifiers


@pytest.fixture
def live(tmp_path, monkeypatch):
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")  # the devkit's license registry uses it
    with stand_in_verifiers():  # the bundle and UI telemetry verifiers come with their own packages
        dep = Deployment.create(tmp_path, operators=("alice", "root-admin"))
        dep.promote_to_live()
        yield dep


def _gate(dep):
    return evaluate_live(
        config_path=dep.config_path,
        data_dir=dep.data_dir,
        certs_dir=dep.certs_dir,
        license_checker=lambda stage: LicenseCheck(True, "stub license"),
    )


def test_deleted_keys_relock_the_daemon_gate(live):
    """keys/ deleted: fails if the key ring is created on demand again (KeyRing.load / load_root_secret)."""
    assert _gate(live).live_unlocked  # control
    shutil.rmtree(live.data_dir / "keys")
    result = _gate(live)
    assert not result.live_unlocked
    assert len(result.reasons) == 1 and "never re-created" in result.reasons[0]
    assert not (live.data_dir / "keys").exists()


def test_a_recreated_root_with_new_signers_is_refused_by_the_gate_and_at_startup(
    live, tmp_path, monkeypatch, capsys
):
    """keys/ deleted and re-created with new signers who sign demo/paper/live_ready again: fails if the
    daemon's key ring load stops checking the installation pins (installation.check_pins)."""
    pinned = load_installation(live.data_dir).root_fingerprint
    shutil.rmtree(live.data_dir / "keys")
    trust_paths.installation_path(live.data_dir).unlink()
    shutil.rmtree(trust_paths.witness_dir(live.data_dir))  # the attacker finds and wipes both witness places
    trust_paths.witness_state_path(live.data_dir).unlink()
    for log in trust_paths.LOG_NAMES:
        trust_paths.decision_log_path(log, live.data_dir).unlink()
        trust_paths.checkpoint_path(trust_paths.decision_log_path(log, live.data_dir)).unlink()
    shutil.rmtree(live.certs_dir)  # and re-made along with the rest
    forged = Deployment.create(tmp_path, operators=("alice", "root-admin"))  # runs the setup step again
    forged.promote_to_live()
    assert _gate(forged).live_unlocked  # nothing on the box itself tells the two roots apart ...
    monkeypatch.setenv("OEM_INSTALLATION_ROOT", pinned)  # ... the pinned root does
    result = _gate(forged)
    assert not result.live_unlocked
    assert len(result.reasons) == 1 and "does not match the root pinned" in result.reasons[0]
    options = DaemonOptions(
        config_path=forged.config_path,
        mode="live",
        data_dir=forged.data_dir,
        certs_dir=forged.certs_dir,
        license_checker=lambda stage: LicenseCheck(True, "stub license"),
    )
    with pytest.raises(KeyRingError, match="does not match the root pinned"):
        Daemon(options)
    argv = ["--mode", "live", "--config", str(forged.config_path), "--data-dir", str(forged.data_dir)]
    assert daemon_main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("daemon refused: key ring:") and len(err.strip().splitlines()) == 1


def test_a_live_log_rolled_back_after_a_revocation_keeps_the_gate_locked(live):
    """Rollback: the older live log and its own co-signed checkpoint are valid; fails if the verifier's
    witness check is removed (the daemon's gate reads the same report)."""
    log = trust_paths.decision_log_path("live_execution", live.data_dir)
    checkpoint = trust_paths.checkpoint_path(log)
    before = (log.read_bytes(), checkpoint.read_bytes())
    live.append("live_execution", "revoked", "live_go")
    assert not _gate(live).live_unlocked
    log.write_bytes(before[0])
    checkpoint.write_bytes(before[1])
    result = _gate(live)
    assert not result.live_unlocked
    assert any("rolled back: file at 1 " in reason and "witness at 2 " in reason for reason in result.reasons)
