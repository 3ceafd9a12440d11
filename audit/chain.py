"""The audit trail's hash chain: what is hashed, and how a stored chain is re-checked."""

from collections.abc import Iterable
from dataclasses import dataclass

from audit.trust.canonical import signing_input
from audit.trust.hashing import sha384_bytes

AUDIT_EVENT_DOMAIN = "oem/audit-event/v1"
GENESIS_HASH = "sha384:" + "0" * 96


def event_body(
    *, seq, timestamp, actor, action, outcome, object_type, object_id, deployment_id, detail, prev_hash
) -> dict:
    return {
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


def event_hash(body: dict) -> str:
    return "sha384:" + sha384_bytes(signing_input(AUDIT_EVENT_DOMAIN, body))


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str


def verify_chain(bodies_with_hashes: Iterable[tuple[dict, str]]) -> list[ChainProblem]:
    """Bodies in ascending seq order; returns every break found (empty means intact)."""
    problems: list[ChainProblem] = []
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for body, stored_hash in bodies_with_hashes:
        if body["seq"] != expected_seq:
            problems.append(ChainProblem(body["seq"], f"expected seq {expected_seq}, found {body['seq']}"))
        if body["prev_hash"] != expected_prev:
            problems.append(ChainProblem(body["seq"], "prev_hash does not match the previous event"))
        if event_hash(body) != stored_hash:
            problems.append(ChainProblem(body["seq"], "event content does not match its hash"))
        expected_prev = stored_hash
        expected_seq = body["seq"] + 1
    return problems
