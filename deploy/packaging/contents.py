"""What a bundle holds besides the manifest: the application files, runbooks, vendor keys and the launcher.

The application is the code that runs on the customer machine - the daemon, the pure trust and licensing
cores, the Paper Labs engine and its sample data, the bootstrap, the JSON schemas, and the desktop client when
the checkout has one. Django apps, tests, bytecode, hidden files and private keys never ship.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from audit.trust.canonical import canonical_bytes
from deploy.packaging.bootstrap.trusted_keys import TRUSTED_RELEASE_KEYS


class ContentsError(ValueError):
    """The source tree lacks something a bundle needs. One line."""


# What runs on the customer machine: the pure packages (daemon, trust and licensing cores, engine, bootstrap)
# and the desktop client when the checkout has one. Django apps stay out of the bundle.
APP_PATHS = (
    "audit/__init__.py",
    "audit/trust",
    "audit/runbooks",
    "licensing/__init__.py",
    "licensing/core",
    "execution/__init__.py",
    "execution/core",
    "execution/daemon",
    "execution/feeds",
    "execution/mtls",
    "execution/proto",
    "execution/drills",
    "execution/strategy",
    "execution/venues",
    "execution/alert_rules.py",
    "execution/live_router.py",
    "execution/metrics.py",
    "execution/tokens.py",
    "risklab/__init__.py",
    "risklab/engine",
    "risklab/sample_data",
    "deploy/__init__.py",
    "deploy/packaging/__init__.py",
    "deploy/packaging/bootstrap",
    "docs/schemas",
)
OPTIONAL_APP_PATHS = ("desktop_qml",)
_SKIPPED_DIRS = frozenset({"__pycache__", "dev_release_key", "dev_vendor_key", "tests", "node_modules"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".swp", ".orig", ".rej", ".pem", ".key")

LAUNCHER = b'''#!/usr/bin/env python3
"""Core OEM bootstrap: `python3 bootstrap.py verify BUNDLE_DIR` | `install BUNDLE_DIR --prefix DIR`."""

import glob
import os
import sys

sys.dont_write_bytecode = True  # a verified bundle must stay byte-identical to its manifest
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "app"))
try:
    import rfc8785  # noqa: F401
except ImportError:  # pure-Python wheels import straight from the bundled wheelhouse
    sys.path[1:1] = sorted(glob.glob(os.path.join(HERE, "wheelhouse", "rfc8785-*-py3-none-any.whl")))

from deploy.packaging.bootstrap.cli import main  # noqa: E402

sys.exit(main())
'''


def app_files(source_root: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    present_optional = [p for p in OPTIONAL_APP_PATHS if (source_root / p).exists()]
    for rel in (*APP_PATHS, *present_optional):
        path = source_root / rel
        if path.is_file():
            files[f"app/{rel}"] = path
            continue
        if not path.is_dir():
            raise ContentsError(f"source tree lacks {rel}")
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS and not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES):
                    continue
                full = Path(dirpath) / name
                files[f"app/{full.relative_to(source_root).as_posix()}"] = full
    return files


def doc_files(source_root: Path) -> dict[str, Path]:
    files = {f"runbooks/{p.name}": p for p in sorted((source_root / "docs" / "runbooks").glob("*.md"))}
    packaging_doc = source_root / "docs" / "packaging.md"
    if packaging_doc.is_file():
        files["runbooks/packaging.md"] = packaging_doc
    return files


def release_keys_json() -> bytes:
    from licensing.core.trusted_keys import TRUSTED

    def as_json(keys: dict[str, tuple[str, str, str]]) -> dict[str, Any]:
        return {kid: {"algorithm": a, "public_key": k, "kind": kind} for kid, (a, k, kind) in keys.items()}

    doc = {
        "format": "oem-vendor-keys/1",
        "release": as_json(TRUSTED_RELEASE_KEYS),
        "license": as_json(TRUSTED),
    }
    return canonical_bytes(doc) + b"\n"
