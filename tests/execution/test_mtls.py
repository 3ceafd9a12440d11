"""Offline CA, certificates, CRL, deterministic bundle and the three CLIs."""

import gzip
import os
import stat
import tarfile
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from audit.trust.hashing import sha384_file
from execution.mtls.bundle import (
    BUNDLE_NAME,
    build_bundle_bytes,
    bundle_matches_files,
    generate_bundle,
    generate_mtls_bundle_main,
    load_inventory,
    revoke,
    revoke_client_cert_main,
    rotate,
    rotate_certs_main,
)
from execution.mtls.pki import PkiError, create_ca, utc_now, verify_crl


def _cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_cli_generates_ca_server_clients_crl_and_prints_bundle_hash(tmp_path, capsys):
    out = tmp_path / "certs"
    assert generate_mtls_bundle_main(["--out", str(out), "--operators", "alice,bob", "--days", "90"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed == "sha384:" + sha384_file(out / BUNDLE_NAME)
    ca, server = _cert(out / "ca.pem"), _cert(out / "server.pem")
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)][0] == "127.0.0.1"
    alice = _cert(out / "clients" / "alice.pem")
    assert alice.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "alice"
    assert (alice.not_valid_after_utc - alice.not_valid_before_utc) <= timedelta(days=90, minutes=5)
    for key in (
        out / "ca.key",
        out / "server.key",
        out / "clients" / "alice.key",
        out / "clients" / "bob.key",
    ):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert verify_crl((out / "crl.pem").read_bytes(), ca).revoked == frozenset()
    assert generate_mtls_bundle_main(["--out", str(out)]) == 1  # never overwrites a CA


def test_bundle_is_deterministic_sorted_and_anonymous(tmp_path, monkeypatch):
    generate_bundle(tmp_path, ["alice"])
    assert (
        build_bundle_bytes(tmp_path) == build_bundle_bytes(tmp_path) == (tmp_path / BUNDLE_NAME).read_bytes()
    )
    with tarfile.open(tmp_path / BUNDLE_NAME) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members)
    assert gzip.open(tmp_path / BUNDLE_NAME).read()  # valid gzip
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    with tarfile.open(fileobj=__import__("io").BytesIO(build_bundle_bytes(tmp_path))) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}
    assert bundle_matches_files(tmp_path) == []
    (tmp_path / "server.pem").write_bytes((tmp_path / "clients" / "alice.pem").read_bytes())
    assert bundle_matches_files(tmp_path) == ["server.pem in use differs from the copy in live_bundle.tar.gz"]


def test_revoke_by_operator_and_serial_writes_a_signed_crl(tmp_path, capsys):
    generate_bundle(tmp_path, ["alice", "bob"])
    ca = _cert(tmp_path / "ca.pem")
    bob_serial = _cert(tmp_path / "clients" / "bob.pem").serial_number
    assert revoke_client_cert_main(["--dir", str(tmp_path), "--operator", "bob"]) == 0
    assert verify_crl((tmp_path / "crl.pem").read_bytes(), ca).revoked == {bob_serial}
    alice_serial = _cert(tmp_path / "clients" / "alice.pem").serial_number
    assert revoke_client_cert_main(["--dir", str(tmp_path), "--serial", str(alice_serial)]) == 0
    assert verify_crl((tmp_path / "crl.pem").read_bytes(), ca).revoked == {bob_serial, alice_serial}
    assert revoke_client_cert_main(["--dir", str(tmp_path), "--serial", "12345"]) == 1
    assert "no certificate" in capsys.readouterr().err


def test_crl_checks_fail_closed(tmp_path):
    generate_bundle(tmp_path, ["alice"])
    ca = _cert(tmp_path / "ca.pem")
    revoke(tmp_path, operator="alice", now=utc_now() - timedelta(days=3), crl_days=1)
    with pytest.raises(PkiError, match="stale"):
        verify_crl((tmp_path / "crl.pem").read_bytes(), ca)
    foreign = create_ca(days=10)
    with pytest.raises(PkiError):
        verify_crl((tmp_path / "crl.pem").read_bytes(), foreign.cert)


def test_rotation_renews_only_past_two_thirds_and_rebuilds_bundle(tmp_path, capsys):
    start = utc_now() - timedelta(days=61)
    generate_bundle(tmp_path, ["alice"], days=90, now=start)
    old_fp = sha384_file(tmp_path / BUNDLE_NAME)
    old_server = _cert(tmp_path / "server.pem").serial_number
    renewed, fingerprint = rotate(tmp_path)
    assert set(renewed) == {"server", "client alice"}
    assert _cert(tmp_path / "server.pem").serial_number != old_server
    assert fingerprint == "sha384:" + sha384_file(tmp_path / BUNDLE_NAME) != "sha384:" + old_fp
    assert rotate_certs_main(["--dir", str(tmp_path)]) == 0
    assert "nothing" in capsys.readouterr().out
    assert len(load_inventory(tmp_path)["certificates"]) == 5


def test_the_runbook_command_works_and_a_tarball_path_as_out_is_refused(tmp_path, monkeypatch, capsys):
    from audit.runbooks.model import load_runbooks

    commands = {
        s.command
        for r in load_runbooks().values()
        for c in r.checklists
        for s in c.steps
        if s.command and "generate_mtls_bundle" in s.command
    }
    assert commands == {"python scripts/generate_mtls_bundle.py --out var/certs"}
    monkeypatch.chdir(tmp_path)
    assert generate_mtls_bundle_main(["--out", "var/certs"]) == 0
    assert (tmp_path / "var" / "certs" / "live_bundle.tar.gz").is_file()
    capsys.readouterr()
    assert generate_mtls_bundle_main(["--out", "other/live_bundle.tar.gz"]) == 1
    assert "--out is the bundle directory" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
