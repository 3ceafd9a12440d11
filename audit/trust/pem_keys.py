"""Loading a vendor's Ed25519 private key from a PKCS8 PEM, encrypted under the password in a file that an
environment variable names (the license signing key, the release signing key).

Both files are read with the bounded regular-file reader, so a FIFO, a device or a huge file named by a
variable is refused in one line instead of blocking or exhausting memory. The password is never shown.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from audit.trust.fsutil import MAX_KEY_FILE, MAX_PEM_FILE, read_regular_file


class PemKeyError(ValueError):
    """The key or its password file cannot be read, decrypted or used. One line."""


def load_ed25519_pem(path: str | os.PathLike[str], *, password_env: str, what: str) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM at `path`; encrypted PEMs take their password (surrounding
    whitespace stripped) from the file named by $`password_env` when it is set. `what` names the key in
    messages ("release key")."""
    password = None
    password_file = os.environ.get(password_env)
    if password_file:
        try:
            password = read_regular_file(password_file, max_bytes=MAX_KEY_FILE, what=password_env).strip()
        except OSError as exc:
            raise PemKeyError(f"cannot read {password_env}: {exc.strerror or exc}") from None
    key_path = Path(path)
    try:
        data = read_regular_file(key_path, max_bytes=MAX_PEM_FILE, what=what)
    except OSError as exc:
        raise PemKeyError(f"cannot read {what}: {exc.strerror or exc}") from None
    try:
        key = load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise PemKeyError(
            f"{what} {key_path} is not a usable PKCS8 PEM: {' '.join(str(exc).split())}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PemKeyError(f"{what} {key_path} is not an Ed25519 key")
    return key
