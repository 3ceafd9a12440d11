"""File and byte digests used as evidence. One place, so every artefact hash is computed the same way."""

import hashlib
import os
import stat
from pathlib import Path

from audit.trust.fsutil import UnsafeFileError

_CHUNK = 1 << 20


def sha384_bytes(data: bytes) -> str:
    return hashlib.sha384(data).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digests(path: str | Path, algorithms: tuple[str, ...] = ("sha256", "sha384")) -> dict[str, str]:
    """Hex digests of a regular file's bytes, read once in chunks whatever its size.

    Opened non-blocking and checked on the descriptor, so a FIFO or a device named as an artefact is a
    one-line UnsafeFileError instead of a hang or an endless read."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UnsafeFileError(f"{os.fspath(path)}: not a regular file")
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def sha384_file(path: str | Path) -> str:
    return file_digests(path, ("sha384",))["sha384"]


def sha256_file(path: str | Path) -> str:
    return file_digests(path, ("sha256",))["sha256"]
