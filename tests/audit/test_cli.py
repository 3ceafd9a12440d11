"""The CLIs end to end: keys, update (sign + append), strict verification output."""

from __future__ import annotations

import pytest

from audit.trust.cli import init_installation_main, keys_main, verify_decision_log_main
from tests.audit.helpers import read_lines, write_lines
from tests.trust_setup import ADMIN_PASSWORD, installed


@pytest.fixture
def people(tmp_path, data_dir, capsys):
    admin = tmp_path / "admin.pw"
    admin.write_text(ADMIN_PASSWORD + "\n")
    assert init_installation_main(["--admin-password-file", str(admin)]) == 0
    for user, roles in [("alice", "owner"), ("bob", "engineer"), ("carol", "compliance")]:
        secret = tmp_path / f"{user}.pw"
        secret.write_text(f"pw-{user}\n")
        argv = ["create-signer", "--user", user, "--roles", roles, "--password-file", str(secret)]
        assert keys_main([*argv, "--admin-password-file", str(admin)]) == 0
    capsys.readouterr()
    return tmp_path


def _update(people, log, stage, status, pairs, extra=()):
    pw = people / "update.pw"
    pw.write_text("".join(f"pw-{user}\n" for _, user in pairs))
    argv = ["update", "--log", str(log), "--stage", stage, "--status", status, "--password-file", str(pw)]
    for role, user in pairs:
        argv += ["--signer", f"{role}={user}"]
    return verify_decision_log_main([*argv, *extra])


def test_keys_list_shows_no_key_material(people, capsys):
    assert keys_main(["list"]) == 0
    out = capsys.readouterr().out
    assert "signer-alice-" in out and "roles=owner" in out
    assert "ciphertext" not in out and "pw-alice" not in out


def test_keys_rotate_and_retire(people, capsys):
    assert keys_main(["rotate", "--purpose", "config"]) == 0
    kid = capsys.readouterr().out.split()[-1]
    assert keys_main(["retire", "--kid", kid]) == 0
    assert keys_main(["retire", "--kid", kid]) == 1
    assert "already retired" in capsys.readouterr().err


def test_create_signer_reads_password_from_stdin(data_dir, monkeypatch, capsys):
    import io

    installed(data_dir)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"secret-from-stdin\n{ADMIN_PASSWORD}\n"))
    assert keys_main(["create-signer", "--user", "erin", "--roles", "owner,engineer"]) == 0
    assert "roles=engineer,owner" in capsys.readouterr().out


def test_create_signer_without_the_administrator_password_is_refused(data_dir, monkeypatch, capsys):
    """Fails if enrolment stops requiring the installation root (anyone could add signers to the ring)."""
    import io

    installed(data_dir)
    monkeypatch.setattr("sys.stdin", io.StringIO("secret-from-stdin\nnot-the-admin-password\n"))
    assert keys_main(["create-signer", "--user", "erin", "--roles", "owner"]) == 1
    assert "wrong password for the installation root" in capsys.readouterr().err


def test_keys_and_verification_refuse_a_data_dir_never_set_up(data_dir, capsys):
    """Fails if any command creates a trust root implicitly again (only init_installation may)."""
    assert keys_main(["list"]) == 1
    assert verify_decision_log_main(["--strict"]) == 1
    assert "never set up" in capsys.readouterr().err
    assert not (data_dir / "keys").exists()


def test_update_then_verify_strict(people, data_dir, capsys):
    logs = data_dir / "audit" / "decision_logs"
    report = data_dir / "acceptance" / "smoke.jsonl"
    report.parent.mkdir(parents=True)
    report.write_text("{}\n")
    extra = ["--artefact", "run_hash=sha384:" + "a" * 96, "--artefact", f"smoke_notes=@{report}"]
    code = _update(
        people,
        logs / "demo.jsonl",
        "demo",
        "demo_ready",
        [("owner", "alice"), ("compliance", "carol")],
        extra,
    )
    assert code == 0, capsys.readouterr().err
    assert verify_decision_log_main(["--strict"]) == 0
    assert "OK: 1 entries verified" in capsys.readouterr().out
    line = read_lines(logs / "demo.jsonl")[0]
    assert b'"path":"acceptance/smoke.jsonl"' in line


def test_update_with_wrong_password_writes_nothing(people, data_dir, capsys):
    logs = data_dir / "audit" / "decision_logs"
    pw = people / "bad.pw"
    pw.write_text("pw-alice\nwrong\n")
    argv = ["update", "--log", str(logs / "demo.jsonl"), "--stage", "demo", "--status", "demo_ready"]
    argv += ["--signer", "owner=alice", "--signer", "compliance=carol", "--password-file", str(pw)]
    assert verify_decision_log_main(argv) == 1
    assert "wrong password" in capsys.readouterr().err
    assert not (logs / "demo.jsonl").exists()


def test_verify_prints_one_line_per_problem(people, data_dir, capsys):
    logs = data_dir / "audit" / "decision_logs"
    pairs = [("owner", "alice"), ("compliance", "carol")]
    for _ in range(3):
        assert _update(people, logs / "demo.jsonl", "demo", "demo_ready", pairs) == 0
    lines = read_lines(logs / "demo.jsonl")
    write_lines(logs / "demo.jsonl", [lines[0], lines[2]])
    capsys.readouterr()
    assert verify_decision_log_main(["--strict", "--log", str(logs / "demo.jsonl")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{logs / 'demo.jsonl'}:2: ")
    assert any("checkpoint" in line for line in err)


def test_update_refuses_broken_log(people, data_dir, capsys):
    logs = data_dir / "audit" / "decision_logs"
    pairs = [("owner", "alice"), ("compliance", "carol")]
    assert _update(people, logs / "demo.jsonl", "demo", "demo_ready", pairs) == 0
    (logs / "demo.jsonl").write_bytes(
        (logs / "demo.jsonl").read_bytes().replace(b"demo_ready", b"demo_reaDy")
    )
    before = (logs / "demo.jsonl").read_bytes()
    assert _update(people, logs / "demo.jsonl", "demo", "demo_ready", pairs) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing to append" in err
    assert (logs / "demo.jsonl").read_bytes() == before


def test_usage_errors_are_one_line(capsys):
    assert verify_decision_log_main(["--bogus"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert keys_main(["rotate", "--purpose", "nonsense"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
