"""Fixtures for the trust-core tests: a private data dir, a cheap KDF and a key ring with four people.

No Django here: audit.trust must work without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.trust.keyring import KeyRing
from tests.trust_setup import ADMIN_PASSWORD, installed

# username -> signer roles. dave holds two roles, to test "one person, one signature".
PEOPLE = {
    "alice": ["owner"],
    "bob": ["engineer"],
    "carol": ["compliance"],
    "dave": ["owner", "compliance"],
}


def password(username: str) -> str:
    return f"pw-{username}"


@pytest.fixture(autouse=True)
def trust_env(tmp_path, monkeypatch):
    monkeypatch.setenv("OEM_KDF_COST", "10")  # tests only: scrypt N=2**10 instead of 2**17
    monkeypatch.setenv("OEM_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("OEM_KEYRING_SECRET", raising=False)
    monkeypatch.delenv("OEM_KEYRING_SECRET_FILE", raising=False)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "var"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def keyring(data_dir) -> KeyRing:
    installed(data_dir)
    ring = KeyRing.load(data_dir)
    for username, roles in PEOPLE.items():
        ring.create_signer_key(username, roles, password(username), admin_password=ADMIN_PASSWORD)
    return ring


@pytest.fixture
def logs_dir(data_dir) -> Path:
    path = data_dir / "audit" / "decision_logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def signed_demo_log(keyring, data_dir):
    """A small honest demo log: (path, key ring, bytes)."""
    from tests.audit.helpers import append

    for n in range(2):
        append(keyring, data_dir, "demo", "demo_ready", artefacts={"run": f"r{n}"})
    path = data_dir / "audit" / "decision_logs" / "demo.jsonl"
    return path, keyring, path.read_bytes()
