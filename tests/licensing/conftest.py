"""Fixtures for the licensing tests: a private data dir, a cheap KDF, a fake physical machine. No Django."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.trust.keyring import KeyRing
from licensing.core.license_file import load_vendor_signer
from tests.licensing.fakesys import build_machine
from tests.licensing.helpers import fingerprint, make_license
from tests.trust_setup import installed


@pytest.fixture(autouse=True)
def licensing_env(tmp_path, monkeypatch):
    monkeypatch.setenv("OEM_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("OEM_KDF_COST", "test")
    monkeypatch.setenv("OEM_ENV", "test")
    for name in (
        "OEM_KEYRING_SECRET",
        "OEM_KEYRING_SECRET_FILE",
        "OEM_LICENSE_SIGNING_KEY_FILE",
        "OEM_LICENSE_SIGNING_KEY_PASSWORD_FILE",
        "OEM_LICENSE_USB_DONGLE",
    ):
        monkeypatch.delenv(name, raising=False)
    # The demo switch: these tests sign with the committed development key. Tests of the refusal unset it.
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")
    monkeypatch.delenv("OEM_WITNESS_DIR", raising=False)
    build_machine(tmp_path / "machine")
    monkeypatch.setenv("OEM_FINGERPRINT_ROOT", str(tmp_path / "machine"))
    installed(tmp_path / "var")  # the explicit setup step: installation id and trust root


@pytest.fixture
def machine(tmp_path) -> Path:
    return tmp_path / "machine"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def keyring(data_dir) -> KeyRing:
    return KeyRing.load(data_dir)


@pytest.fixture
def signer():
    return load_vendor_signer()


@pytest.fixture
def record(machine, keyring):
    """A fresh fingerprint record of the fake machine."""
    return fingerprint(machine, keyring)


@pytest.fixture
def lic(signer, record):
    """A development-signed license for exactly this machine."""
    return make_license(signer, record["components"])
