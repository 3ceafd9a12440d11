#!/usr/bin/env python3
"""Benchmark: strict decision-log verification vs raw Ed25519 verification of the same signatures.

Generates a signed, chained demo log (default 100,000 entries, 2 signatures each: owner + compliance) in a
temporary data dir, then times (a) audit.trust.verifier.verify_decision_logs on it - the real strict path,
including loading the key ring, reading the file and checking the checkpoint - and (b) cryptography's raw
Ed25519 verify of exactly the same (key, signature, message) triples. Goal: ratio (a)/(b) in entries/s >= 0.8.

Usage: python bench/verify_decision_log.py [--entries N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.trust.canonical import (  # noqa: E402
    DOMAIN_DECISION_LOG,
    canonical_bytes,
    domain_prefix,
    fast_canonical_bytes,
)
from audit.trust.decision_log import (  # noqa: E402
    build_entry,
    checkpoint_document,
    genesis_hash,
    line_hash,
    sign_checkpoint,
    signing_context,
    witness_key,
)
from audit.trust.fsutil import atomic_write_bytes  # noqa: E402
from audit.trust.installation import init_installation  # noqa: E402
from audit.trust.keyring import KeyRing, utc_now  # noqa: E402
from audit.trust.paths import checkpoint_path  # noqa: E402
from audit.trust.signatures import format_signature  # noqa: E402
from audit.trust.verifier import verify_decision_logs  # noqa: E402
from audit.trust.witness import Mark, witness_for  # noqa: E402


def generate(data_dir: Path, count: int):
    """Write a valid log quickly: sign with the private key objects directly, splice the signing input."""
    os.environ.setdefault("OEM_KDF_COST", "10")  # key creation only; verification cost is unaffected
    admin = "bench-administrator"  # noqa: S105 - a throw-away installation's password
    init_installation(data_dir, admin)
    ring = KeyRing.load(data_dir)
    ring.create_signer_key("alice", ["owner"], "pw-alice", admin_password=admin)
    ring.create_signer_key("carol", ["compliance"], "pw-carol", admin_password=admin)
    context = signing_context(ring, data_dir)
    signers = {
        "compliance": ring.signer_for("carol", "pw-carol"),
        "owner": ring.signer_for("alice", "pw-alice"),
    }
    private = {role: s._private_key for role, s in signers.items()}
    public = {role: p.public_key() for role, p in private.items()}
    log_path = data_dir / "audit" / "decision_logs" / "demo.jsonl"
    log_path.parent.mkdir(parents=True)
    prefix = domain_prefix(DOMAIN_DECISION_LOG)
    log_json = canonical_bytes("demo")
    start = utc_now() + timedelta(seconds=1)
    prev = genesis_hash("demo")
    raw_triples = []
    with open(log_path, "wb") as handle:
        for seq in range(1, count + 1):
            entry = build_entry(
                seq=seq,
                prev_hash=prev,
                stage="demo",
                status="demo_ready",
                artefacts={"config_hash": "sha384:" + "ab" * 48, "smoke_run_id": f"run-{seq}"},
                runtime_flags={},
                timestamp=start + timedelta(microseconds=seq),
            )
            body = (
                prefix
                + b'{"deployment_id":'
                + canonical_bytes(context["deployment_id"])
                + b',"entry":'
                + fast_canonical_bytes(entry)
                + b',"installation_id":'
                + canonical_bytes(context["installation_id"])
                + b',"log":'
                + log_json
                + b',"role":'
            )
            signatures = {}
            for role in ("compliance", "owner"):
                message = body + canonical_bytes(role) + b"}"
                raw = private[role].sign(message)
                signatures[role] = format_signature("ed25519", signers[role].kid, raw)
                raw_triples.append((public[role], raw, message))
            entry["signatures"] = signatures
            line = fast_canonical_bytes(entry)
            handle.write(line + b"\n")
            prev = line_hash(line)
    last = {k: v for k, v in entry.items() if k != "signatures"}
    checkpoint = checkpoint_document(
        entry, "demo", context, sign_checkpoint(last, "demo", signers, context=context)
    )
    atomic_write_bytes(checkpoint_path(log_path), canonical_bytes(checkpoint) + b"\n")
    witness_for(data_dir).begin(witness_key("demo", context), Mark(0, genesis_hash("demo")), label="bench")
    return log_path, raw_triples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="1,000 entries, one round (a smoke run)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each is kept")
    args = parser.parse_args()
    if args.quick:
        args.entries, args.rounds = 1_000, 1
    print(f"machine: {platform.platform()} | {platform.machine()} | cpus={os.cpu_count()}")
    print(f"python: {platform.python_implementation()} {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="oem-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        t0 = time.perf_counter()
        log_path, triples = generate(data_dir, args.entries)
        size_mb = log_path.stat().st_size / 1e6
        print(
            f"generated {args.entries} entries ({len(triples)} signatures, {size_mb:.1f} MB) in "
            f"{time.perf_counter() - t0:.1f}s"
        )

        # Interleaved rounds, best of each: other processes on a shared box slow whichever run they hit.
        verifier_s = raw_s = float("inf")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            report = verify_decision_logs([log_path], KeyRing.load(data_dir), data_dir=data_dir)
            verifier_s = min(verifier_s, time.perf_counter() - t0)
            assert report.ok, report.problems[:3]
            assert len(report.entries) == args.entries
            del report

            t0 = time.perf_counter()
            for key, signature, message in triples:
                key.verify(signature, message)
            raw_s = min(raw_s, time.perf_counter() - t0)

    per_entry = len(triples) / args.entries
    verifier_rate = args.entries / verifier_s
    raw_rate = len(triples) / raw_s / per_entry  # entries/s if only the signatures had to be checked
    print(f"strict verifier : {verifier_rate:10.0f} entries/s  ({verifier_s:.2f}s)")
    print(f"raw ed25519     : {raw_rate:10.0f} entries/s  ({raw_s:.2f}s for {len(triples)} signatures)")
    ratio = verifier_rate / raw_rate
    print(f"ratio           : {ratio:.3f}  (goal >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
