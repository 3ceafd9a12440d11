"""The console database as the independent place: it pins the installation root and keeps witness marks."""

from __future__ import annotations

import shutil

import pytest
from django.core.management import call_command

from audit.models import AuditEvent, Deployment
from audit.trust import paths
from audit.trust.installation import init_installation, load_installation
from audit.trust.keyring import KeyRing, KeyRingError
from audit.trustdb.models import InstallationPin, WitnessMark
from tests.audit.conftest import PEOPLE, password
from tests.audit.helpers import append, reasons, verify
from tests.trust_setup import ADMIN_PASSWORD


@pytest.fixture
def console(db, settings, data_dir, tmp_path):
    settings.OEM_DATA_DIR = data_dir
    secret = tmp_path / "admin.pw"
    secret.write_text(ADMIN_PASSWORD + "\n")
    call_command("init_installation", "--admin-password-file", str(secret))
    ring = KeyRing.load(data_dir)
    for username, roles in PEOPLE.items():
        ring.create_signer_key(username, roles, password(username), admin_password=ADMIN_PASSWORD)
    return ring


def test_init_installation_pins_the_root_in_the_database_and_records_it(console, data_dir):
    pin = InstallationPin.objects.get()
    assert pin.root_fingerprint == load_installation(data_dir).root_fingerprint
    assert AuditEvent.objects.filter(action="installation.init").exists()


def test_a_recreated_root_is_refused_by_the_database_pin(console, data_dir):
    """keys/ deleted and re-created (every file-level trace wiped): fails if the console's pin source
    (audit.trustdb.stores.database_pin) is not consulted."""
    from audit.evidence import deployment_evidence

    append(console, data_dir, "demo", "demo_ready")
    shutil.rmtree(data_dir / "keys")
    paths.installation_path(data_dir).unlink()
    shutil.rmtree(paths.witness_dir(data_dir))
    paths.witness_state_path(data_dir).unlink()
    init_installation(data_dir, "mallory-admin-password")
    with pytest.raises(KeyRingError, match="pinned in console database"):
        KeyRing.load(data_dir)
    state = deployment_evidence(Deployment.objects.create(name="local", customer="x", local=True))
    assert not state.report.ok and len(state.report.problems) == 1
    assert not state.gates["demo_exit"].passed


def test_both_sealed_places_rolled_back_together_are_caught_by_the_database(console, data_dir):
    """Rollback of the log, its checkpoint and both sealed witness places to an older copy: fails if the
    console's witness store (audit.trustdb.stores.DatabaseWitnessStore) is not registered."""
    append(console, data_dir, "demo", "demo_ready")
    log = paths.decision_log_path("demo", data_dir)
    files = [log, paths.checkpoint_path(log), paths.witness_state_path(data_dir)]
    files.append(paths.witness_dir(data_dir) / "witness.json")
    older = {path: path.read_bytes() for path in files}
    append(console, data_dir, "demo", "revoked")
    assert WitnessMark.objects.get(key__endswith=":demo").seq == 2
    for path, data in older.items():
        path.write_bytes(data)
    problem = reasons(verify(console, data_dir))
    assert "rolled back: file at 1 " in problem and "console database 2 " in problem
