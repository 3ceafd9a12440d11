"""The audit trail's chain: what is hashed or MACed, how a stored chain is re-checked, and the signed export.

Two chain versions, never mixed backwards:
- v1 (rows written before the keyed chain): `sha384` over signing_input("oem/audit-event/v1", body). Anyone
  with database access can recompute it, so v1 alone proves nothing against an attacker.
- v2: HMAC-SHA384 with the installation's current `audit` key over signing_input("oem/audit-event/v2",
  body), where body carries `"chain_version": 2`. The stored `hash` is the signature string
  `hmac-sha384:<kid>:<base64>`, so the audit key can be rotated (old rows verify with the retired key).
Existing v1 rows are kept as they are, not re-chained: the first v2 row MACs the last v1 row's hash as its
`prev_hash`, which anchors the whole v1 prefix; after a v2 row, a v1 row is a break.

The export (JSONL) is one canonical line per event (its body plus `hash`) and a last line that is the signed
head: the trail head at export time, the count and SHA-384 of the event lines, the filters, the
installation and its deployment, MACed with the audit key (domain "oem/audit-export/v1"). A deleted,
added or edited line, a deleted tail (even with the head line kept) or a head line moved from another
export is refused.

No Django here: the backup/restore tooling and the command share it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from audit.trust.canonical import (
    DOMAIN_AUDIT_EVENT,
    DOMAIN_AUDIT_EVENT_V2,
    DOMAIN_AUDIT_EXPORT,
    StrictJSONError,
    canonical_bytes,
    signing_input,
    strict_loads,
)
from audit.trust.hashing import sha384_bytes
from audit.trust.signatures import HmacSigner, SignatureError

AUDIT_EVENT_DOMAIN = DOMAIN_AUDIT_EVENT
GENESIS_HASH = "sha384:" + "0" * 96
CHAIN_V1, CHAIN_V2 = 1, 2
EXPORT_FORMAT = "oem/audit-export/v1"
AUDIT_PURPOSE = "audit"
WITNESS_KEY = "audit_trail"
_BODY_KEYS = {
    "seq",
    "timestamp",
    "actor",
    "action",
    "outcome",
    "object_type",
    "object_id",
    "deployment_id",
    "detail",
    "prev_hash",
}


def event_body(
    *,
    seq,
    timestamp,
    actor,
    action,
    outcome,
    object_type,
    object_id,
    deployment_id,
    detail,
    prev_hash,
    chain_version: int = CHAIN_V1,
) -> dict:
    body = {
        "seq": seq,
        "timestamp": timestamp,
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "object_type": object_type,
        "object_id": object_id,
        "deployment_id": deployment_id,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    if chain_version != CHAIN_V1:
        body["chain_version"] = chain_version
    return body


def body_version(body: dict) -> int:
    return body.get("chain_version", CHAIN_V1)


def event_hash(body: dict) -> str:
    """v1: the unkeyed hash (kept to verify rows written before the keyed chain)."""
    return "sha384:" + sha384_bytes(signing_input(AUDIT_EVENT_DOMAIN, body))


def event_mac(body: dict, signer: HmacSigner) -> str:
    """v2: HMAC-SHA384 with the audit key, as a `hmac-sha384:<kid>:<base64>` signature string."""
    return signer.sign(DOMAIN_AUDIT_EVENT_V2, body)


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str


@dataclass
class ChainReport:
    problems: list[ChainProblem] = field(default_factory=list)
    count: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    keyed: int = 0  # number of v2 rows


def _check_row(body: dict, stored_hash: str, keyring) -> str | None:
    version = body_version(body)
    if version == CHAIN_V1:
        return (
            None
            if hmac.compare_digest(event_hash(body), stored_hash)
            else "event content does not match its hash"
        )
    if version != CHAIN_V2:
        return f"unknown chain version {version!r}"
    if keyring is None:
        return "keyed event but no audit key to verify it"
    try:
        keyring.verify(stored_hash, signing_input(DOMAIN_AUDIT_EVENT_V2, body), purpose=AUDIT_PURPOSE)
    except SignatureError as exc:
        return f"event content does not match its MAC ({' '.join(str(exc).split())})"
    return None


def verify_chain(
    bodies_with_hashes: Iterable[tuple[dict, str]],
    keyring=None,
    *,
    first_seq: int = 1,
    prev: str = GENESIS_HASH,
) -> ChainReport:
    """Bodies in ascending seq order; every break found (no problems means intact). `keyring` verifies v2."""
    report = ChainReport(last_seq=first_seq - 1, last_hash=prev)
    expected_prev, expected_seq, version = prev, first_seq, CHAIN_V1
    for body, stored_hash in bodies_with_hashes:
        seq = body.get("seq")
        if seq != expected_seq:
            report.problems.append(ChainProblem(seq, f"expected seq {expected_seq}, found {seq}"))
        if body.get("prev_hash") != expected_prev:
            report.problems.append(ChainProblem(seq, "prev_hash does not match the previous event"))
        row_version = body_version(body)
        if type(row_version) is int:
            if row_version < version:
                report.problems.append(ChainProblem(seq, "unkeyed event after the keyed chain began"))
            version = max(version, row_version)
        reason = _check_row(body, stored_hash, keyring)
        if reason:
            report.problems.append(ChainProblem(seq, reason))
        report.count += 1
        report.keyed += row_version == CHAIN_V2
        expected_prev = stored_hash
        expected_seq = seq + 1 if type(seq) is int else expected_seq + 1
        report.last_seq, report.last_hash = expected_seq - 1, stored_hash
    return report


# ---- export ----------------------------------------------------------------------------------------------
def export_row(body: dict, stored_hash: str) -> bytes:
    return canonical_bytes({**body, "hash": stored_hash}) + b"\n"


def export_lines(
    rows: Iterable[tuple[dict, str]],
    *,
    signer: HmacSigner,
    trail_head: tuple[int, str],
    installation_id: str,
    deployment_id: str,
    exported_at: str,
    filters: dict[str, str],
) -> Iterator[bytes]:
    """The event lines, then the signed head line (streamed: the digest is computed on the way)."""
    digest = hashlib.sha384()
    count = 0
    for body, stored_hash in rows:
        line = export_row(body, stored_hash)
        digest.update(line)
        count += 1
        yield line
    head = {
        "format": EXPORT_FORMAT,
        "installation_id": installation_id,
        "deployment_id": deployment_id,
        "exported_at": exported_at,
        "filters": dict(sorted(filters.items())),
        "trail_head": {"seq": trail_head[0], "hash": trail_head[1]},
        "count": count,
        "rows_sha384": digest.hexdigest(),
    }
    yield canonical_bytes({"export": head, "signature": signer.sign(DOMAIN_AUDIT_EXPORT, head)}) + b"\n"


class ExportError(ValueError):
    """The export is not an intact, signed audit trail export. One line."""


@dataclass(frozen=True)
class ExportReport:
    count: int
    trail_head: tuple[int, str]
    filtered: bool
    installation_id: str


def verify_export(data: bytes, keyring, *, installation_id: str | None = None) -> ExportReport:
    """Check an exported JSONL end to end; ExportError (one line) names the first problem."""
    if not data.endswith(b"\n"):
        raise ExportError("export is truncated: no final newline (the signed head line is missing or cut)")
    lines = data[:-1].split(b"\n")
    try:
        last = strict_loads(lines[-1])
    except StrictJSONError as exc:
        raise ExportError(f"last line is not the signed head: {exc}") from None
    if (
        not isinstance(last, dict)
        or set(last) != {"export", "signature"}
        or not isinstance(last["export"], dict)
    ):
        raise ExportError("last line is not the signed head (deleted tail?)")
    head = last["export"]
    if (
        set(head)
        != {
            "format",
            "installation_id",
            "deployment_id",
            "exported_at",
            "filters",
            "trail_head",
            "count",
            "rows_sha384",
        }
        or head.get("format") != EXPORT_FORMAT
    ):
        raise ExportError("signed head has an unexpected structure")
    try:
        keyring.verify(last["signature"], signing_input(DOMAIN_AUDIT_EXPORT, head), purpose=AUDIT_PURPOSE)
    except (SignatureError, StrictJSONError) as exc:
        raise ExportError(f"signed head does not verify: {' '.join(str(exc).split())}") from None
    if installation_id is not None and head["installation_id"] != installation_id:
        raise ExportError(
            f"export belongs to installation {head['installation_id']!r}, not {installation_id!r}"
        )
    rows = lines[:-1]
    if len(rows) != head["count"]:
        raise ExportError(
            f"export holds {len(rows)} events, its signed head says {head['count']} (lines deleted?)"
        )
    if hashlib.sha384(b"".join(r + b"\n" for r in rows)).hexdigest() != head["rows_sha384"]:
        raise ExportError("event lines do not match the signed head's digest (edited, reordered or replaced)")
    parsed = []
    for number, raw in enumerate(rows, 1):
        try:
            row = strict_loads(raw)
        except StrictJSONError as exc:
            raise ExportError(f"line {number}: {exc}") from None
        if not isinstance(row, dict) or not isinstance(row.get("hash"), str):
            raise ExportError(f"line {number}: not an audit event")
        body = {k: v for k, v in row.items() if k != "hash"}
        if not _BODY_KEYS <= set(body) <= _BODY_KEYS | {"chain_version"}:
            raise ExportError(f"line {number}: not an audit event")
        reason = _check_row(body, row["hash"], keyring)
        if reason:
            raise ExportError(f"event {body['seq']}: {reason}")
        parsed.append((body, row["hash"]))
    trail = head["trail_head"]
    if not head["filters"]:
        report = verify_chain(parsed, keyring)
        if report.problems:
            problem = report.problems[0]
            raise ExportError(f"event {problem.seq}: {problem.reason}")
        if (report.last_seq, report.last_hash) != (trail["seq"], trail["hash"]):
            raise ExportError(
                f"export ends at event {report.last_seq}, the trail head it was signed with is {trail['seq']}"
            )
    return ExportReport(
        len(parsed), (trail["seq"], trail["hash"]), bool(head["filters"]), head["installation_id"]
    )
