"""File and byte digests used as evidence. One place, so every artefact hash is computed the same way."""

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sha384_bytes(data: bytes) -> str:
    return hashlib.sha384(data).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digests(path: str | Path, algorithms: tuple[str, ...] = ("sha256", "sha384")) -> dict[str, str]:
    """Hex digests of a file's bytes, read once in chunks whatever its size."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def sha384_file(path: str | Path) -> str:
    return file_digests(path, ("sha384",))["sha384"]


def sha256_file(path: str | Path) -> str:
    return file_digests(path, ("sha256",))["sha256"]
