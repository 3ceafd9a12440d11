"""Where trust files live. The data directory is resolved here and nowhere else.

`OEM_DATA_DIR` (default `./var`, relative to the working directory) is read on every call rather than
cached at import, so a process (or a test) that sets it before use always gets the directory it asked for.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "core.yaml"
CORE_CONFIG_SCHEMA_PATH = REPO_ROOT / "docs" / "schemas" / "core_config.json"
DECISION_LOG_SCHEMA_PATH = REPO_ROOT / "docs" / "schemas" / "decision_log_v2.json"

# The three decision logs, in stage order. Names bind signatures and genesis hashes to one log.
LOG_NAMES = ("demo", "paper", "live_execution")


def data_dir() -> Path:
    return Path(os.environ.get("OEM_DATA_DIR") or "var").resolve()


def keys_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "keys"


def decision_logs_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "audit" / "decision_logs"


def decision_log_path(name: str, base: Path | None = None) -> Path:
    if name not in LOG_NAMES:
        raise ValueError(f"unknown decision log {name!r}")
    return decision_logs_dir(base) / f"{name}.jsonl"


def installation_path(base: Path | None = None) -> Path:
    return (base or data_dir()) / "installation.json"


def witness_state_path(base: Path | None = None) -> Path:
    return (base or data_dir()) / "state" / "witness.json"


def witness_dir(base: Path | None = None) -> Path:
    """The second, independent witness place: `OEM_WITNESS_DIR`, else `<data dir>.witness` beside the data
    dir. Outside the data dir on purpose: restoring or copying a data dir does not roll this back. Under
    `OEM_WITNESS_DIR` each data dir gets its own subdirectory (named by the digest of its absolute path)."""
    base = (base or data_dir()).resolve()
    configured = os.environ.get("OEM_WITNESS_DIR")
    if configured:
        return Path(configured).resolve() / hashlib.sha256(str(base).encode()).hexdigest()[:24]
    return base.with_name(base.name + ".witness")


def checkpoint_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.stem + ".checkpoint.json")
