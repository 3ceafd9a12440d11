#!/usr/bin/env python3
"""Benchmark: strict decision-log verification, with and without the evidence checks of every artefact.

Sets up a throw-away installation (init_installation; the signers are certified by its root) and generates
two signed, chained demo logs (default 100,000 entries, 2 signatures each: owner + compliance, bound to the
installation and deployment, with a co-signed checkpoint and a witness mark):
- "evidence": every entry records the genuine, archived demo_exit artefacts (config hash and signature,
  bundle commit, smoke report, CI run record, signed checklist, archive index) made by the product's own
  producers (execution.daemon.devkit_evidence), so the strict verifier runs each kind's verifier;
- "signatures": the same entries with the artefacts under names no gate declares, so only signatures,
  chain, schema and file hashes are checked. It is kept as a second deployment of the installation
  (`deployments/signatures/`), so each log has its own deployment id and witness mark.
Then times (a) audit.trust.verifier.verify_decision_logs on the signatures-only log (signatures checked on
every core, audit.trust.parallel_verify), (a') the same kept sequential (OEM_VERIFY_WORKERS=1), (b) the
evidence log with a cold verdict cache, (c) a re-verify of the evidence log (verdicts cached per content
hash), and (d) cryptography's raw Ed25519 verify of the same signatures on one core. Goals: (a)/(d) >= 1.5 in
entries/s with 2 cores on 100,000 entries, and the re-verify (c) costs at most 20 % more time than (a). The
CPU time of the verifier's process and of its signature workers is printed per entry too, beside the raw
verify's: on a machine shared with other work, wall time shows the share of the cores the run got, CPU time
what it cost (and so the ratio two otherwise idle cores would give at best).

Usage: python bench/verify_decision_log.py [--entries N] [--rounds R] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.trust import evidence, parallel_verify  # noqa: E402
from audit.trust import paths as trust_paths  # noqa: E402
from audit.trust.canonical import (  # noqa: E402
    DOMAIN_DECISION_LOG,
    canonical_bytes,
    domain_prefix,
    fast_canonical_bytes,
)
from audit.trust.decision_log import build_entry  # noqa: E402
from audit.trust.decision_rules import (  # noqa: E402
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

ROLES = ("compliance", "owner")  # the roles demo_ready needs (STATUS_RULES)
ADMIN = "bench-administrator"  # noqa: S105 - a throw-away installation's password


def install(data_dir: Path) -> None:
    """The explicit trust-root step, and the two decision signers certified by its root."""
    init_installation(data_dir, ADMIN)
    ring = KeyRing.load(data_dir)
    ring.create_signer_key("alice", ["owner"], "pw-alice", admin_password=ADMIN)
    ring.create_signer_key("carol", ["compliance"], "pw-carol", admin_password=ADMIN)


def generate(install_dir: Path, base: Path, count: int, artefacts: dict):
    """Write a valid log of the deployment kept in `base` quickly: sign with the private key objects
    directly, splice the signing input; then its co-signed checkpoint and its witness mark."""
    ring = KeyRing.load(install_dir)
    context = signing_context(ring, base)
    signers = {
        "compliance": ring.signer_for("carol", "pw-carol"),
        "owner": ring.signer_for("alice", "pw-alice"),
    }
    private = {role: s._private_key for role, s in signers.items()}
    public = {role: p.public_key() for role, p in private.items()}
    log_path = base / "audit" / "decision_logs" / "demo.jsonl"
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
                artefacts={**artefacts, "smoke_run_id": f"run-{seq}"},
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
            for role in ROLES:
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
    witness_for(install_dir).begin(witness_key("demo", context), Mark(0, genesis_hash("demo")), label="bench")
    return log_path, raw_triples


def evidence_artefacts(data_dir: Path) -> tuple[dict, dict]:
    """(genuine archived demo_exit artefacts, the same under names no gate declares)."""
    from execution.daemon.devkit_evidence import write_gate_evidence

    ring = KeyRing.load(data_dir)
    genuine = write_gate_evidence(
        "demo_exit",
        data_dir=data_dir,
        keyring=ring,
        config_path=trust_paths.DEFAULT_CONFIG_PATH,
        admin_password=ADMIN,
    )
    undeclared = {f"x_{name}": value for name, value in genuine.items()}
    return genuine, undeclared


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _verify(log_path: Path, install_dir: Path, base: Path, count: int, cpu: list | None = None) -> float:
    keyring = KeyRing.load(install_dir)
    own, children = time.process_time(), _children_cpu()
    t0 = time.perf_counter()
    report = verify_decision_logs([log_path], keyring, data_dir=base, full=True)
    elapsed = time.perf_counter() - t0
    if cpu is not None:
        cpu.append((time.process_time() - own, _children_cpu() - children))
    if not report.ok or len(report.entries) != count:
        raise SystemExit(f"error: the benchmark's valid log did not verify: {report.problems[:3]}")
    return elapsed


def _sequential(log_path: Path, install_dir: Path, base: Path, count: int) -> float:
    saved = os.environ.get(parallel_verify.WORKERS_ENV)
    os.environ[parallel_verify.WORKERS_ENV] = "1"
    try:
        return _verify(log_path, install_dir, base, count)
    finally:
        if saved is None:
            del os.environ[parallel_verify.WORKERS_ENV]
        else:
            os.environ[parallel_verify.WORKERS_ENV] = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the best of each is kept")
    parser.add_argument(
        "--quick", action="store_true", help="5,000 entries (just enough for the signature workers), 1 round"
    )
    args = parser.parse_args()
    if args.quick:
        args.entries, args.rounds = 5_000, 1
    os.environ.setdefault("OEM_KDF_COST", "10")  # key creation only; verification cost is unaffected
    print(f"machine: {platform.platform()} | {platform.machine()} | cpus={os.cpu_count()}")
    print(f"python: {platform.python_implementation()} {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="oem-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        plain_dir = data_dir / "deployments" / "signatures"
        install(data_dir)
        t0 = time.perf_counter()
        genuine, undeclared = evidence_artefacts(data_dir)
        elapsed = time.perf_counter() - t0
        print(f"produced genuine demo_exit evidence ({len(genuine)} artefacts) in {elapsed:.1f}s")
        t0 = time.perf_counter()
        # The undeclared copies still name files, whose hashes the strict verifier checks in their own dir.
        shutil.copytree(data_dir / "audit" / "artefacts", plain_dir / "audit" / "artefacts")
        plain_log, triples = generate(data_dir, plain_dir, args.entries, undeclared)
        evidence_log, _ = generate(data_dir, data_dir, args.entries, genuine)
        size_mb = evidence_log.stat().st_size / 1e6
        print(
            f"generated 2 x {args.entries} entries ({len(triples)} signatures each, {size_mb:.1f} MB) in "
            f"{time.perf_counter() - t0:.1f}s"
        )

        # Interleaved rounds, best of each: other processes on a shared box slow whichever run they hit.
        plain_s = seq_s = cold_s = warm_s = raw_s = raw_cpu = float("inf")
        cpu: list[tuple[float, float]] = []
        for _ in range(args.rounds):
            plain_s = min(plain_s, _verify(plain_log, data_dir, plain_dir, args.entries, cpu))
            seq_s = min(seq_s, _sequential(plain_log, data_dir, plain_dir, args.entries))
            evidence.clear_cache()
            cold_s = min(cold_s, _verify(evidence_log, data_dir, data_dir, args.entries))
            warm_s = min(warm_s, _verify(evidence_log, data_dir, data_dir, args.entries))
            t0, c0 = time.perf_counter(), time.process_time()
            for key, signature, message in triples:
                key.verify(signature, message)
            raw_s = min(raw_s, time.perf_counter() - t0)
            raw_cpu = min(raw_cpu, time.process_time() - c0)

    n = args.entries
    per_entry = len(triples) / n
    raw_rate = len(triples) / raw_s / per_entry  # entries/s if only the signatures had to be checked
    parallel = 2 * n >= parallel_verify.MIN_SIGNATURES and parallel_verify.worker_count() > 1
    workers = f"{parallel_verify.worker_count()} signature workers" if parallel else "sequential: a small log"
    own_cpu, worker_cpu = min(cpu, key=sum)
    print(
        f"strict, signatures only      : {n / plain_s:10.0f} entries/s  ({plain_s:.2f}s; {workers}; CPU per "
        f"entry {own_cpu / n * 1e6:.0f} us verifier + {worker_cpu / n * 1e6:.0f} us workers)"
    )
    print(f"strict, signatures only, seq : {n / seq_s:10.0f} entries/s  ({seq_s:.2f}s; one core)")
    print(f"strict + evidence, cold cache: {n / cold_s:10.0f} entries/s  ({cold_s:.2f}s)")
    print(f"strict + evidence, re-verify : {n / warm_s:10.0f} entries/s  ({warm_s:.2f}s)")
    print(
        f"raw ed25519                  : {raw_rate:10.0f} entries/s  ({raw_s:.2f}s; CPU per entry "
        f"{raw_cpu / n * 1e6:.0f} us)"
    )
    ratio = (n / plain_s) / raw_rate
    overhead = warm_s / plain_s - 1.0
    verdict = "met" if ratio >= 1.5 else "NOT met"
    print(f"ratio: signatures-only/raw {ratio:.3f}  (goal >= 1.5 on 2 cores: {verdict})")
    print(f"ratio: sequential signatures-only/raw {(n / seq_s) / raw_rate:.3f}  (one core)")
    if parallel:  # what the CPU cost allows on two cores nobody else uses: cores x raw cost / parallel cost
        ceiling = 2 * raw_cpu / (own_cpu + worker_cpu)
        print(f"ratio: signatures-only/raw by CPU time on 2 idle cores {ceiling:.3f}  (an upper bound)")
    verdict = "met" if overhead <= 0.2 else "NOT met"
    print(f"re-verify overhead           : {overhead * 100:+.1f} %  (goal <= 20 %: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
