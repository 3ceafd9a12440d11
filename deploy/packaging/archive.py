"""Byte-reproducible file trees and tar.gz archives.

Same tree + same SOURCE_DATE_EPOCH -> same bytes: members sorted, mtime = the epoch, uid/gid 0 with empty
names, modes 0644 / 0755 (directories and executables), PAX-free ustar/GNU headers, gzip header without a
timestamp or file name, no absolute paths.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path

EXECUTABLE_SUFFIXES = (".sh", "bootstrap.py", "postinst", "prerm")


def file_mode(rel: str) -> int:
    return 0o755 if rel.endswith(EXECUTABLE_SUFFIXES) else 0o644


def normalise_tree(root: Path, epoch: int) -> None:
    """Fixed modes and mtimes on every file and directory under `root` (children before parents)."""
    for dirpath, _, filenames in os.walk(root, topdown=False):
        base = Path(dirpath)
        for name in filenames:
            path = base / name
            os.chmod(path, file_mode(path.relative_to(root).as_posix()))
            os.utime(path, (epoch, epoch), follow_symlinks=False)
        os.chmod(base, 0o755)  # noqa: S103 - a published, world-readable package tree
        os.utime(base, (epoch, epoch))


def sorted_members(root: Path) -> list[str]:
    members: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        if rel_dir != ".":
            members.append(rel_dir + "/")
        members.extend(name if rel_dir == "." else f"{rel_dir}/{name}" for name in sorted(filenames))
    return sorted(members)


def write_tar_gz(root: Path, target: Path, *, top: str, epoch: int) -> None:
    """`target` holds `root` under `top/`, reproducibly. Written to a temp name, then renamed."""
    tmp = target.with_name(f".{target.name}.tmp")
    with (
        open(tmp, "wb") as out,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as tar,
    ):
        tar.addfile(_info(f"{top}/", 0o755, epoch))
        for rel in sorted_members(root):
            if rel.endswith("/"):
                tar.addfile(_info(f"{top}/{rel}", 0o755, epoch))
                continue
            path = root / rel
            info = _info(f"{top}/{rel}", file_mode(rel), epoch)
            info.size = path.stat().st_size
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
    os.replace(tmp, target)


def _info(name: str, mode: int, epoch: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name.rstrip("/") if not name.endswith("/") else name[:-1])
    info.type = tarfile.DIRTYPE if name.endswith("/") else tarfile.REGTYPE
    info.mode, info.mtime = mode, epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
