"""Crash-safe file writes and inter-process locks for evidence files.

Evidence must never be half-written: a reader sees either the old file or the new one (temp file, fsync,
rename, fsync of the directory so the rename itself survives a power cut). Evidence is read through
`read_regular_file`: regular files only, size-capped, never blocking on a FIFO or a device.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(path.parent)


def create_secret_file(path: Path, data: bytes) -> None:
    """Create a 0600 file exclusively (never overwrite a secret), durably."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Advisory exclusive lock shared by every writer of one evidence file (fcntl, released on close)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class UnsafeFileError(OSError, ValueError):
    """A file a verifier or command was asked to read is not a bounded regular file. One-line reason.

    Both an OSError (callers that report unreadable files keep working) and a ValueError (callers that
    report bad input keep working); `str()` is the reason alone, without an errno prefix."""

    code = errno.EINVAL

    def __init__(self, message: str):
        super().__init__(self.code, message)

    def __str__(self) -> str:
        return self.strerror


class MissingFileError(UnsafeFileError, FileNotFoundError):
    """The file does not exist: callers for which absence is a state (no log yet) catch FileNotFoundError."""

    code = errno.ENOENT


# Size caps per kind of file. Generous for real files, small enough that a hostile file cannot exhaust memory.
MAX_KEY_FILE = 64 * 1024  # secrets, tokens, passwords
MAX_PEM_FILE = 1024 * 1024  # certificates, CRLs, keys in PEM
MAX_JSON_FILE = 16 * 1024 * 1024  # one JSON document: key ring, signature, checkpoint, schema, report
MAX_CONFIG_FILE = 1024 * 1024  # config/core.yaml, .env, daemon config
MAX_LOG_FILE = 512 * 1024 * 1024  # append-only JSONL evidence: decision logs, registries, exports
MAX_ARCHIVE_FILE = 2 * 1024 * 1024 * 1024  # backups, bundles

_KIND_NAMES = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _kind(mode: int) -> str:
    return _KIND_NAMES.get(stat.S_IFMT(mode), "not a regular file")


def read_regular_file(path: str | os.PathLike[str], *, max_bytes: int, what: str) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, or UnsafeFileError naming `what` and why.

    Symlinks are resolved first and the target is what gets checked. The open is non-blocking and refuses a
    final symlink, so a FIFO (or a path swapped for one between the check and the open) can never hang the
    reader; the type and size are then checked on the open descriptor itself, and the read stops one byte
    past the cap, so a file growing meanwhile (or /dev/zero behind a race) cannot exhaust memory."""
    shown = os.fspath(path)
    try:
        real = os.path.realpath(shown, strict=True)
    except FileNotFoundError:
        raise MissingFileError(f"{what} {shown}: no such file") from None
    except OSError as exc:  # symlink loop, permission on a parent
        raise UnsafeFileError(f"{what} {shown}: {exc.strerror or type(exc).__name__}") from None
    try:
        before = os.stat(real, follow_symlinks=False)
    except OSError as exc:
        raise UnsafeFileError(f"{what} {shown}: {exc.strerror or type(exc).__name__}") from None
    if not stat.S_ISREG(before.st_mode):
        raise UnsafeFileError(f"{what} {shown}: {_kind(before.st_mode)}, not a regular file")
    if before.st_size > max_bytes:
        raise UnsafeFileError(f"{what} {shown}: {before.st_size} bytes, more than the {max_bytes} allowed")
    flags = (
        os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    )
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise UnsafeFileError(f"{what} {shown}: {exc.strerror or type(exc).__name__}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(f"{what} {shown}: {_kind(st.st_mode)}, not a regular file")
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        want = st.st_size + 1  # the whole file in one read, so joining copies nothing; then what it grew by
        while remaining > 0:
            chunk = os.read(fd, min(remaining, max(want, 1 << 20)))
            want = 0
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise UnsafeFileError(f"{what} {shown}: {exc.strerror or type(exc).__name__}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise UnsafeFileError(f"{what} {shown}: more than the {max_bytes} bytes allowed")
    return data


def read_regular_text(path: str | os.PathLike[str], *, max_bytes: int, what: str) -> str:
    """read_regular_file decoded as strict UTF-8; undecodable bytes are a one-line UnsafeFileError."""
    data = read_regular_file(path, max_bytes=max_bytes, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeFileError(f"{what} {os.fspath(path)}: invalid UTF-8 at byte {exc.start}") from None
