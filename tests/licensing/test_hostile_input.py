"""Hostile input to every licensing reader: arbitrary bytes give a one-line error or a valid result, never a
traceback; non-regular files (FIFO, device, directory), oversize files and huge images are refused in one
line without hanging or decoding."""

from __future__ import annotations

import json
import os
import signal
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licensing.core import qr
from licensing.core.cli import (
    activate_license_main,
    license_request_main,
    load_local_activation,
    oem_provision_license_main,
)
from licensing.core.crl import CrlError, build_crl, load_crl, parse_crl
from licensing.core.high_water import HighWaterError, load_mark
from licensing.core.intent import IntentError, load_intent
from licensing.core.license_file import LicenseError, from_qr_text, parse_license, read_license_qr_png
from licensing.core.registry import verify_registry
from licensing.core.request import RequestError, load_request
from licensing.core.request import from_qr_text as request_from_qr_text
from licensing.core.verify import verify_license
from tests.licensing.helpers import NOW, fingerprint, make_license, this_pin

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_like = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet='{}[]":,0123456789.eE-+ntrufalse\\u \n', max_size=200).map(str.encode),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text, repr(text)


def _mutate(document: dict, data) -> bytes:
    """The document with one field (top level or one level down) replaced by an arbitrary JSON value."""
    doc = json.loads(json.dumps(document))
    key = data.draw(st.sampled_from(sorted(doc)))
    if isinstance(doc[key], dict) and doc[key] and data.draw(st.booleans()):
        doc[key][data.draw(st.sampled_from(sorted(doc[key])))] = data.draw(json_values)
    else:
        doc[key] = data.draw(json_values)
    return json.dumps(doc).encode()


@pytest.fixture
def no_hang():
    """Turns a hang into a failure instead of a stuck run (a guard, not a timing check)."""

    def hung(signum, frame):
        raise AssertionError("the reader blocked")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def lic(signer, machine, keyring):
    return make_license(signer, fingerprint(machine, keyring)["components"])


# ---- parsers over arbitrary and mutated bytes -------------------------------------------------------------
@FUZZ
@given(data=json_like)
def test_the_license_parser_answers_one_line_or_a_license(data):
    """Fails when parse_license lets any exception but LicenseError out (e.g. a TypeError on a field)."""
    try:
        parse_license(data)
    except LicenseError as exc:
        one_line(exc)


@FUZZ
@given(data=st.data())
def test_a_mutated_license_is_refused_in_one_line_by_the_verifier(lic, machine, keyring, data):
    """Fails when verify_license raises instead of returning reasons for a malformed field."""
    record = fingerprint(machine, keyring)
    status = verify_license(
        _mutate(lic.document, data), fingerprint_record=record, now=NOW, trust_root=this_pin()
    )
    assert all(reason and "\n" not in reason for reason in status.reasons)


@FUZZ
@given(data=st.data())
def test_a_mutated_request_is_refused_in_one_line(machine, keyring, data):
    """Fails when load_request lets a TypeError/KeyError out on a field of the wrong type."""
    from licensing.core.request import build_request

    document = build_request(fingerprint(machine, keyring), hostname="h", now=NOW, trust_root=this_pin())
    for blob in (_mutate(document, data), data.draw(json_like)):
        try:
            load_request(blob, keyring, allow_foreign=data.draw(st.booleans()))
        except RequestError as exc:
            one_line(exc)


@FUZZ
@given(data=st.data())
def test_a_mutated_or_arbitrary_crl_is_refused_in_one_line(signer, data):
    """Fails when parse_crl lets any exception but CrlError out."""
    crl = build_crl(
        [{"serial": 2, "reason": "x", "revoked_at": "2025-06-01T12:00:00.000000Z"}],
        number=3,
        issued_at=NOW,
        signer=signer,
    )
    for blob in (_mutate(crl, data), data.draw(json_like)):
        try:
            parse_crl(blob)
        except CrlError as exc:
            one_line(exc)


@FUZZ
@given(lines=st.lists(json_like, max_size=4))
def test_an_arbitrary_registry_file_gives_one_line_problems(data_dir, lines):
    """Fails when the registry scan raises on a line (e.g. RecursionError on deep nesting) instead of
    reporting it as a problem."""
    path = data_dir / "licenses" / "fuzz" / "registry.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines))
    problems = verify_registry(path, witness=False)
    assert all(p and "\n" not in p for p in problems)


@FUZZ
@given(blob=json_like)
def test_arbitrary_device_records_are_refused_in_one_line(data_dir, keyring, blob):
    """Fails when the intent, high-water or activation readers let a non-ValueError out."""
    licenses = data_dir / "licenses"
    licenses.mkdir(parents=True, exist_ok=True)
    for name, read, error in (
        ("intent.json", lambda p: load_intent(p, keyring), IntentError),
        ("high_water.json", lambda p: load_mark(keyring, p), HighWaterError),
        ("activation.json", lambda p: load_local_activation(keyring), ValueError),
    ):
        (licenses / name).write_bytes(blob)
        try:
            read(licenses / name)
        except error as exc:
            one_line(exc)
        (licenses / name).unlink()


@FUZZ
@given(text=st.one_of(st.text(max_size=300), st.text(alphabet="OEMLICRQ1:-_aAzZ09", max_size=300)))
def test_arbitrary_qr_texts_are_refused_in_one_line(text):
    """Fails when the QR text decoders let a binascii/Unicode error out instead of a one-line refusal."""
    for decode, error in ((from_qr_text, LicenseError), (request_from_qr_text, RequestError)):
        try:
            decode(text)
        except error as exc:
            one_line(exc)


@FUZZ
@given(
    blob=st.one_of(st.binary(max_size=400), st.binary(max_size=300).map(lambda b: b"\x89PNG\r\n\x1a\n" + b))
)
def test_arbitrary_image_bytes_are_refused_in_one_line(tmp_path, blob):
    """Fails when read_png lets a Pillow exception (SyntaxError, struct.error, ...) out."""
    path = tmp_path / "fuzz.png"
    path.write_bytes(blob)
    try:
        read_license_qr_png(path)
    except LicenseError as exc:
        one_line(exc)


# ---- files that are not bounded regular files -------------------------------------------------------------
def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def test_a_huge_image_is_refused_from_its_header_before_decoding(tmp_path, capsys):
    """Fails when read_png decodes before checking its pixel cap (36 M pixels: below Pillow's own bomb limit,
    above what any QR code image needs)."""
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(6000, 6000))
    with pytest.raises(LicenseError, match="6000x6000 pixels, more than the"):
        read_license_qr_png(path)
    assert activate_license_main(["--qr", str(path)]) == 1
    one_line(capsys.readouterr().err.strip())


@pytest.mark.parametrize("kind", ["fifo", "directory", "dev-zero", "oversize"])
def test_non_regular_or_oversize_inputs_are_refused_in_one_line(tmp_path, data_dir, kind, no_hang, capsys):
    """Fails when a licensing command reads a path without the bounded regular-file reader (a FIFO hangs,
    /dev/zero grows memory without bound)."""
    target = tmp_path / "input"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    elif kind == "dev-zero":
        target.symlink_to("/dev/zero")
    else:
        target.write_bytes(b" " * (2 * 1024 * 1024))
    common = [
        "--customer",
        "ACME",
        "--stages",
        "demo",
        "--valid-days",
        "3",
        "--out",
        str(tmp_path / "o.json"),
    ]
    for code in (
        activate_license_main([str(target)]),
        activate_license_main(["--qr", str(target)]),
        oem_provision_license_main(["--request", str(target), *common]),
    ):
        assert code == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines), lines


@pytest.mark.parametrize("name", ["crl.json", "high_water.json", "registry.jsonl"])
def test_a_fifo_in_place_of_a_licensing_state_file_is_refused_in_one_line(
    tmp_path, data_dir, name, no_hang, capsys
):
    """Fails when the CRL, high-water or registry reader opens the path without checking its type."""
    assert license_request_main(["--out", str(tmp_path / "req.json")]) == 0
    common = [
        "--customer",
        "ACME",
        "--stages",
        "demo",
        "--valid-days",
        "3",
        "--out",
        str(tmp_path / "l.json"),
    ]
    assert oem_provision_license_main(["--request", str(tmp_path / "req.json"), *common]) == 0
    capsys.readouterr()
    path = data_dir / "licenses" / name
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    assert activate_license_main([str(tmp_path / "l.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FIFO" in err, err


def test_the_crl_and_image_readers_refuse_a_fifo_directly(tmp_path, no_hang):
    """Fails when load_crl or read_png opens the path without the bounded regular-file reader (hangs)."""
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(CrlError, match="FIFO"):
        load_crl(tmp_path / "fifo")
    with pytest.raises(qr.QrError, match="FIFO"):
        qr.read_png(tmp_path / "fifo")


def test_a_deeply_nested_registry_line_is_one_problem(data_dir):
    """Fails when the registry scan peeks at a broken line with an unbounded parser (RecursionError)."""
    path = data_dir / "licenses" / "deep" / "registry.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"[" * 200_000 + b"\n")
    problems = verify_registry(path, witness=False)
    assert len(problems) == 1 and "not strict JSON" in problems[0]


def test_a_fifo_in_the_probed_system_tree_is_treated_as_absent(machine, keyring, no_hang):
    """Fails when SystemProbe opens files with a blocking open (a FIFO at /etc/machine-id hangs)."""
    from licensing.core.fingerprint import SystemProbe, collect_components

    (machine / "etc/machine-id").unlink()
    os.mkfifo(machine / "etc/machine-id")
    assert "machine_id" not in collect_components(SystemProbe(machine))
