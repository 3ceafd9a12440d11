"""Where trust files live. The data directory is resolved here and nowhere else.

`OEM_DATA_DIR` (default `./var`, relative to the working directory) is read on every call rather than
cached at import, so a process (or a test) that sets it before use always gets the directory it asked for.
"""

from __future__ import annotations

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


def checkpoint_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.stem + ".checkpoint.json")
