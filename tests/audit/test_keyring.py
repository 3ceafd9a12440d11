"""Key ring: where secrets live, who may sign, rotation and retirement."""

from __future__ import annotations

import base64
import stat

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from audit.trust.canonical import DOMAIN_TOKEN, signing_input
from audit.trust.keyring import KeyRing, KeyRingError
from tests.trust_setup import ADMIN_PASSWORD, installed


def test_root_secret_and_hmac_secrets_are_private_files(data_dir):
    installed(data_dir)
    ring = KeyRing.load(data_dir)
    record = ring.rotate_hmac_key("token")
    assert stat.S_IMODE((data_dir / "keys" / "root.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "keys" / "secrets" / f"{record.kid}.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(ring.path.stat().st_mode) == 0o600


def test_env_secret_signs_the_ring_and_another_secret_cannot_load_it(data_dir, monkeypatch):
    monkeypatch.setenv("OEM_KEYRING_SECRET", "a" * 40)
    installed(data_dir)
    KeyRing.load(data_dir).rotate_hmac_key("audit")
    assert not (data_dir / "keys" / "root.key").exists()
    monkeypatch.setenv("OEM_KEYRING_SECRET", "b" * 40)
    with pytest.raises(KeyRingError, match="failed its signature check"):
        KeyRing.load(data_dir)


def test_private_key_is_never_stored_in_clear(keyring):
    signer = keyring.signer_for("alice", "pw-alice")
    raw = signer._private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    stored = keyring.path.read_bytes()
    assert base64.b64encode(raw) not in stored and raw.hex().encode() not in stored


def test_wrong_password_is_refused(keyring):
    with pytest.raises(KeyRingError, match="wrong password"):
        keyring.signer_for("alice", "guess")


def test_new_signer_key_retires_the_previous_one(keyring):
    old = keyring.active_key("signer", owner="alice")
    new = keyring.create_signer_key("alice", ["owner"], "new-pw", admin_password=ADMIN_PASSWORD)
    assert keyring.get(old.kid).status == "retired" and keyring.get(old.kid).valid_until is not None
    assert keyring.signer_for("alice", "new-pw").kid == new.kid


def test_unknown_roles_are_refused(keyring):
    with pytest.raises(KeyRingError, match="signer roles"):
        keyring.create_signer_key("eve", ["admin"], "pw")


def test_rotated_hmac_key_still_verifies_but_never_signs(data_dir):
    installed(data_dir)
    ring = KeyRing.load(data_dir)
    old_signer = ring.hmac_signer("token")
    text = old_signer.sign(DOMAIN_TOKEN, {"sub": "op"})
    ring.rotate_hmac_key("token")
    assert ring.hmac_signer("token").kid != old_signer.kid
    fresh = KeyRing.load(data_dir)
    assert (
        fresh.verify(text, signing_input(DOMAIN_TOKEN, {"sub": "op"}), purpose="token").kid == old_signer.kid
    )


def test_swapped_secret_file_is_detected(data_dir):
    installed(data_dir)
    ring = KeyRing.load(data_dir)
    record = ring.rotate_hmac_key("config")
    path = data_dir / "keys" / "secrets" / f"{record.kid}.key"
    path.chmod(0o600)
    path.write_bytes(b"x" * 48)
    with pytest.raises(KeyRingError, match="does not match the key ring"):
        KeyRing.load(data_dir).hmac_signer("config")
