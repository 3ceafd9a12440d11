"""One loader for the vendor's encrypted Ed25519 PEM keys (license signing, release signing): bounded
reads of the key and of the password file its variable names, one-line refusals that never show the
password."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from audit.trust.pem_keys import PemKeyError, load_ed25519_pem

ENV = "OEM_TEST_KEY_PASSWORD_FILE"


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


def _pem(key, password: bytes | None = None) -> bytes:
    encryption = BestAvailableEncryption(password) if password else NoEncryption()
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)


def _same(a, b) -> bool:
    return a.public_key().public_bytes_raw() == b.public_key().public_bytes_raw()


def test_an_encrypted_key_loads_with_the_password_file_its_variable_names(key, tmp_path, monkeypatch):
    (tmp_path / "key.pem").write_bytes(_pem(key, b"s3cret-pass"))
    (tmp_path / "password").write_bytes(b"s3cret-pass\n")
    monkeypatch.setenv(ENV, str(tmp_path / "password"))
    assert _same(load_ed25519_pem(tmp_path / "key.pem", password_env=ENV, what="test key"), key)


def test_a_plain_key_loads_without_a_password(key, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    (tmp_path / "key.pem").write_bytes(_pem(key))
    assert _same(load_ed25519_pem(tmp_path / "key.pem", password_env=ENV, what="test key"), key)


def test_a_wrong_or_missing_password_is_one_line_that_never_shows_the_password(key, tmp_path, monkeypatch):
    (tmp_path / "key.pem").write_bytes(_pem(key, b"s3cret-pass"))
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(PemKeyError, match="test key .* is not a usable PKCS8 PEM"):
        load_ed25519_pem(tmp_path / "key.pem", password_env=ENV, what="test key")
    (tmp_path / "password").write_bytes(b"wrong-password-value")
    monkeypatch.setenv(ENV, str(tmp_path / "password"))
    with pytest.raises(PemKeyError) as refused:
        load_ed25519_pem(tmp_path / "key.pem", password_env=ENV, what="test key")
    assert "\n" not in str(refused.value) and "wrong-password-value" not in str(refused.value)


def test_a_fifo_named_as_the_password_file_is_refused_instead_of_blocking(key, tmp_path, monkeypatch):
    (tmp_path / "key.pem").write_bytes(_pem(key, b"s3cret-pass"))
    os.mkfifo(tmp_path / "fifo")
    monkeypatch.setenv(ENV, str(tmp_path / "fifo"))
    with pytest.raises(PemKeyError, match=f"cannot read {ENV}: .*not a regular file"):
        load_ed25519_pem(tmp_path / "key.pem", password_env=ENV, what="test key")


def test_an_oversized_or_missing_key_file_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with open(tmp_path / "huge.pem", "wb") as handle:
        handle.truncate(2 * 1024 * 1024)
    with pytest.raises(PemKeyError, match="cannot read test key: .*more than the"):
        load_ed25519_pem(tmp_path / "huge.pem", password_env=ENV, what="test key")
    with pytest.raises(PemKeyError, match="cannot read test key: .*no such file"):
        load_ed25519_pem(tmp_path / "absent.pem", password_env=ENV, what="test key")


def test_a_key_of_another_algorithm_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    (tmp_path / "ec.pem").write_bytes(_pem(generate_private_key(SECP256R1())))
    with pytest.raises(PemKeyError, match="is not an Ed25519 key"):
        load_ed25519_pem(tmp_path / "ec.pem", password_env=ENV, what="test key")
