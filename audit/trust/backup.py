"""Offline backup and restore of an installation's data dir: a signed index, SHA-384 per file, staged restore.

A backup is one tar file (regular members only):
- `index.json`: canonical {"index": body, "signature"}, the body signed by the installation root (Ed25519,
  domain "oem/backup/v1", so the administrator password is needed to make one). The body names the
  installation (id, deployment id, root fingerprint and public key), the witness marks at backup time, and
  every member: path, size, SHA-384.
- `database.xml`: the console database (the Django side dumps and loads it; this module only carries it).
- `data/<path>`: every file of the data dir (licenses, activation, high-water mark, CRL, registry, key ring,
  decision logs + checkpoints, audit artefacts, certificates, the installation record) except what is
  rebuilt or machine-local: the SQLite files (the dump replaces them), the witness state (reset on restore;
  its reset journal stays with the machine), locks, the broker queue and collected static files.

Backup reads every file twice (digest, then the archive copy, hashed again) and re-checks every file's size
and mtime at the end: a file changed meanwhile (a log appended after its checkpoint was read) refuses the
backup instead of writing an inconsistent one.

Restore verifies before it writes: the index signature against the root key it names, that root against
the installation this machine knows (refused unless allowed), the member list against the index (nothing
missing, nothing extra, no links or odd names) and every member's size and SHA-384 while it is extracted
into a staging directory beside the data dir. Only a fully verified stage is moved into the data dir, file
by file with rename; files it replaces or that the backup does not hold go to a `restore-aside` directory,
never deleted. No Django here: `manage.py backup_installation` / `restore_installation` add the database.

The backup holds the key ring's HMAC secrets (signer keys stay password-encrypted): keep it like the data
dir itself, on the offline medium, readable by the administrator only.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.trust import paths
from audit.trust.canonical import DOMAIN_BACKUP, StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import MAX_ARCHIVE_FILE, MAX_JSON_FILE, UnsafeFileError, fsync_dir
from audit.trust.signatures import ALG_ED25519, Ed25519Signer, SignatureError, VerifyingKey, verify_signature

BACKUP_FORMAT = "oem/backup/v1"
INDEX_NAME = "index.json"
DATABASE_NAME = "database.xml"  # XML keeps microseconds (the JSON encoder cuts them to ms)
DATA_PREFIX = "data/"
ROOT_KID = "installation-root"
MAX_MEMBERS = 200_000
_CHUNK = 1 << 20
_SAFE_PART = re.compile(r"^[A-Za-z0-9._@+=,-][A-Za-z0-9._@+=, -]*\Z")

# Data-dir paths never backed up (relative, POSIX): rebuilt from the dump, reset on restore, or machine-local.
_EXCLUDED_TOP = {"broker", "staticfiles"}
_EXCLUDED_FILES = {"state/witness.json", "state/witness.key", "state/witness_resets.jsonl"}
_EXCLUDED_SUFFIXES = (".lock", ".tmp")
_SQLITE = re.compile(r"^db\.sqlite3(-journal|-wal|-shm)?\Z")


class BackupError(ValueError):
    """The backup cannot be made, or is not an intact backup this machine may restore. One line."""


@dataclass(frozen=True)
class BackupIndex:
    body: dict[str, Any]

    @property
    def installation_id(self) -> str:
        return self.body["installation_id"]

    @property
    def root_fingerprint(self) -> str:
        return self.body["root_fingerprint"]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return {f["path"]: f for f in self.body["files"]}

    @property
    def witness(self) -> dict[str, dict[str, Any]]:
        return self.body["witness"]


def excluded(relative: str) -> bool:
    parts = relative.split("/")
    return (
        parts[0] in _EXCLUDED_TOP
        or relative in _EXCLUDED_FILES
        or relative.endswith(_EXCLUDED_SUFFIXES)
        or (len(parts) == 1 and bool(_SQLITE.match(parts[0])))
        or any(part.startswith(".") and part.endswith(".lock") for part in parts)
    )


def data_files(data_dir: Path) -> list[tuple[str, Path]]:
    """(relative POSIX path, absolute path) of every regular file to back up, sorted. Symlinks and special
    files in the data dir are refused: a backup never follows a link out of the data dir."""
    base = Path(data_dir).resolve()
    found: list[tuple[str, Path]] = []
    for root, dirs, files in os.walk(base, followlinks=False):
        here = Path(root)
        kept = []
        for name in sorted(dirs):
            relative = (here / name).relative_to(base).as_posix()
            if excluded(relative):
                continue
            if os.path.islink(here / name):
                raise BackupError(f"{relative}: a symlink (links are not backed up)")
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            relative = (here / name).relative_to(base).as_posix()
            if excluded(relative):
                continue
            if not stat.S_ISREG(os.lstat(here / name).st_mode):
                raise BackupError(
                    f"{relative}: not a regular file (links and special files are not backed up)"
                )
            found.append((relative, here / name))
    return sorted(found)


def _digest_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha384()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def write_backup(
    out: Path,
    *,
    data_dir: Path,
    installation: Any,
    root_signer: Ed25519Signer,
    database: bytes,
    witness: dict[str, dict[str, Any]],
    created_at: str,
) -> BackupIndex:
    """Write the backup tar to `out` (0600, atomically: a temp file renamed at the end)."""
    out = Path(out)
    base = Path(data_dir).resolve()
    if out.resolve().is_relative_to(base):
        raise BackupError(f"{out}: the backup must not be written inside the data dir it backs up")
    members: list[tuple[str, Path | bytes]] = [(DATABASE_NAME, database)]
    members += [(DATA_PREFIX + relative, full) for relative, full in data_files(base)]
    files = []
    stamps: dict[str, tuple[int, int]] = {}
    for name, source in members:
        if isinstance(source, bytes):
            size, sha = len(source), hashlib.sha384(source).hexdigest()
        else:
            stamps[name] = _stamp(source)
            size, sha = _digest_file(source)
        files.append({"path": name, "size": size, "sha384": sha})
    body = {
        "format": BACKUP_FORMAT,
        "installation_id": installation.installation_id,
        "deployment_id": installation.deployment_id,
        "root_fingerprint": installation.root_fingerprint,
        "root_public_key": installation.root_public_key,
        "created_at": created_at,
        "witness": dict(sorted(witness.items())),
        "files": files,
    }
    index = canonical_bytes({"index": body, "signature": root_signer.sign(DOMAIN_BACKUP, body)}) + b"\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        os.fchmod(fd, 0o600)
        with (
            os.fdopen(fd, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            _add(tar, INDEX_NAME, index)
            for (name, source), entry in zip(members, files, strict=True):
                data = source if isinstance(source, bytes) else None
                if data is None:
                    with open(source, "rb") as handle:
                        hashing = _HashingReader(handle)
                        _add(tar, name, hashing, entry["size"])
                    if hashing.digest.hexdigest() != entry["sha384"]:
                        raise _changed(name)
                else:
                    _add(tar, name, data)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        # One consistent moment: a log appended after its checkpoint was read (or the reverse) is refused.
        for name, source in members:
            if not isinstance(source, bytes) and _stamp(source) != stamps[name]:
                raise _changed(name)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(out.parent)
    return BackupIndex(body)


class _HashingReader:
    """What tarfile copies, hashed on the way: the copy in the archive is compared with the index entry."""

    def __init__(self, handle):
        self._handle = handle
        self.digest = hashlib.sha384()

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.digest.update(data)
        return data


def _changed(name: str) -> BackupError:
    return BackupError(f"{name} changed while the backup was written: run it again while nothing writes")


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def _add(tar: tarfile.TarFile, name: str, source, size: int | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, 0, "", ""
    if isinstance(source, bytes):
        info.size = len(source)
        tar.addfile(info, io.BytesIO(source))
    else:
        info.size = size
        tar.addfile(info, source)


# ---- verification ----------------------------------------------------------------------------------------
def _open_archive(path: Path) -> io.BufferedReader:
    """The archive, opened non-blocking as a regular file of at most MAX_ARCHIVE_FILE bytes."""
    shown = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise BackupError(f"backup {shown}: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise BackupError(f"backup {shown}: not a regular file")
    if st.st_size > MAX_ARCHIVE_FILE:
        os.close(fd)
        raise BackupError(f"backup {shown}: {st.st_size} bytes, more than the {MAX_ARCHIVE_FILE} allowed")
    return os.fdopen(fd, "rb")


class _BoundedReads(io.RawIOBase):
    """The archive as tarfile sees it, refusing any single read larger than MAX_JSON_FILE: tarfile reads a
    pax header's whole content at once, so a header claiming gigabytes would otherwise be read into memory.
    Member data is read in _CHUNK pieces and never trips this."""

    def __init__(self, raw: io.BufferedReader):
        self._raw = raw

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > MAX_JSON_FILE:
            raise BackupError("backup archive has a header or member read larger than allowed")
        return self._raw.read(size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


def _safe_member_name(name: str) -> bool:
    if name in (INDEX_NAME, DATABASE_NAME):
        return True
    if not name.startswith(DATA_PREFIX) or len(name) > 1024:
        return False
    parts = PurePosixPath(name).parts[1:]
    return bool(parts) and all(p not in (".", "..") and _SAFE_PART.match(p) for p in parts)


def parse_index(data: bytes) -> BackupIndex:
    """Structure and root signature of index.json (against the root key the index itself names)."""
    try:
        doc = strict_loads(data)
    except StrictJSONError as exc:
        raise BackupError(f"{INDEX_NAME}: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"index", "signature"} or not isinstance(doc["index"], dict):
        raise BackupError(f"{INDEX_NAME} has an unexpected structure")
    if canonical_bytes(doc) + b"\n" != data:
        raise BackupError(f"{INDEX_NAME} is not in canonical form (edited?)")
    body = doc["index"]
    keys = {
        "format",
        "installation_id",
        "deployment_id",
        "root_fingerprint",
        "root_public_key",
        "created_at",
        "witness",
        "files",
    }
    if set(body) != keys or body["format"] != BACKUP_FORMAT:
        raise BackupError(f"{INDEX_NAME} is not a {BACKUP_FORMAT} index")
    if not all(isinstance(body[k], str) for k in keys - {"witness", "files"}):
        raise BackupError(f"{INDEX_NAME} has an unexpected structure")
    if not isinstance(body["files"], list) or not isinstance(body["witness"], dict):
        raise BackupError(f"{INDEX_NAME} has an unexpected structure")
    for entry in body["files"]:
        if (
            not isinstance(entry, dict)
            or set(entry) != {"path", "size", "sha384"}
            or not isinstance(entry["path"], str)
            or not _safe_member_name(entry["path"])
            or entry["path"] == INDEX_NAME
            or type(entry["size"]) is not int
            or entry["size"] < 0
            or not (isinstance(entry["sha384"], str) and re.fullmatch(r"[0-9a-f]{96}", entry["sha384"]))
        ):
            raise BackupError(f"{INDEX_NAME}: a file entry is malformed")
    if len({e["path"] for e in body["files"]}) != len(body["files"]):
        raise BackupError(f"{INDEX_NAME} lists a file twice")
    for key, mark in body["witness"].items():
        if not isinstance(mark, dict) or set(mark) != {"seq", "head"} or type(mark["seq"]) is not int:
            raise BackupError(f"{INDEX_NAME}: witness mark {key!r} is malformed")
    from audit.trust.installation import root_fingerprint_of

    try:
        raw = base64.b64decode(body["root_public_key"], validate=True)
        key = VerifyingKey(ROOT_KID, ALG_ED25519, public_key=Ed25519PublicKey.from_public_bytes(raw))
    except ValueError:
        raise BackupError(f"{INDEX_NAME}: the root public key is malformed") from None
    if root_fingerprint_of(raw) != body["root_fingerprint"]:
        raise BackupError(f"{INDEX_NAME}: the root fingerprint does not match the root public key")
    try:
        verify_signature(doc["signature"], DOMAIN_BACKUP, body, key)
    except SignatureError as exc:
        raise BackupError(
            f"{INDEX_NAME}: signature does not verify ({exc}): tampered or not this root"
        ) from None
    return BackupIndex(body)


def known_installation(data_dir: Path) -> tuple[str | None, str | None]:
    """(installation id, root fingerprint) this machine knows for `data_dir`, from the installation record
    if it is still there, else from the pin in the witness place outside the data dir (which survives a
    wiped data dir), else from OEM_INSTALLATION_ROOT; (None, None) on a machine that never had one."""
    from audit.trust.installation import PIN_ENV

    base = Path(data_dir).resolve()
    for candidate in (paths.installation_path(base), paths.witness_dir(base) / "installation.pin"):
        if candidate.exists():
            try:
                from audit.trust.fsutil import read_regular_file

                doc = strict_loads(read_regular_file(candidate, max_bytes=MAX_JSON_FILE, what="installation"))
            except (OSError, StrictJSONError) as exc:
                raise BackupError(f"cannot tell which installation this is: {exc}") from None
            if isinstance(doc, dict):
                return doc.get("installation_id"), doc.get("root_fingerprint")
    return None, os.environ.get(PIN_ENV) or None


def check_installation(index: BackupIndex, data_dir: Path, *, allow_other: bool) -> None:
    known_id, known_root = known_installation(data_dir)
    other = (known_id is not None and known_id != index.installation_id) or (
        known_root is not None and known_root != index.root_fingerprint
    )
    if other and not allow_other:
        raise BackupError(
            f"the backup is of installation {index.installation_id}, this machine is "
            f"{known_id or known_root}: refused (--allow-other-installation to restore it anyway)"
        )


def stage_backup(archive: Path, staging: Path, *, data_dir: Path, allow_other: bool) -> BackupIndex:
    """Verify the backup completely while extracting it into `staging` (created, must not exist). On any
    problem the stage is removed and BackupError raised: the data dir is never touched here."""
    staging = Path(staging)
    staging.mkdir(mode=0o700)
    try:
        return _stage(archive, staging, data_dir=data_dir, allow_other=allow_other)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _stage(archive: Path, staging: Path, *, data_dir: Path, allow_other: bool) -> BackupIndex:
    with _open_archive(archive) as raw:
        try:
            tar = tarfile.open(fileobj=_BoundedReads(raw), mode="r:")
        except tarfile.TarError as exc:
            raise BackupError(f"backup {archive}: not a tar archive ({exc})") from None
        with tar:
            members = _members(tar)
            first = next(members, None)
            if first is None or first.name != INDEX_NAME or first.size > MAX_JSON_FILE * 4:
                raise BackupError(f"backup {archive}: {INDEX_NAME} is not the first member")
            index = parse_index(tar.extractfile(first).read())
            check_installation(index, data_dir, allow_other=allow_other)
            expected = index.files
            seen: set[str] = set()
            for member in members:
                entry = expected.get(member.name)
                if entry is None:
                    raise BackupError(f"backup holds {member.name}, which its signed index does not list")
                if member.name in seen:
                    raise BackupError(f"backup holds {member.name} twice")
                seen.add(member.name)
                if member.size != entry["size"]:
                    raise BackupError(
                        f"{member.name}: size {member.size}, the signed index says {entry['size']}"
                    )
                _extract(tar, member, staging / member.name, entry["sha384"])
            missing = sorted(set(expected) - seen)
            if missing:
                raise BackupError(
                    f"backup lacks {missing[0]} (and {len(missing) - 1} more) listed in its index"
                )
    return index


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    count = 0
    while True:
        try:
            member = tar.next()
        except tarfile.TarError as exc:
            raise BackupError(f"backup archive is damaged: {exc}") from None
        if member is None:
            return
        count += 1
        if count > MAX_MEMBERS:
            raise BackupError(f"backup has more than {MAX_MEMBERS} members")
        if not member.isreg():
            raise BackupError(f"backup member {member.name[:100]!r} is not a regular file")
        if not _safe_member_name(member.name):
            raise BackupError(f"backup member {member.name[:100]!r} has an unsafe name")
        yield member


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, sha384: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    source = tar.extractfile(member)
    digest = hashlib.sha384()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != sha384:
        raise BackupError(f"{member.name}: SHA-384 does not match the signed index (tampered)")


# ---- writing the verified stage into the data dir ------------------------------------------------------
def apply_stage(staging: Path, data_dir: Path, aside: Path) -> list[str]:
    """Move every staged `data/` file into `data_dir` (rename, one file at a time, each durable). Files the
    backup replaces, and backed-up kinds of files the backup does not hold, are moved into `aside`."""
    base = Path(data_dir).resolve()
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged_root = Path(staging) / DATA_PREFIX.rstrip("/")
    staged = {p.relative_to(staged_root).as_posix() for p in staged_root.rglob("*") if p.is_file()}
    try:
        current = {relative for relative, _ in data_files(base)}
    except BackupError as exc:
        raise BackupError(f"the data dir holds something a restore cannot replace: {exc}") from None
    for relative in sorted(current):
        _move(base / relative, Path(aside) / relative)
    for relative in sorted(staged):
        target = base / relative
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(staged_root / relative, target)
        fsync_dir(target.parent)
    return sorted(staged)


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.replace(source, target)


def read_staged_database(staging: Path) -> bytes:
    try:
        from audit.trust.fsutil import read_regular_file

        return read_regular_file(
            Path(staging) / DATABASE_NAME, max_bytes=MAX_ARCHIVE_FILE, what="database dump"
        )
    except UnsafeFileError as exc:
        raise BackupError(str(exc)) from None
