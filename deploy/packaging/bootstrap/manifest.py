"""The bundle manifest (`oem/bundle-manifest/v1`): one format for the builder, the bootstrap and the bench.

`manifest.json` is RFC 8785 canonical JSON and nothing else (no newline), so its bytes are at once the file,
the body `manifest.sig` covers (after the domain prefix) and what the fingerprint hashes. Parsing is strict:
non-canonical bytes, unknown or missing fields, unsafe or unsorted paths are refused, never normalised.
"""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.hashing import sha384_bytes, sha384_file

SCHEMA = "oem/bundle-manifest/v1"
PLATFORMS = ("linux-x86_64", "windows-x86_64", "macos-arm64")
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
GPG_SIGNATURE_NAME = "manifest.asc"
# The only files of a bundle directory the manifest does not list: they are about the manifest itself.
SIGNATURE_FILES = frozenset({MANIFEST_NAME, SIGNATURE_NAME, GPG_SIGNATURE_NAME})
MAX_MANIFEST_BYTES = 32 << 20
MAX_FILES = 200_000

_FIELDS = frozenset({"schema", "bundle_version", "commit", "platform", "build_time", "files"})
_VERSION = re.compile(r"^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\Z")
_COMMIT = re.compile(r"^[0-9a-f]{40}\Z")
_DIGEST = re.compile(r"^sha384:[0-9a-f]{96}\Z")
_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")
_SEGMENT = re.compile(r"^[A-Za-z0-9_+=@~-][A-Za-z0-9_.+=@~-]{0,254}\Z")


class ManifestError(ValueError):
    """A manifest (or a tree against it) is malformed. One-line message."""


def check_version(text: Any) -> tuple[int, int, int]:
    if not isinstance(text, str) or not _VERSION.match(text):
        raise ManifestError(f"bundle version {str(text)[:40]!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in text.split("."))
    return major, minor, patch


def check_path(rel: Any) -> str:
    """A relative POSIX path with plain segments: no absolute path, `..`, backslash or hidden traversal."""
    if not isinstance(rel, str) or not rel or len(rel) > 1024:
        raise ManifestError("manifest path is empty, too long or not a string")
    segments = rel.split("/")
    if any(not _SEGMENT.match(s) or s in (".", "..") for s in segments):
        raise ManifestError(f"unsafe path in manifest: {rel[:120]!r}")
    if len(segments) == 1 and rel in SIGNATURE_FILES:
        raise ManifestError(f"the manifest must not list {rel}")
    return rel


def build_time_from_epoch(epoch: int) -> str:
    """RFC 3339 UTC, second precision: the build time is SOURCE_DATE_EPOCH, never the clock."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prefixed(hex_digest: str) -> str:
    return f"sha384:{hex_digest}"


def bytes_entry(rel: str, data: bytes) -> dict[str, Any]:
    return {"path": check_path(rel), "size": len(data), "sha384": prefixed(sha384_bytes(data))}


def file_entry(rel: str, path: Path) -> dict[str, Any]:
    size = os.stat(path).st_size
    return {"path": check_path(rel), "size": size, "sha384": prefixed(sha384_file(path))}


def hash_tree(root: Path, rels: list[str]) -> list[dict[str, Any]]:
    """Manifest entries for the files `rels` under `root`, sorted by path."""
    return sorted((file_entry(rel, root / rel) for rel in rels), key=lambda e: e["path"])


def build_manifest(
    *, bundle_version: str, commit: str, platform: str, build_time: str, files: list[dict[str, Any]]
) -> dict[str, Any]:
    manifest = {
        "schema": SCHEMA,
        "bundle_version": bundle_version,
        "commit": commit,
        "platform": platform,
        "build_time": build_time,
        "files": sorted(files, key=lambda e: e["path"]),
    }
    check_manifest(manifest)
    return manifest


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return canonical_bytes(manifest)


def fingerprint(data: bytes) -> str:
    """The bundle fingerprint: SHA-384 of the manifest.json bytes."""
    return prefixed(sha384_bytes(data))


def check_manifest(manifest: Any) -> dict[str, Any]:
    if not isinstance(manifest, dict):
        raise ManifestError("manifest is not a JSON object")
    if set(manifest) != _FIELDS:
        unexpected = sorted(set(manifest) - _FIELDS)
        missing = sorted(_FIELDS - set(manifest))
        raise ManifestError(f"manifest fields wrong (missing {missing}, unexpected {unexpected})")
    if manifest["schema"] != SCHEMA:
        raise ManifestError(f"manifest schema {str(manifest['schema'])[:60]!r} is not {SCHEMA}")
    check_version(manifest["bundle_version"])
    if not isinstance(manifest["commit"], str) or not _COMMIT.match(manifest["commit"]):
        raise ManifestError("manifest commit is not 40 lowercase hex digits")
    if manifest["platform"] not in PLATFORMS:
        raise ManifestError(f"manifest platform {str(manifest['platform'])[:40]!r} is unknown")
    if not isinstance(manifest["build_time"], str) or not _TIME.match(manifest["build_time"]):
        raise ManifestError("manifest build_time is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)")
    files = manifest["files"]
    if not isinstance(files, list) or not files or len(files) > MAX_FILES:
        raise ManifestError("manifest files must be a non-empty list")
    previous = None
    for entry in files:
        if not isinstance(entry, dict) or set(entry) != {"path", "size", "sha384"}:
            raise ManifestError("manifest file entry must have exactly path, size, sha384")
        rel = check_path(entry["path"])
        if previous is not None and rel <= previous:
            raise ManifestError(f"manifest files are not sorted and unique at {rel[:120]!r}")
        previous = rel
        size = entry["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ManifestError(f"{rel}: size is not a non-negative integer")
        if not isinstance(entry["sha384"], str) or not _DIGEST.match(entry["sha384"]):
            raise ManifestError(f"{rel}: sha384 is not sha384:<96 hex>")
    _refuse_file_directory_clash(files)
    return manifest


def _refuse_file_directory_clash(files: list[dict[str, Any]]) -> None:
    names = {e["path"] for e in files}
    folded = {n.casefold() for n in names}
    if len(folded) != len(names):  # one file on Windows and macOS: which one would be installed?
        raise ManifestError("manifest lists paths that differ only in case")
    for rel in names:
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in names:
                raise ManifestError(f"manifest lists {'/'.join(parts[:depth])} as a file and a directory")


def parse_manifest(data: bytes) -> dict[str, Any]:
    """Strict: the bytes must be exactly the canonical form of a well-formed manifest."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError("manifest.json is too large")
    try:
        manifest = strict_loads(data)
    except StrictJSONError as exc:
        raise ManifestError(f"manifest.json is not strict JSON: {exc}") from exc
    check_manifest(manifest)
    if canonical_bytes(manifest) != data:
        raise ManifestError("manifest.json is not in canonical form (RFC 8785)")
    return manifest


def tree_files(root: Path) -> tuple[set[str], list[str]]:
    """(regular files relative to `root` minus the signature files, problems). Symlinks, special files and
    empty directories are problems: a verified bundle holds exactly what its manifest lists."""
    files: set[str] = set()
    problems: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        rel_dir = base.relative_to(root).as_posix()
        for name in sorted(dirnames):
            if (base / name).is_symlink():
                problems.append(f"symbolic link in bundle: {_join(rel_dir, name)}")
        dirnames[:] = sorted(d for d in dirnames if not (base / d).is_symlink())
        if not filenames and not dirnames and rel_dir != ".":
            problems.append(f"empty directory not in the manifest: {rel_dir}")
        for name in sorted(filenames):
            rel = _join(rel_dir, name)
            mode = os.lstat(base / name).st_mode
            if not stat.S_ISREG(mode):
                problems.append(f"not a regular file: {rel}")
            elif rel not in SIGNATURE_FILES:
                files.add(rel)
    return files, problems


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{rel_dir}/{name}"
