# ruff: noqa: F811 - the fixtures are imported from client_fixtures and requested by name
"""Connecting the desktop client: a valid profile reaches the daemon over TLS 1.3; a wrong CA, a revoked
certificate or an expired token gives one clear line and the client keeps running."""

import os
import stat
import time
from datetime import timedelta

import pytest

from desktop_qml.profile import ProfileError, load_profile, load_stored_profile, stored_profile_path
from execution.mtls.bundle import _load_issued, revoke
from execution.mtls.pki import create_ca, issue_client_cert
from tests.desktop_qml.client_fixtures import config_home, connect, daemon, desk, write_profile  # noqa: F401


def _wait_message(qtbot, desk, text):
    qtbot.waitUntil(lambda: text in desk.backend.connection.message, timeout=10_000)
    return desk.backend.connection.message


def test_a_valid_profile_connects_over_tls13_and_is_stored_0600(qtbot, desk, daemon, tmp_path, config_home):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    conn = desk.backend.connection
    assert conn.tlsVersion == "TLSv1.3" and conn.tlsOk
    assert conn.daemonMode == "paper"
    assert conn.subject == "alice" and conn.isOperator and not conn.isAdmin
    assert "CN=alice" in conn.certificate and "valid until" in conn.certificate
    assert not conn.certificateWarning
    stored = stored_profile_path()
    assert stored.parent == config_home / "core-oem"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert load_stored_profile().token_subject() == "alice"
    assert desk.backend.screen == "dashboard"  # connected: the dashboard comes first
    assert desk.find("tlsVersion").property("text").startswith("TLSv1.3")


def test_a_wrong_ca_is_a_clear_message_and_no_crash(qtbot, desk, daemon, tmp_path):
    foreign = create_ca(days=30)
    profile = write_profile(daemon, tmp_path / "p", "alice", ["operator"], ca=foreign.cert_pem)
    assert desk.backend.connection.loadProfile(str(profile))
    line = _wait_message(qtbot, desk, "does not sign")
    assert "certificate the profile's CA does not sign" in line and "\n" not in line
    assert desk.backend.connection.state == "reconnecting"
    qtbot.waitUntil(lambda: desk.backend.connection.attempt >= 2, timeout=10_000)  # retries, backing off


def test_a_revoked_certificate_is_a_clear_message_and_no_crash(qtbot, desk, daemon, tmp_path):
    profile = write_profile(daemon, tmp_path / "p", "eve", ["viewer"])
    revoke(daemon.deployment.certs_dir, operator="eve")
    assert desk.backend.connection.loadProfile(str(profile))
    line = _wait_message(qtbot, desk, "revoked")
    assert line.startswith("the daemon refused the credentials:")
    assert desk.backend.connection.state == "reconnecting"


def test_an_expired_token_is_a_clear_message_and_no_crash(qtbot, desk, daemon, tmp_path):
    past = time.time() - 7200
    profile = write_profile(daemon, tmp_path / "p", "bob", ["operator"], ttl_s=60, now=past)
    assert desk.backend.connection.loadProfile(str(profile))
    line = _wait_message(qtbot, desk, "expired")
    assert line.startswith("the daemon refused the credentials:")
    assert desk.backend.connection.subject == ""


def test_a_key_that_does_not_match_the_certificate_is_refused_and_nothing_is_stored(daemon, tmp_path):
    profile = write_profile(daemon, tmp_path / "p", "alice", ["operator"])
    _, bob_key, _ = daemon.deployment.client_files("bob")
    (tmp_path / "p" / "alice.key").write_bytes(bob_key)
    with pytest.raises(ProfileError, match="does not belong to the client certificate"):
        load_profile(profile)
    assert not stored_profile_path().exists()


def test_a_non_loopback_target_and_unknown_fields_are_refused(daemon, tmp_path):
    profile = write_profile(daemon, tmp_path / "p", "alice", ["operator"])
    text = profile.read_text()
    profile.write_text(text.replace("localhost:", "10.0.0.1:"))
    with pytest.raises(ProfileError, match="loopback"):
        load_profile(profile)
    profile.write_text(text[:-1] + ', "proxy": "x"}')
    with pytest.raises(ProfileError, match="unknown field"):
        load_profile(profile)


def test_a_stored_profile_readable_by_others_is_refused(qtbot, desk, daemon, tmp_path):
    connect(qtbot, desk, write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    os.chmod(stored_profile_path(), 0o644)
    with pytest.raises(ProfileError, match="chmod 600"):
        load_stored_profile()


def test_a_certificate_close_to_expiry_is_flagged(daemon, tmp_path):
    profile = load_profile(write_profile(daemon, tmp_path / "p", "alice", ["operator"]))
    ca = _load_issued(daemon.deployment.certs_dir, "ca")
    short = issue_client_cert(ca, "alice", days=5)
    info = profile.__class__(profile.target, profile.ca_pem, short.cert_pem, short.key_pem, profile.token)
    cert = info.certificate()
    assert cert.expiring and "fewer than 14 days" in cert.line()
    assert cert.days_left < 5.1 and cert.days_left > 4.9
    assert timedelta(days=cert.days_left) < timedelta(days=14)


def test_first_run_names_the_four_files_and_connects(qtbot, desk, daemon, tmp_path):
    write_profile(daemon, tmp_path / "p", "alice", ["operator"])
    d = tmp_path / "p"
    conn = desk.backend.connection
    assert not conn.createProfile(
        "localhost:1", str(d / "ca.pem"), str(d / "nope.pem"), str(d / "alice.key"), "t"
    )
    assert conn.message.startswith("cannot read ") and not stored_profile_path().exists()
    target = f"localhost:{daemon.daemon.port}"
    files = [str(d / n) for n in ("ca.pem", "alice.pem", "alice.key", "alice.token")]
    assert conn.createProfile(target, *files), conn.message
    qtbot.waitUntil(lambda: conn.state == "connected", timeout=10_000)
    assert load_stored_profile().target == target
