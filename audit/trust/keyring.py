"""The key ring: every key id, its pinned algorithm, purpose, owner, roles and validity window.

File: `<data_dir>/keys/keyring.json`, itself signed with HMAC-SHA384 (domain `oem/keyring/v1`) under a root
secret taken from, in order: env `OEM_KEYRING_SECRET` (the string's UTF-8 bytes, >= 32 bytes), env
`OEM_KEYRING_SECRET_FILE` (that file's bytes), else `<data_dir>/keys/root.key` (created 0600 on first use).
A ring whose signature fails does not load: an edited key list must never be trusted.

Two families of keys:
- `signer` keys (Ed25519), one active per person. The private key is stored inside the ring encrypted under
  the owner's password (scrypt -> AES-256-GCM, the kid as associated data) and is decrypted only by
  `signer_for()` at signing time. The scrypt cost is log2(N) = 17 by default; env `OEM_KDF_COST` lowers it
  (10..20, or `test` = 10) for tests only - the chosen cost is stored with each key, so decryption
  uses what encryption used.
- HMAC-SHA384 keys per purpose (`config`, `token`, `fingerprint`, `audit`): the secret lives in
  `<data_dir>/keys/secrets/<kid>.key` (0600); the ring stores only its SHA-384 fingerprint.

Retired keys stay in the ring so old evidence still verifies; they are never used to sign anything new, and a
signer key only verifies data whose timestamp falls inside [valid_from, valid_until).
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.trust import paths
from audit.trust.canonical import DOMAIN_KEYRING, StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import (
    MAX_JSON_FILE,
    MAX_KEY_FILE,
    atomic_write_bytes,
    create_secret_file,
    exclusive_lock,
    read_regular_file,
)
from audit.trust.hashing import sha384_bytes
from audit.trust.installation import Installation
from audit.trust.signatures import (
    ALG_ED25519,
    ALG_HMAC_SHA384,
    Ed25519Signer,
    HmacSigner,
    SignatureError,
    VerifyingKey,
    parse_signature,
    verify_parsed,
)

KEYRING_FORMAT = "oem-keyring/2"
ROOT_KID = "root"

# Plan signer names <- console groups. One mapping, used by the console and the CLIs alike.
GROUP_TO_SIGNER_ROLE = {"product_owner": "owner", "compliance": "compliance", "engineer": "engineer"}
SIGNER_ROLES = frozenset(GROUP_TO_SIGNER_ROLE.values())

PURPOSE_SIGNER = "signer"
HMAC_PURPOSES = frozenset({"config", "token", "fingerprint", "audit"})
PURPOSE_ALGORITHM = {PURPOSE_SIGNER: ALG_ED25519, **{p: ALG_HMAC_SHA384 for p in HMAC_PURPOSES}}

STATUS_ACTIVE = "active"
STATUS_RETIRED = "retired"

KDF_COST_ENV = "OEM_KDF_COST"
DEFAULT_KDF_COST = 17  # scrypt N = 2**17, r = 8: ~128 MiB and ~0.5 s per unlock, deliberately slow
_KDF_COST_RANGE = range(10, 21)
_KEY_AAD_PREFIX = b"oem/signer-key/v1\x00"


class KeyRingError(ValueError):
    """The key ring cannot be loaded or a key cannot be used. One-line message."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and `Z`; the one timestamp format of every trust file."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    if not isinstance(text, str) or not text.endswith("Z"):
        raise ValueError(f"timestamp {text!r} is not UTC ISO 8601 ending in Z")
    return datetime.fromisoformat(text[:-1] + "+00:00")


def roles_from_groups(groups: list[str] | tuple[str, ...] | set[str]) -> tuple[str, ...]:
    return tuple(sorted({GROUP_TO_SIGNER_ROLE[g] for g in groups if g in GROUP_TO_SIGNER_ROLE}))


@dataclass(frozen=True)
class KeyRecord:
    kid: str
    algorithm: str
    purpose: str
    status: str
    created_at: str
    valid_from: str
    valid_until: str | None = None
    owner: str | None = None
    roles: tuple[str, ...] = ()
    public_key: str | None = None  # base64 raw Ed25519 public key
    encrypted_private_key: dict[str, Any] | None = field(default=None, repr=False)
    secret_sha384: str | None = None  # fingerprint of the HMAC secret file
    certificate: str | None = None  # signer keys: the installation root's signature over CERTIFIED_FIELDS

    def valid_at(self, moment: datetime) -> bool:
        if moment < parse_time(self.valid_from):
            return False
        return self.valid_until is None or moment < parse_time(self.valid_until)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["roles"] = list(self.roles)
        return data

    @classmethod
    def from_json(cls, data: Any) -> KeyRecord:
        if not isinstance(data, dict):
            raise KeyRingError("key ring entry is not an object")
        try:
            record = cls(**{**data, "roles": tuple(data.get("roles", ()))})
        except TypeError as exc:
            raise KeyRingError(f"key ring entry {data.get('kid')!r} has unexpected fields") from exc
        if PURPOSE_ALGORITHM.get(record.purpose) != record.algorithm:
            raise KeyRingError(f"key {record.kid}: {record.algorithm} is not allowed for {record.purpose}")
        if record.status not in (STATUS_ACTIVE, STATUS_RETIRED):
            raise KeyRingError(f"key {record.kid}: unknown status {record.status!r}")
        return record


def _kdf_cost() -> int:
    raw = os.environ.get(KDF_COST_ENV)
    if not raw:
        return DEFAULT_KDF_COST
    if raw == "test":  # the test suite's alias for the cheapest accepted cost
        return _KDF_COST_RANGE.start
    try:
        cost = int(raw)
    except ValueError as exc:
        raise KeyRingError(f"{KDF_COST_ENV} must be an integer") from exc
    if cost not in _KDF_COST_RANGE:
        raise KeyRingError(f"{KDF_COST_ENV} must be between 10 and 20")
    return cost


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p).derive(password.encode("utf-8"))


def encrypt_private_key(private_key: Ed25519PrivateKey, password: str, kid: str) -> dict[str, Any]:
    if not password:
        raise KeyRingError("a signer key needs a non-empty password")
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    salt, nonce, cost = os.urandom(16), os.urandom(12), _kdf_cost()
    ciphertext = AESGCM(_derive(password, salt, cost, 8, 1)).encrypt(
        nonce, raw, _KEY_AAD_PREFIX + kid.encode()
    )
    return {
        "kdf": "scrypt",
        "log2_n": cost,
        "r": 8,
        "p": 1,
        "cipher": "aes-256-gcm",
        "salt": _b64(salt),
        "nonce": _b64(nonce),
        "ciphertext": _b64(ciphertext),
    }


def decrypt_private_key(record: KeyRecord, password: str) -> Ed25519PrivateKey:
    return decrypt_private_blob(record.encrypted_private_key, password, record.kid, record.public_key)


def decrypt_private_blob(blob: Any, password: str, kid: str, public_key: str | None) -> Ed25519PrivateKey:
    if not isinstance(blob, dict) or blob.get("kdf") != "scrypt" or blob.get("cipher") != "aes-256-gcm":
        raise KeyRingError(f"key {kid} has no usable encrypted private key")
    try:
        log2_n = int(blob["log2_n"])
        if log2_n not in _KDF_COST_RANGE or int(blob["r"]) != 8 or int(blob["p"]) != 1:
            raise ValueError("scrypt parameters out of range")
        key = _derive(password, _unb64(blob["salt"]), log2_n, 8, 1)
        raw = AESGCM(key).decrypt(
            _unb64(blob["nonce"]), _unb64(blob["ciphertext"]), _KEY_AAD_PREFIX + kid.encode()
        )
    except InvalidTag as exc:
        raise KeyRingError(f"wrong password for key {kid}") from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise KeyRingError(f"key {kid} has a malformed encrypted private key") from exc
    private_key = Ed25519PrivateKey.from_private_bytes(raw)
    public_raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    if public_key is None or _b64(public_raw) != public_key:
        raise KeyRingError(f"key {kid}: private key does not match the recorded public key")
    return private_key


def create_root_secret(data_dir: Path) -> None:
    """Only the setup step calls this (installation.init_installation); nothing creates it on demand."""
    if os.environ.get("OEM_KEYRING_SECRET") or os.environ.get("OEM_KEYRING_SECRET_FILE"):
        return
    create_secret_file(paths.keys_dir(data_dir) / "root.key", secrets.token_hex(48).encode("ascii"))


def load_root_secret(data_dir: Path, create: bool = False) -> bytes:
    """The secret that seals the key ring file (see module docstring for where it comes from). Never
    created here: the setup step (installation.init_installation) is the only place that makes one."""
    if create:
        raise KeyRingError("the key ring root secret is created only by init_installation")
    env_secret = os.environ.get("OEM_KEYRING_SECRET")
    if env_secret:
        secret = env_secret.encode("utf-8")
    elif os.environ.get("OEM_KEYRING_SECRET_FILE"):
        try:
            secret = read_regular_file(
                os.environ["OEM_KEYRING_SECRET_FILE"], max_bytes=MAX_KEY_FILE, what="OEM_KEYRING_SECRET_FILE"
            ).strip()
        except OSError as exc:
            raise KeyRingError(f"cannot read OEM_KEYRING_SECRET_FILE: {exc.strerror}") from exc
    else:
        root_path = paths.keys_dir(data_dir) / "root.key"
        if not root_path.exists():
            raise KeyRingError(
                f"no key ring root secret at {root_path} (never re-created: restore keys/ from its backup)"
            )
        try:
            secret = read_regular_file(root_path, max_bytes=MAX_KEY_FILE, what="key ring root secret").strip()
        except OSError as exc:
            raise KeyRingError(str(exc)) from exc
    if len(secret) < 32:
        raise KeyRingError("key ring root secret must be at least 32 bytes")
    return secret


class KeyRing:
    """In-memory view of the signed key ring, with cached key objects for fast verification."""

    def __init__(
        self,
        data_dir: Path,
        records: dict[str, KeyRecord],
        root_secret: bytes | None,
        *,
        installation: Installation | None = None,
    ):
        self.data_dir = Path(data_dir)
        self._records = records
        if root_secret is None:
            root_secret = load_root_secret(self.data_dir)
        self._root = HmacSigner(ROOT_KID, root_secret)
        self._root_key = VerifyingKey(ROOT_KID, ALG_HMAC_SHA384, secret=root_secret)
        self._verifying_cache: dict[str, VerifyingKey] = {}
        self.installation = installation

    # ---- loading / saving -------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return paths.keys_dir(self.data_dir) / "keyring.json"

    @classmethod
    def load(cls, data_dir: Path | str | None = None) -> KeyRing:
        """The verified ring of an installation set up by init_installation; refuses (one line) when there
        is none, when its root does not match a pin or when the ring file is missing. Creates nothing."""
        from audit.trust.installation import InstallationError, load_installation

        base = Path(data_dir).resolve() if data_dir is not None else paths.data_dir()
        try:
            installation = load_installation(base)
        except InstallationError as exc:
            raise KeyRingError(str(exc)) from None
        ring = cls(base, {}, load_root_secret(base), installation=installation)
        ring._records = ring._read_records()
        return ring

    @property
    def installation_id(self) -> str | None:
        return self.installation.installation_id if self.installation else None

    def write_empty(self) -> None:
        """The setup step's empty ring (installation.init_installation)."""
        if self.path.exists():
            raise KeyRingError(f"key ring {self.path} already exists")
        self._write({})

    def _read_records(self) -> dict[str, KeyRecord]:
        if not self.path.exists():
            raise KeyRingError(
                f"key ring {self.path} is missing: it is created once by init_installation, never re-created "
                "(restore keys/ from its backup)"
            )
        try:
            doc = strict_loads(read_regular_file(self.path, max_bytes=MAX_JSON_FILE, what="key ring"))
        except OSError as exc:
            raise KeyRingError(str(exc)) from exc
        except StrictJSONError as exc:
            raise KeyRingError(f"key ring {self.path} is not valid JSON: {exc}") from exc
        if not isinstance(doc, dict) or set(doc) != {"format", "installation_id", "keys", "signature"}:
            raise KeyRingError(f"key ring {self.path} has an unexpected structure")
        if doc["format"] != KEYRING_FORMAT or not isinstance(doc["keys"], list):
            raise KeyRingError(f"key ring {self.path} has an unknown format")
        if doc["installation_id"] != self.installation_id:
            raise KeyRingError(f"key ring {self.path} belongs to another installation")
        try:
            verify_parsed(
                parse_signature(doc["signature"]),
                self._signed_bytes(doc["keys"]),
                self._root_key,
            )
        except SignatureError as exc:
            raise KeyRingError(f"key ring {self.path} failed its signature check (tampered?): {exc}") from exc
        records: dict[str, KeyRecord] = {}
        for item in doc["keys"]:
            record = KeyRecord.from_json(item)
            if record.kid in records:
                raise KeyRingError(f"key ring lists {record.kid} twice")
            records[record.kid] = record
        return records

    def _signed_bytes(self, keys: list[Any]) -> bytes:
        from audit.trust.canonical import domain_prefix

        return domain_prefix(DOMAIN_KEYRING) + canonical_bytes(
            {"format": KEYRING_FORMAT, "installation_id": self.installation_id, "keys": keys}
        )

    def _write(self, records: dict[str, KeyRecord]) -> None:
        keys = [records[kid].to_json() for kid in sorted(records)]
        doc = {
            "format": KEYRING_FORMAT,
            "installation_id": self.installation_id,
            "keys": keys,
            "signature": self._root.sign_bytes(self._signed_bytes(keys)),
        }
        atomic_write_bytes(self.path, canonical_bytes(doc) + b"\n", mode=0o600)
        self._records = records
        self._verifying_cache.clear()

    def _modify(self, change) -> Any:
        """Re-read under the ring lock, apply `change(records) -> result`, write atomically."""
        with exclusive_lock(self.path.with_name(".keyring.lock")):
            records = self._read_records()
            result = change(records)
            self._write(records)
            return result

    # ---- queries ----------------------------------------------------------------------------------
    def list_keys(self, purpose: str | None = None) -> list[KeyRecord]:
        return [r for r in self._records.values() if purpose is None or r.purpose == purpose]

    def get(self, kid: str) -> KeyRecord:
        try:
            return self._records[kid]
        except KeyError:
            raise KeyRingError(f"unknown key id {kid}") from None

    def active_key(self, purpose: str, owner: str | None = None) -> KeyRecord | None:
        candidates = [
            r
            for r in self._records.values()
            if r.purpose == purpose and r.status == STATUS_ACTIVE and (owner is None or r.owner == owner)
        ]
        return max(candidates, key=lambda r: r.created_at, default=None)

    def verifying_key(self, kid: str) -> VerifyingKey:
        """Key object for `kid` (cached: building Ed25519 key objects is not free on hot paths)."""
        cached = self._verifying_cache.get(kid)
        if cached is not None:
            return cached
        record = self.get(kid)
        if record.algorithm == ALG_ED25519:
            self._check_certificate(record)
            key = VerifyingKey(
                kid, ALG_ED25519, public_key=Ed25519PublicKey.from_public_bytes(_unb64(record.public_key))
            )
        else:
            key = VerifyingKey(kid, ALG_HMAC_SHA384, secret=self._read_secret(record))
        self._verifying_cache[kid] = key
        return key

    def _check_certificate(self, record: KeyRecord) -> None:
        """A signer key counts only when this installation's root certified it (enrolment needed the
        administrator password); a key added to the ring by anyone else is refused."""
        if self.installation is None:
            raise KeyRingError(f"signer key {record.kid}: no installation root to check its certificate")
        if not record.certificate:
            raise KeyRingError(f"signer key {record.kid} is not certified by the installation root")
        try:
            self.installation.verify_root(
                record.certificate, DOMAIN_KEYRING, _certificate_body(self.installation_id, record)
            )
        except SignatureError:
            raise KeyRingError(
                f"signer key {record.kid} is not certified by this installation's root"
            ) from None

    def _secret_path(self, kid: str) -> Path:
        return paths.keys_dir(self.data_dir) / "secrets" / f"{kid}.key"

    def _read_secret(self, record: KeyRecord) -> bytes:
        try:
            secret = read_regular_file(
                self._secret_path(record.kid), max_bytes=MAX_KEY_FILE, what="key secret"
            )
        except OSError as exc:
            raise KeyRingError(f"secret for key {record.kid} is missing") from exc
        if sha384_bytes(secret) != record.secret_sha384:
            raise KeyRingError(f"secret for key {record.kid} does not match the key ring")
        return secret

    def verify(self, text: str, message: bytes, *, purpose: str, at: datetime | None = None) -> KeyRecord:
        """Verify a signature string over `message` with the ring key it names.

        The key must exist, serve `purpose`, and (when `at` is given) be valid at that moment.
        The algorithm is the key's, never the one written in the signature.
        """
        parsed = parse_signature(text)
        try:
            record = self.get(parsed.kid)
        except KeyRingError as exc:
            raise SignatureError(str(exc)) from None
        if record.purpose != purpose:
            raise SignatureError(f"key {record.kid} is a {record.purpose} key, not a {purpose} key")
        if at is not None and not record.valid_at(at):
            raise SignatureError(f"key {record.kid} was not valid at {format_time(at)}")
        try:
            verify_parsed(parsed, message, self.verifying_key(record.kid))
        except KeyRingError as exc:
            raise SignatureError(str(exc)) from None
        return record

    # ---- signing ----------------------------------------------------------------------------------
    def signer_for(self, username: str, password: str, role: str | None = None) -> Ed25519Signer:
        """Unlock `username`'s active signer key. Only for the moment of signing; never cache the result."""
        record = self.active_key(PURPOSE_SIGNER, owner=username)
        if record is None:
            raise KeyRingError(f"user {username} has no active signer key")
        if role is not None and role not in record.roles:
            raise KeyRingError(f"user {username} does not hold the signer role {role}")
        if not record.valid_at(utc_now()):
            raise KeyRingError(f"signer key {record.kid} is outside its validity window")
        return Ed25519Signer(record.kid, decrypt_private_key(record, password))

    def hmac_signer(self, purpose: str, create: bool = True) -> HmacSigner:
        """Signer with the current key of an HMAC purpose (the first one is created on demand)."""
        if purpose not in HMAC_PURPOSES:
            raise KeyRingError(f"unknown HMAC purpose {purpose!r}")
        record = self.active_key(purpose)
        if record is None:
            if not create:
                raise KeyRingError(f"no active {purpose} key")
            record = self.rotate_hmac_key(purpose)
        return HmacSigner(record.kid, self._read_secret(record))

    # ---- changes ----------------------------------------------------------------------------------
    def create_signer_key(
        self,
        username: str,
        roles: list[str] | tuple[str, ...],
        password: str,
        *,
        valid_until: datetime | None = None,
        now: datetime | None = None,
        admin_password: str | None = None,
    ) -> KeyRecord:
        """New Ed25519 signer key for `username`, certified by the installation root (unlocked with the
        administrator password for this moment only); that user's previous active key is retired."""
        if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
            raise KeyRingError(f"invalid username {username!r}")
        roles = tuple(sorted(set(roles)))
        unknown = set(roles) - SIGNER_ROLES
        if unknown:
            # No roles at all is allowed: such a key signs checklist steps (e-signatures) but never counts
            # for a decision-log role, which the verifier checks against these roles.
            raise KeyRingError(f"signer roles must be among {sorted(SIGNER_ROLES)}, got {list(roles)}")
        moment = now or utc_now()
        kid = f"signer-{username}-{secrets.token_hex(4)}"
        private_key = Ed25519PrivateKey.generate()
        record = KeyRecord(
            kid=kid,
            algorithm=ALG_ED25519,
            purpose=PURPOSE_SIGNER,
            status=STATUS_ACTIVE,
            created_at=format_time(moment),
            valid_from=format_time(moment),
            valid_until=format_time(valid_until) if valid_until else None,
            owner=username,
            roles=roles,
            public_key=_b64(private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
            encrypted_private_key=encrypt_private_key(private_key, password, kid),
        )
        record = KeyRecord(**{**record.__dict__, "certificate": self._certify(record, admin_password)})

        def change(records: dict[str, KeyRecord]) -> KeyRecord:
            for old in list(records.values()):
                if old.purpose == PURPOSE_SIGNER and old.owner == username and old.status == STATUS_ACTIVE:
                    records[old.kid] = _retired(old, moment)
            records[kid] = record
            return record

        return self._modify(change)

    def _certify(self, record: KeyRecord, admin_password: str | None) -> str:
        from audit.trust.installation import InstallationError, unlock_root

        if not admin_password:
            raise KeyRingError("enrolling a signer key needs the installation administrator password")
        try:
            root = unlock_root(self.data_dir, admin_password)
        except InstallationError as exc:
            raise KeyRingError(str(exc)) from None
        return root.sign(DOMAIN_KEYRING, _certificate_body(self.installation_id, record))

    def rotate_hmac_key(self, purpose: str, *, now: datetime | None = None) -> KeyRecord:
        """New HMAC key for `purpose`; the previous one is retired but keeps verifying old data."""
        if purpose not in HMAC_PURPOSES:
            raise KeyRingError(f"unknown HMAC purpose {purpose!r}")
        moment = now or utc_now()
        kid = f"{purpose}-{moment.strftime('%Y%m%d')}-{secrets.token_hex(4)}"
        secret = secrets.token_bytes(48)
        create_secret_file(self._secret_path(kid), secret)
        record = KeyRecord(
            kid=kid,
            algorithm=ALG_HMAC_SHA384,
            purpose=purpose,
            status=STATUS_ACTIVE,
            created_at=format_time(moment),
            valid_from=format_time(moment),
            secret_sha384=sha384_bytes(secret),
        )

        def change(records: dict[str, KeyRecord]) -> KeyRecord:
            for old in list(records.values()):
                if old.purpose == purpose and old.status == STATUS_ACTIVE:
                    # HMAC data carries no timestamp, so keep the window open: retired = "never signs".
                    records[old.kid] = KeyRecord(**{**old.__dict__, "status": STATUS_RETIRED})
            records[kid] = record
            return record

        return self._modify(change)

    def retire_key(self, kid: str, *, now: datetime | None = None) -> KeyRecord:
        moment = now or utc_now()

        def change(records: dict[str, KeyRecord]) -> KeyRecord:
            if kid not in records:
                raise KeyRingError(f"unknown key id {kid}")
            old = records[kid]
            if old.status == STATUS_RETIRED:
                raise KeyRingError(f"key {kid} is already retired")
            records[kid] = (
                _retired(old, moment)
                if old.purpose == PURPOSE_SIGNER
                else KeyRecord(**{**old.__dict__, "status": STATUS_RETIRED})
            )
            return records[kid]

        return self._modify(change)


# What the root certifies: everything that says who may sign what, never the (mutable) retirement state.
CERTIFIED_FIELDS = ("kid", "algorithm", "purpose", "owner", "roles", "public_key", "created_at", "valid_from")


def _certificate_body(installation_id: str | None, record: KeyRecord) -> dict[str, Any]:
    fields = {name: getattr(record, name) for name in CERTIFIED_FIELDS}
    fields["roles"] = list(record.roles)
    return {"signer_certificate": {"installation_id": installation_id, **fields}}


def _retired(record: KeyRecord, moment: datetime) -> KeyRecord:
    """A retired signer key closes its window now: it verifies only what was signed before."""
    until = format_time(moment)
    if record.valid_until is not None and parse_time(record.valid_until) < moment:
        until = record.valid_until
    return KeyRecord(**{**record.__dict__, "status": STATUS_RETIRED, "valid_until": until})
