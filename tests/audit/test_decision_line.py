"""A written line is read with one parse and its body cut from its bytes, and that fast path decides exactly
what the strict path decides: the verifier's report is the same, problem for problem and word for word, with
the fast path and without it, on valid logs and on lines spelled to slip past it."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.trust import parallel_verify, verifier
from audit.trust.canonical import canonical_bytes, fast_canonical_bytes, strict_loads
from audit.trust.decision_line import read_written_line
from audit.trust.decision_log import build_entry, sign_entry
from audit.trust.decision_log_shape import shape_error
from audit.trust.decision_rules import genesis_hash, line_hash, signing_context, witness_key
from audit.trust.keyring import utc_now
from audit.trust.witness import Mark, witness_for
from tests.audit.helpers import DEMO_FLAGS, cosigned_checkpoint, signers, write_lines

_HEX = "0123456789abcdef"
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_plain = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters='"\\'), max_size=12)
_artefact = (
    st.none()
    | _text
    | st.fixed_dictionaries({"path": _text.filter(bool), "sha384": st.text(_HEX, min_size=96, max_size=96)})
)
_signature = st.builds(
    lambda kid, raw: f"ed25519:{kid}:{base64.b64encode(raw).decode()}",
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    st.binary(min_size=64, max_size=64),
)
_entries = st.fixed_dictionaries(
    {
        "seq": st.integers(1, 2**53 - 1),
        "prev_hash": st.text(_HEX, min_size=96, max_size=96).map(lambda h: "sha384:" + h),
        "timestamp": st.sampled_from(["2025-08-18T14:25:04.123456Z", "2025-08-18T14:25:04Z"]),
        "stage": st.sampled_from(["demo", "paper", "live"]),
        "status": st.sampled_from(["demo_ready", "paper_ready", "live_ready", "revoked"]),
        "artefacts": st.dictionaries(
            st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True), _artefact, max_size=5
        ),
        "runtime_flags": st.fixed_dictionaries(
            {
                "StrategyContext.require_demo_mode": st.booleans(),
                "runtime.compliance_confirmed": st.booleans(),
            }
        ),
        "signatures": st.dictionaries(
            st.sampled_from(["owner", "compliance", "engineer"]), _signature, min_size=1
        ),
    },
    optional={"note": _text},
)


def _unsigned(entry):
    return {k: v for k, v in entry.items() if k != "signatures"}


def _taken_only_as_the_strict_path_reads_it(line: bytes) -> None:
    """If the fast path takes `line`, it is canonical, strict JSON of the v2 shape, and the body is right."""
    read = read_written_line(line)
    if read is not None:
        entry, body = read
        assert strict_loads(line) == entry
        assert shape_error(entry) is None
        assert fast_canonical_bytes(entry) == line
        assert body == fast_canonical_bytes(_unsigned(entry))


@given(_entries)
@settings(max_examples=300)
def test_a_written_line_reads_as_its_entry_with_the_body_the_strict_path_encodes(entry):
    line = fast_canonical_bytes(entry)
    _taken_only_as_the_strict_path_reads_it(line)
    needs_no_escape = all(
        isinstance(s, str) and not re.search(r'["\\\x00-\x1f]', s)
        for s in [entry.get("note", ""), *entry["artefacts"].values(), *_paths(entry)]
        if s is not None and not isinstance(s, dict)
    )
    if needs_no_escape and entry["seq"] < 10**15 and len(entry.get("note", "")) <= 2000:
        assert read_written_line(line) == (entry, fast_canonical_bytes(_unsigned(entry)))


def _paths(entry):
    return [v["path"] for v in entry["artefacts"].values() if isinstance(v, dict)]


def _members(line: bytes, name: str) -> list[bytes]:
    """The raw members of the object `name` (artefacts or signatures) of a canonical line."""
    obj = json.loads(line)[name]
    return [
        json.dumps({k: v}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)[1:-1].encode()
        for k, v in obj.items()
    ]


@given(_entries, st.data())
@settings(max_examples=300)
def test_a_line_changed_anywhere_is_taken_only_when_it_is_still_canonical(entry, data):
    line = fast_canonical_bytes(entry)
    at = data.draw(st.integers(0, len(line)))
    byte = data.draw(st.binary(min_size=1, max_size=3))
    cut = data.draw(st.integers(0, 3))
    _taken_only_as_the_strict_path_reads_it(line[:at] + byte + line[at + cut :])
    _taken_only_as_the_strict_path_reads_it(line[:at] + line[at + cut :])


@given(_entries, st.sampled_from(["artefacts", "signatures"]), st.data())
@settings(max_examples=300)
def test_a_member_repeated_or_moved_is_never_taken(entry, name, data):
    line = fast_canonical_bytes(entry)
    members = _members(line, name)
    if not members:
        return
    first = data.draw(st.sampled_from(members))
    repeated = line.replace(first, first + b"," + first, 1)
    assert read_written_line(repeated) is None
    if len(members) > 1:
        swapped = line.replace(members[0] + b"," + members[1], members[1] + b"," + members[0], 1)
        assert read_written_line(swapped) is None


WRITTEN = (
    b'{"artefacts":{"a":null,"b":"x","c":{"path":"p/q","sha384":"' + b"0" * 96 + b'"}},"note":"n",'
    b'"prev_hash":"sha384:' + b"1" * 96 + b'","runtime_flags":{"StrategyContext.require_demo_mode":true,'
    b'"runtime.compliance_confirmed":false},"seq":7,"signatures":{"compliance":"ed25519:k1:'
    + base64.b64encode(b"\x01" * 64)
    + b'","owner":"ed25519:k2:'
    + base64.b64encode(b"\x02" * 64)
    + b'"},"stage":"demo","status":"demo_ready","timestamp":"2025-08-18T14:25:04Z"}'
)

SPELLED_OTHERWISE = {
    "a space after a colon": WRITTEN.replace(b'"seq":', b'"seq": '),
    "a space at the end": WRITTEN + b" ",
    "a newline at the end": WRITTEN + b"\n",
    "a byte order mark": b"\xef\xbb\xbf" + WRITTEN,
    "trailing data": WRITTEN + b"{}",
    "a NUL after the value": WRITTEN + b"\x00",
    "a duplicate top-level key": WRITTEN.replace(b'"note":"n",', b'"note":"n","note":"n",'),
    "a duplicate artefact": WRITTEN.replace(b'"a":null,', b'"a":null,"a":null,'),
    "a duplicate artefact that hides a value": WRITTEN.replace(b'"b":"x",', b'"b":"y","b":"x",'),
    "a duplicate key inside a file reference": WRITTEN.replace(
        b'{"path":"p/q",', b'{"path":"p/q","path":"p/q",'
    ),
    "a duplicate signer role": WRITTEN.replace(b'"owner":', b'"compliance":"ed25519:k1:AA==","owner":'),
    "artefacts out of order": WRITTEN.replace(b'"a":null,"b":"x"', b'"b":"x","a":null'),
    "top-level keys out of order": WRITTEN.replace(
        b'"stage":"demo","status":"demo_ready"', b'"status":"demo_ready","stage":"demo"'
    ),
    "NaN for seq": WRITTEN.replace(b'"seq":7', b'"seq":NaN'),
    "a float seq": WRITTEN.replace(b'"seq":7', b'"seq":7.0'),
    "an exponent seq": WRITTEN.replace(b'"seq":7', b'"seq":7e0'),
    "a big integer seq": WRITTEN.replace(b'"seq":7', b'"seq":9007199254740993'),
    "a seq with a leading zero": WRITTEN.replace(b'"seq":7', b'"seq":07'),
    "a big integer artefact": WRITTEN.replace(b'"a":null', b'"a":' + b"9" * 400),
    "an escaped lone surrogate": WRITTEN.replace(b'"note":"n"', b'"note":"\\ud800"'),
    "an escaped surrogate pair": WRITTEN.replace(b'"note":"n"', b'"note":"\\ud83d\\ude00"'),
    "an encoded surrogate": WRITTEN.replace(b'"note":"n"', b'"note":"\xed\xa0\x80"'),
    "invalid UTF-8": WRITTEN.replace(b'"note":"n"', b'"note":"\xff"'),
    "an escaped letter": WRITTEN.replace(b'"note":"n"', b'"note":"\\u006e"'),
    "an escaped slash": WRITTEN.replace(b'"p/q"', b'"p\\/q"'),
    "a raw control character": WRITTEN.replace(b'"note":"n"', b'"note":"\x01"'),
    "deep nesting": WRITTEN.replace(b'"a":null', b'"a":' + b"[" * 70 + b"]" * 70),
    "shallow nesting": WRITTEN.replace(b'"a":null', b'"a":[[[]]]'),
    "true as a string": WRITTEN.replace(b'require_demo_mode":true', b'require_demo_mode":"true"'),
    "an unknown top-level key": WRITTEN.replace(b'"note":"n",', b'"note":"n","notes":"n",'),
    "no signatures": re.sub(rb'"signatures":\{[^}]*\}', b'"signatures":{}', WRITTEN),
    "a signature with a newline": WRITTEN.replace(b"ed25519:k1:", b"ed25519:k1\\n:"),
    "an empty object": b"{}",
    "an empty line": b"",
}


@pytest.mark.parametrize("line", SPELLED_OTHERWISE.values(), ids=SPELLED_OTHERWISE.keys())
def test_a_line_not_spelled_as_the_writer_spells_it_is_left_to_the_strict_path(line):
    assert read_written_line(WRITTEN) is not None
    assert read_written_line(line) is None


# ---- the verifier: the same report with the fast path and without it ------------------------------------


VALID_SPELLINGS = (
    "as written",
    "with a space",
    "with a space at the end",
    "keys unsorted",
    "non-ASCII escaped",
    "slash escaped",
)


def _spellings(entry: dict) -> dict[str, bytes]:
    """The same signed entry spelled in ways the strict path accepts but the fast path leaves to it."""
    written = canonical_bytes(entry)
    return {
        "as written": written,
        "with a space": written.replace(b'"seq":', b'"seq": '),
        "with a space at the end": written + b" ",
        "keys unsorted": json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode(),
        "non-ASCII escaped": json.dumps(entry, sort_keys=True, separators=(",", ":")).encode(),
        "slash escaped": written.replace(b"/", b"\\/"),
    }


def _tampered(entry: dict, written: bytes, kids: dict) -> dict[str, bytes]:
    """The same entry made unacceptable in ways both paths must word alike."""
    owner = entry["signatures"]["owner"]
    algorithm, kid, text = owner.split(":")
    raw = base64.b64decode(text)
    stray_bits = text[:-3] + ("B" if text[-3] != "B" else "C") + "=="  # same bytes, non-canonical base64
    flipped = bytes([raw[0] ^ 1]) + raw[1:]

    def with_owner(signature: str) -> bytes:
        return canonical_bytes({**entry, "signatures": {**entry["signatures"], "owner": signature}})

    return {
        "a duplicate key": written.replace(b'"note":', b'"note":"x","note":', 1),
        "a duplicate signer role": written.replace(
            b'"owner":', b'"compliance":"' + entry["signatures"]["compliance"].encode() + b'","owner":', 1
        ),
        "a byte order mark": b"\xef\xbb\xbf" + written,
        "trailing data": written + b"{}",
        "NaN": re.sub(rb'"seq":[0-9]+', b'"seq":NaN', written),
        "a lone surrogate": written.replace(b'"note":"', b'"note":"\\udc00', 1),
        "deep nesting": written.replace(
            b'"artefacts":{', b'"artefacts":{"deep":' + b"[" * 70 + b"]" * 70 + b",", 1
        ),
        "a big integer": written.replace(b'"artefacts":{', b'"artefacts":{"big":' + b"9" * 30 + b",", 1),
        "an empty line": b"",
        "a signature in non-canonical base64": with_owner(f"{algorithm}:{kid}:{stray_bits}"),
        "a signature of the wrong length": with_owner(
            f"{algorithm}:{kid}:" + base64.b64encode(raw[:63]).decode()
        ),
        "a forged signature": with_owner(f"{algorithm}:{kid}:" + base64.b64encode(flipped).decode()),
        "an HMAC label on an Ed25519 key": with_owner(
            f"hmac-sha384:{kid}:" + base64.b64encode(raw[:48]).decode()
        ),
        "an unknown key": with_owner(f"{algorithm}:signer-nobody-00000000:{text}"),
        "a key whose owner lacks the role": with_owner(f"{algorithm}:{kids['bob']}:{text}"),
        "the compliance signature as the owner's": with_owner(entry["signatures"]["compliance"]),
    }


def _write_spelled_log(keyring, data_dir, pick) -> tuple:
    """A demo log of one entry per (kind, name) `pick` gives, each signed and chained to the previous line as
    it is spelled; the checkpoint co-signed over the last entry and the witness started."""
    log_path = data_dir / "audit" / "decision_logs" / "demo.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    context = signing_context(keyring, data_dir)
    who = signers(keyring, {"owner": "alice", "compliance": "carol"})
    kids = {"bob": keyring.signer_for("bob", "pw-bob").kid}
    start = utc_now() + timedelta(milliseconds=1)
    prev, lines, names, signed = genesis_hash("demo"), [], [], None
    for seq, (kind, name) in enumerate(pick(), 1):
        entry = build_entry(
            seq=seq,
            prev_hash=prev,
            stage="demo",
            status="demo_ready",
            artefacts={"run_hash": f"sha384:{seq:096x}", "path_like": "runs/a/b"},
            runtime_flags=DEMO_FLAGS,
            timestamp=start + timedelta(microseconds=seq),
            note="naïve 😀 n/a",
        )
        signed = sign_entry(entry, "demo", who, context=context)
        if kind == "valid":
            line = _spellings(signed)[name]
        else:
            line = _tampered(signed, canonical_bytes(signed), kids)[name]
        lines.append(line)
        names.append(f"{kind}: {name}")
        prev = line_hash(line)
    witness_for(keyring.installation.data_dir).begin(
        witness_key("demo", context), Mark(0, genesis_hash("demo")), label=str(log_path)
    )
    write_lines(log_path, lines)
    cosigned_checkpoint(log_path, keyring, signed, who)
    return log_path, names


def _report(keyring, data_dir, log_path):
    report = verifier.verify_decision_logs([log_path], keyring, data_dir=data_dir, full=True)
    return (
        report.ok,
        list(report.problems),
        list(report.entries),
        {name: list(entries) for name, entries in report.logs.items()},
        report.files,
        report.indexes,
    )


def _strict_only(monkeypatch):
    monkeypatch.setattr(verifier, "read_written_line", lambda line: None)
    monkeypatch.setattr(verifier, "_known_signature", lambda *args: None)


@pytest.fixture(params=["1", "2"], ids=["sequential", "on two workers"])
def workers(request, monkeypatch):
    monkeypatch.setattr(parallel_verify, "MIN_SIGNATURES", 0)
    monkeypatch.setattr(parallel_verify, "BATCH", 4)
    monkeypatch.setenv(parallel_verify.WORKERS_ENV, request.param)
    return request.param


def _same_with_and_without_the_fast_path(keyring, data_dir, log_path, monkeypatch):
    fast = _report(keyring, data_dir, log_path)
    with monkeypatch.context() as patched:
        _strict_only(patched)
        strict = _report(keyring, data_dir, log_path)
    assert [str(p) for p in fast[1]] == [str(p) for p in strict[1]]
    assert fast == strict
    return fast


def test_a_valid_log_in_every_spelling_gives_the_strict_report(keyring, data_dir, workers, monkeypatch):
    # The last line as written, as the checkpoint seals it.
    pick = [("valid", name) for name in VALID_SPELLINGS * 3] + [("valid", "as written")]
    log_path, _ = _write_spelled_log(keyring, data_dir, lambda: pick)
    ok, problems, entries, *_ = _same_with_and_without_the_fast_path(keyring, data_dir, log_path, monkeypatch)
    assert ok, [str(p) for p in problems]
    assert len(entries) == len(pick)


def test_a_log_with_every_kind_of_tampered_line_gives_the_strict_report(
    keyring, data_dir, workers, monkeypatch
):
    tampered = [
        "a duplicate key",
        "a duplicate signer role",
        "a byte order mark",
        "trailing data",
        "NaN",
        "a lone surrogate",
        "deep nesting",
        "a big integer",
        "an empty line",
        "a signature in non-canonical base64",
        "a signature of the wrong length",
        "an HMAC label on an Ed25519 key",
        "an unknown key",
        "a key whose owner lacks the role",
    ]
    pick = [("valid", "as written")]
    for name in tampered:
        pick += [("tampered", name), ("valid", "as written")]
    log_path, names = _write_spelled_log(keyring, data_dir, lambda: pick)
    ok, problems, entries, *_ = _same_with_and_without_the_fast_path(keyring, data_dir, log_path, monkeypatch)
    assert not ok
    assert {p.line for p in problems} == {n for n, name in enumerate(names, 1) if name.startswith("tampered")}
    assert len(entries) == len(tampered) + 1


@pytest.mark.parametrize("tamper", ["a forged signature", "the compliance signature as the owner's"])
def test_a_forged_or_doubled_signature_gives_the_strict_report(
    keyring, data_dir, workers, monkeypatch, tamper
):
    pick = [("valid", "as written")] * 5 + [("tampered", tamper)] + [("valid", "as written")] * 5
    log_path, _ = _write_spelled_log(keyring, data_dir, lambda: pick)
    ok, problems, *_ = _same_with_and_without_the_fast_path(keyring, data_dir, log_path, monkeypatch)
    assert not ok and problems[0].line == 6, [str(p) for p in problems]


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _reencoded_64(encoded: str) -> bytes | None:
    """The check _canonical_64 stands for: decode, then re-encode and compare."""
    try:
        raw = base64.b64decode(encoded)
    except ValueError:
        return None
    return raw if len(raw) == 64 and base64.b64encode(raw).decode() == encoded else None


@given(
    st.binary(min_size=63, max_size=65),
    st.integers(0, 90),
    st.sampled_from(["", "=", "==", "\n", " ", "é", "-", *_B64]),
    st.integers(0, 2),
)
@settings(max_examples=2000)
def test_a_signature_base64_is_taken_as_re_encoding_it_would_take_it(raw, at, text, cut):
    canonical = base64.b64encode(raw).decode()
    for encoded in (canonical, canonical[:at] + text + canonical[at + cut :]):
        assert verifier._canonical_64(encoded) == _reencoded_64(encoded), encoded
