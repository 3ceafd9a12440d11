#!/usr/bin/env python3
"""Benchmark: the bundle builder's manifest hashing vs `openssl dgst -sha384` over the same files.

Writes a bundle-shaped tree in a temporary directory (a few large wheels, some medium files, many small source
files; >= 300 MB, or about 40 MB with --quick), then alternates, --rounds times each:
  (a) deploy.packaging.bootstrap.manifest.hash_tree: stat + streaming SHA-384 of every file, the code the
      builder and the bootstrap run;
  (b) `openssl dgst -sha384` over the same files (batches of 256 paths per process);
and reports the best round of each. Both must produce the same digests. Goal: (a) >= 0.7 x (b) in MB/s.

Usage: python bench/bundle_manifest.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy.packaging.bootstrap.manifest import hash_tree  # noqa: E402

GOAL = 0.7
_BATCH = 256


def write_tree(root: Path, scale: float) -> list[str]:
    """Large, medium and small files in proportions like a real bundle's wheelhouse and app code."""
    shapes = [(6, 40 << 20, "wheelhouse/big{}.whl"), (60, 1 << 20, "wheelhouse/mid{}.whl")]
    shapes.append((3000, 16 << 10, "app/pkg{}/module.py"))
    rels: list[str] = []
    chunk = os.urandom(1 << 20)
    for count, size, pattern in shapes:
        for index in range(max(1, int(count * scale))):
            rel = pattern.format(index)
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                left = size
                while left:
                    piece = chunk[: min(left, len(chunk))]
                    handle.write(piece)
                    left -= len(piece)
            rels.append(rel)
    return sorted(rels)


def openssl_digests(root: Path, rels: list[str]) -> dict[str, str]:
    digests: dict[str, str] = {}
    for start in range(0, len(rels), _BATCH):
        batch = rels[start : start + _BATCH]
        out = subprocess.run(
            ["openssl", "dgst", "-sha384", "-r", *batch], cwd=root, capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            digest, name = line.split(" ", 1)
            digests[name.lstrip("*")] = digest
    return digests


def machine_info() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    return (
        f"machine: {platform.system()} {platform.release()} {platform.machine()}, CPU {cpu} "
        f"({os.cpu_count()} logical), Python {platform.python_version()}, {openssl}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 40 MB instead of >= 300 MB")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per method (best is kept)")
    args = parser.parse_args(argv)
    scale = 0.125 if args.quick else 1.0
    with tempfile.TemporaryDirectory(prefix="oem-bench-manifest-") as tmp:
        root = Path(tmp)
        rels = write_tree(root, scale)
        total = sum((root / rel).stat().st_size for rel in rels)
        best_ours = best_openssl = float("inf")
        ours: dict[str, str] = {}
        theirs: dict[str, str] = {}
        for _ in range(max(1, args.rounds)):
            start = time.perf_counter()
            entries = hash_tree(root, rels)
            best_ours = min(best_ours, time.perf_counter() - start)
            ours = {e["path"]: e["sha384"].removeprefix("sha384:") for e in entries}
            start = time.perf_counter()
            theirs = openssl_digests(root, rels)
            best_openssl = min(best_openssl, time.perf_counter() - start)
        if ours != theirs:
            print("error: the manifest code and openssl disagree on a digest", file=sys.stderr)
            return 1
    mb = total / 1e6
    ours_rate, openssl_rate = mb / best_ours, mb / best_openssl
    ratio = ours_rate / openssl_rate
    print(machine_info())
    print(f"tree: {len(rels)} files, {mb:.1f} MB, best of {args.rounds} rounds each")
    print(f"manifest code (hash_tree):  {best_ours:.3f} s  {ours_rate:.0f} MB/s")
    print(f"openssl dgst -sha384:       {best_openssl:.3f} s  {openssl_rate:.0f} MB/s")
    print(f"ratio: manifest/openssl {ratio:.2f} (goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
