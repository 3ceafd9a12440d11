"""Hostile input to the trust core: every parser answers a one-line error or a valid result, never a
traceback, and no path (FIFO, device, directory, socket, oversize file) can hang or exhaust a command."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.trust import cli
from audit.trust.canonical import MAX_JSON_DEPTH, StrictJSONError, strict_loads
from audit.trust.core_config import MAX_YAML_DEPTH, ConfigError, parse_yaml, verify_file_signature
from audit.trust.decision_rules import DecisionLogError, read_checkpoint
from audit.trust.fsutil import MissingFileError, UnsafeFileError, read_regular_file
from audit.trust.hashing import sha384_file
from audit.trust.keyring import KeyRing, KeyRingError
from audit.trust.verifier import verify_log_content

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Bytes that look like the real formats, so the fuzzer reaches past the first character.
json_like = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet='{}[]":,0123456789.eE-+ntrufalse\\u \n', max_size=200).map(str.encode),
)
yaml_like = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet="abc:-[]{}&*!?<>|'\" \n\t.0123456789#%@`,", max_size=200).map(str.encode),
)


def one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text, repr(text)


@pytest.fixture
def no_hang():
    """Turns a hang into a failure with a traceback instead of a stuck run (a guard, not a timing check)."""

    def hung(signum, frame):
        raise AssertionError("the reader blocked")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


# ---- the bounded reader ------------------------------------------------------------------------------------
def test_a_fifo_is_refused_without_blocking(fifo, no_hang):
    """Fails when read_regular_file stops checking the file type (the open would block on the FIFO)."""
    with pytest.raises(UnsafeFileError, match="a FIFO, not a regular file") as info:
        read_regular_file(fifo, max_bytes=100, what="config file")
    one_line(info.value)


def test_dev_zero_is_refused_as_a_device(no_hang):
    """Fails when the type check is removed: /dev/zero would be read up to the cap or forever."""
    with pytest.raises(UnsafeFileError, match="character device"):
        read_regular_file("/dev/zero", max_bytes=100, what="key")


def test_a_symlink_to_a_fifo_is_refused(tmp_path, fifo, no_hang):
    """Fails when symlinks are no longer resolved before the type check."""
    link = tmp_path / "link.json"
    link.symlink_to(fifo)
    with pytest.raises(UnsafeFileError, match="FIFO"):
        read_regular_file(link, max_bytes=100, what="key ring")


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    """Fails when resolution breaks honest symlinked installs (a data dir on another volume)."""
    target = tmp_path / "real.json"
    target.write_bytes(b"{}")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert read_regular_file(link, max_bytes=100, what="key ring") == b"{}"


def test_a_directory_and_a_socket_are_refused(tmp_path):
    """Fails when directories or sockets get past the regular-file check."""
    with pytest.raises(UnsafeFileError, match="a directory"):
        read_regular_file(tmp_path, max_bytes=100, what="log")
    sock_path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        with pytest.raises(UnsafeFileError, match="a socket"):
            read_regular_file(sock_path, max_bytes=100, what="log")
    finally:
        server.close()


def test_a_file_over_its_cap_is_refused(tmp_path):
    """Fails when the size cap is removed."""
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(UnsafeFileError, match="more than the 100"):
        read_regular_file(big, max_bytes=100, what="token")
    assert read_regular_file(big, max_bytes=101, what="token") == b"x" * 101


def test_a_missing_file_is_still_a_file_not_found(tmp_path):
    """Fails when callers that treat absence as 'no log yet' stop recognising it."""
    with pytest.raises(FileNotFoundError) as info:
        read_regular_file(tmp_path / "nope", max_bytes=1, what="log")
    assert isinstance(info.value, MissingFileError)
    one_line(info.value)


def test_hashing_an_artefact_that_is_a_fifo_is_refused(fifo, no_hang):
    """Fails when file_digests opens without O_NONBLOCK or stops checking the descriptor's type."""
    with pytest.raises(UnsafeFileError):
        sha384_file(fifo)


def test_archiving_an_artefact_that_is_a_fifo_is_refused_in_one_line(tmp_path, no_hang):
    """Fails when archive_artefacts reads the recorded file without the bounded reader."""
    from audit.trust.artefact_archive import ArchiveError, archive_artefacts

    data_dir = tmp_path / "var"
    data_dir.mkdir()
    os.mkfifo(data_dir / "smoke.jsonl")
    recorded = {"smoke_demo_report": {"path": "smoke.jsonl", "sha384": "0" * 96}}
    with pytest.raises(ArchiveError, match="a FIFO, not a regular file") as info:
        archive_artefacts(recorded, gate="demo_exit", data_dir=data_dir)
    one_line(info.value)
    assert not (data_dir / "audit").exists()


# ---- strict JSON -------------------------------------------------------------------------------------------
@FUZZ
@given(json_like)
def test_strict_json_answers_a_value_or_one_line(data):
    """Fails when any exception other than StrictJSONError escapes strict_loads."""
    try:
        strict_loads(data)
    except StrictJSONError as exc:
        one_line(exc)


def test_json_nesting_is_bounded():
    """Fails when the MAX_JSON_DEPTH check is removed (65 levels would parse)."""
    assert strict_loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    with pytest.raises(StrictJSONError, match="nesting deeper"):
        strict_loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(StrictJSONError, match="nesting"):
        strict_loads(b'{"a":' * 100_000)


# ---- YAML --------------------------------------------------------------------------------------------------
@FUZZ
@given(yaml_like)
def test_yaml_answers_a_value_or_one_line(data):
    """Fails when any exception other than ConfigError escapes parse_yaml (PyYAML's own, ValueError...)."""
    try:
        parse_yaml(data)
    except ConfigError as exc:
        one_line(exc)


BILLION_LAUGHS = b"""a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]
"""


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (BILLION_LAUGHS, "anchors are not allowed"),
        (b"a: *x\n", "aliases are not allowed"),
        (b"? [a, b]\n: 1\n", "complex YAML key"),
        (b"? {a: 1}\n: 1\n", "complex YAML key"),
        (b"1: one\n", "is not a string"),
        (b"<<: {a: 1}\n", "merge keys"),
        (b"a: " + b"[" * (MAX_YAML_DEPTH + 1) + b"]" * (MAX_YAML_DEPTH + 1), "nesting deeper"),
        (b"a: 2026-01-01\n", "timestamp"),
        (b"a: !!binary aGk=\n", "binary"),
        (b"a: !!python/object/apply:os.system [id]\n", "not allowed"),
        (b"a: " + b"9" * 5000 + b"\n", "invalid YAML"),
        (b"a: 1\na: 2\n", "duplicate key"),
    ],
)
def test_hostile_yaml_is_refused_in_one_line(document, reason):
    """Fails when the matching check of _StrictSafeLoader is removed (aliases, keys, depth, tags, ints)."""
    with pytest.raises(ConfigError, match=reason) as info:
        parse_yaml(document)
    one_line(info.value)


# ---- evidence parsers over arbitrary bytes -----------------------------------------------------------------
@FUZZ
@given(data=json_like)
def test_a_decision_log_of_arbitrary_bytes_reports_problems(keyring, logs_dir, data):
    """Fails when a line of a decision log can raise instead of becoming a reported problem."""
    lines = data if data.endswith(b"\n") else data + b"\n"
    report = verify_log_content(logs_dir / "demo.jsonl", lines, keyring)
    assert all("\n" not in str(p) for p in report.problems)


@FUZZ
@given(data=json_like)
def test_a_checkpoint_of_arbitrary_bytes_is_refused_in_one_line(logs_dir, data):
    """Fails when read_checkpoint lets anything but its documented errors escape."""
    (logs_dir / "demo.checkpoint.json").write_bytes(data)
    try:
        read_checkpoint(logs_dir / "demo.jsonl")
    except (StrictJSONError, DecisionLogError, OSError) as exc:
        one_line(exc)


@FUZZ
@given(data=json_like)
def test_a_key_ring_file_of_arbitrary_bytes_is_refused_in_one_line(data_dir, data):
    """Fails when KeyRing.load lets a parsing error other than KeyRingError escape."""
    ring_path = data_dir / "keys" / "keyring.json"
    ring_path.parent.mkdir(parents=True, exist_ok=True)
    ring_path.write_bytes(data)
    try:
        KeyRing.load(data_dir)
    except KeyRingError as exc:
        one_line(exc)


@FUZZ
@given(data=json_like)
def test_a_config_signature_of_arbitrary_bytes_is_refused_in_one_line(keyring, tmp_path, data):
    """Fails when verify_file_signature lets anything but ConfigError escape on a hostile .sig."""
    config = tmp_path / "core.yaml"
    config.write_bytes(b"version: 1\n")
    (tmp_path / "core.yaml.sig").write_bytes(data)
    with pytest.raises(ConfigError) as info:
        verify_file_signature(config, b"version: 1\n", keyring)
    one_line(info.value)


# ---- commands given a FIFO or /dev/zero --------------------------------------------------------------------
def _commands(path: Path, logs_dir: Path) -> list[tuple[str, object, list[str]]]:
    return [
        ("validate_config --config", cli.validate_config_main, ["--profile", "demo", "--config", str(path)]),
        ("sign_config --config", cli.sign_config_main, ["--config", str(path)]),
        ("keys create-signer", cli.keys_main, ["create-signer", "--user", "x", "--roles", "owner"]),
        ("verify_decision_log --schema", cli.verify_decision_log_main, ["--schema", str(path)]),
    ]


@pytest.mark.parametrize("hostile", ["fifo", "/dev/zero"])
def test_every_trust_command_given_a_fifo_or_dev_zero_fails_in_one_line(
    hostile, fifo, keyring, logs_dir, capsys, no_hang
):
    """Fails when any of these commands reads its file argument without read_regular_file."""
    path = fifo if hostile == "fifo" else Path("/dev/zero")
    for name, main, argv in _commands(path, logs_dir):
        if name == "keys create-signer":
            argv = [*argv, "--password-file", str(path)]
        assert main(argv) == 1, name
        err = capsys.readouterr().err.strip()
        assert err and "\n" not in err, (name, err)


@pytest.mark.parametrize("hostile", ["fifo", "/dev/zero"])
def test_a_decision_log_that_is_a_fifo_or_device_fails_verification_in_one_line(
    hostile, fifo, keyring, logs_dir, capsys, no_hang
):
    """Fails when the verifier reads a log without read_regular_file (a FIFO log would block forever)."""
    log = logs_dir / "demo.jsonl"
    log.symlink_to(fifo if hostile == "fifo" else Path("/dev/zero"))
    assert cli.verify_decision_log_main(["--strict", "--log", str(log)]) == 1
    out = capsys.readouterr()
    assert "not a regular file" in out.out + out.err


# ---- backup index and audit export -------------------------------------------------------------------------
@FUZZ
@given(data=json_like)
def test_a_backup_index_of_arbitrary_bytes_is_refused_in_one_line(data):
    """Fails when parse_index lets anything but BackupError escape on a hostile index.json."""
    from audit.trust.backup import BackupError, parse_index

    with pytest.raises(BackupError) as info:
        parse_index(data)
    one_line(info.value)


@FUZZ
@given(data=st.one_of(json_like, json_like.map(lambda b: b + b"\n")))
def test_an_audit_export_of_arbitrary_bytes_is_refused_in_one_line(keyring, data):
    """Fails when verify_export lets anything but ExportError escape on a hostile export."""
    from audit.chain import ExportError, verify_export

    with pytest.raises(ExportError) as info:
        verify_export(data, keyring)
    one_line(info.value)


def test_a_backup_that_is_a_fifo_or_a_device_is_refused(fifo, tmp_path, no_hang):
    """Fails when the archive is opened without the non-blocking regular-file check."""
    from audit.trust.backup import BackupError, stage_backup

    for hostile in (fifo, Path("/dev/zero")):
        with pytest.raises(BackupError, match="not a regular file"):
            stage_backup(hostile, tmp_path / "stage", data_dir=tmp_path / "var", allow_other=False)
        assert not (tmp_path / "stage").exists()


def test_a_backup_with_a_huge_pax_header_is_refused_without_reading_it(tmp_path):
    """Fails when the archive is handed to tarfile without _BoundedReads (the claimed header size would be
    read into memory at once)."""
    import tarfile

    from audit.trust.backup import BackupError, stage_backup
    from audit.trust.fsutil import MAX_JSON_FILE

    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = MAX_JSON_FILE + 1
    archive = tmp_path / "backup.tar"
    archive.write_bytes(header.tobuf(format=tarfile.USTAR_FORMAT) + b"x" * 1024)
    with pytest.raises(BackupError, match="larger than allowed"):
        stage_backup(archive, tmp_path / "stage", data_dir=tmp_path / "var", allow_other=False)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_a_backup_of_arbitrary_bytes_is_refused_in_one_line(tmp_path, data):
    """Fails when stage_backup lets a tar or parsing error other than BackupError escape, or keeps a stage."""
    import tarfile

    from audit.trust.backup import BackupError, stage_backup

    archive = tmp_path / "fuzz.tar"
    # Half the examples are real tar framing around the fuzzed bytes, to get past the first header.
    if len(data) % 2 == 0:
        info = tarfile.TarInfo("index.json")
        info.size = len(data)
        padding = b"\0" * (-len(data) % 512)
        data = info.tobuf(format=tarfile.PAX_FORMAT) + data + padding + b"\0" * 1024
    archive.write_bytes(data)
    stage = tmp_path / "fuzz-stage"
    with pytest.raises(BackupError) as info:
        stage_backup(archive, stage, data_dir=tmp_path / "var", allow_other=False)
    one_line(info.value)
    assert not stage.exists()
