"""A signature worker of audit.trust.parallel_verify: reads frames of Ed25519 checks from its stdin and
answers one verdict byte per frame.

A module of its own so a worker process imports only the curve code it runs (cryptography), not the
verifier's modules: each worker starts in about half the time, which counts on every large log.
"""

from __future__ import annotations

import struct
import sys
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# Frame records. A decision entry's signatures share one message prefix (everything but the role), so it
# crosses the pipe once per entry: PREFIX, u32 length, bytes; then per signature SIGNATURE, the 32-byte
# public key, the 64-byte signature, u32 length and the suffix that completes the message.
PREFIX, SIGNATURE = 0, 1
PREFIX_HEAD = struct.Struct(">BI")
LENGTH = struct.Struct(">I")


def verify_frame(frame: bytes, keys: dict[bytes, Ed25519PublicKey] | None = None) -> bool:
    """True when every signature record in `frame` verifies over its message (the last prefix + its suffix).
    A frame that is cut, carries a prefix no signature uses, or no signature at all is refused."""
    keys = {} if keys is None else keys
    view = memoryview(frame)
    size = len(frame)
    at = 0
    prefix = None
    used = True
    count = 0
    try:
        while at < size:
            tag = frame[at]
            if tag == PREFIX:
                if not used:
                    return False
                (length,) = LENGTH.unpack_from(frame, at + 1)
                at += 5
                prefix = frame[at : at + length]
                if len(prefix) != length:
                    return False
                at += length
                used = False
            elif tag == SIGNATURE and prefix is not None:
                raw_key = frame[at + 1 : at + 33]
                signature = view[at + 33 : at + 97]
                (length,) = LENGTH.unpack_from(frame, at + 97)
                at += 101
                suffix = frame[at : at + length]
                if len(suffix) != length or len(signature) != 64:
                    return False
                at += length
                key = keys.get(raw_key)
                if key is None:
                    if len(keys) >= 1024:  # bounded however many keys a worker meets
                        keys.clear()
                    key = keys[raw_key] = Ed25519PublicKey.from_public_bytes(raw_key)
                key.verify(signature, prefix + suffix)
                used = True
                count += 1
            else:
                return False
    except (InvalidSignature, ValueError, struct.error):
        return False
    return used and count > 0


def _serve(reader: BinaryIO, writer: BinaryIO) -> None:
    """A worker: one verdict byte per frame, until the parent closes the pipe. Public keys are loaded once
    per worker, not once per frame."""
    keys: dict[bytes, Ed25519PublicKey] = {}
    while True:
        header = reader.read(4)
        if len(header) < 4:
            return
        (size,) = struct.unpack(">I", header)
        frame = reader.read(size)
        writer.write(b"\x01" if len(frame) == size and verify_frame(frame, keys) else b"\x00")
        writer.flush()


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
