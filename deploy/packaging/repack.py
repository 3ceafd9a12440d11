"""Development only: a wheelhouse for the build machine's own platform, repacked from installed packages.

`python -m deploy.packaging.repack --out DIR [--requirements FILE]` writes, for every pinned requirement, a
wheel made from the distribution installed in this interpreter at exactly that version: its files as RECORD
lists them (no bytecode, no scripts outside site-packages, which pip regenerates from entry points), a new
RECORD, and the platform tags from the installed WHEEL file. It is how a developer or a test builds a real
linux-x86_64 bundle with no network. A release wheelhouse comes from `make wheelhouse` (the published wheels).
Refuses, in one line and before writing, when a pinned version is not installed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import zipfile
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from audit.trust.cliutil import EXIT_OK, run
from audit.trust.cliutil import OneLineParser as _Parser
from deploy.packaging.wheelhouse import Requirement, normalise, read_requirements

_SKIPPED_NAMES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
_EPOCH_1980 = 315532800  # zip timestamps start in 1980


class RepackError(ValueError):
    """A pinned distribution is not installed at its version. One line."""


def _tags(wheel_text: str) -> str:
    tags = [line.split(":", 1)[1].strip() for line in wheel_text.splitlines() if line.startswith("Tag:")]
    if not tags:
        return "py3-none-any"
    heads = {tag.rsplit("-", 1)[0] for tag in tags}
    if len(heads) == 1:
        return f"{heads.pop()}-{'.'.join(sorted({tag.rsplit('-', 1)[1] for tag in tags}))}"
    return tags[0]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def repack(requirement: Requirement, out_dir: Path, epoch: int) -> Path:
    dist = distribution(requirement.name)
    files = [f for f in dist.files or [] if ".." not in f.parts and "__pycache__" not in f.parts]
    files = [f for f in files if not f.name.endswith(".pyc")]
    dist_info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    files = [f for f in files if not (f.parts[0] == dist_info and f.name in _SKIPPED_NAMES)]
    wheel_name = (
        f"{normalise(requirement.name)}-{requirement.version}-{_tags(dist.read_text('WHEEL') or '')}.whl"
    )
    target = out_dir / wheel_name
    tmp = out_dir / f".{wheel_name}.tmp"
    stamp = _zip_time(epoch)
    record = []
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entry in sorted(files, key=lambda f: f.as_posix()):
            data = Path(dist.locate_file(entry)).read_bytes()
            name = entry.as_posix()
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
            record.append(_record_line(name, data))
        record_name = f"{dist_info}/RECORD"
        info = zipfile.ZipInfo(record_name, date_time=stamp)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, "".join(record) + f"{record_name},,\n")
    os.replace(tmp, target)
    return target


def _zip_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    import time

    moment = time.gmtime(max(epoch, _EPOCH_1980))
    return moment[:6]


def repack_requirements(requirements: list[Requirement], out_dir: Path, epoch: int) -> list[Path]:
    wrong = []
    for requirement in requirements:
        try:
            installed = distribution(requirement.name).version
        except PackageNotFoundError:
            installed = "not installed"
        if installed != requirement.version:
            wrong.append(f"{requirement} ({installed})")
    if wrong:
        raise RepackError(f"pinned versions are not installed here: {', '.join(wrong)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    return [repack(requirement, out_dir, epoch) for requirement in requirements]


def main(argv: Sequence[str] | None = None) -> int:
    from deploy.packaging.builder import DEFAULT_REQUIREMENTS

    parser = _Parser(prog="repack", description="Repack installed pinned packages as linux-x86_64 wheels.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--requirements", type=Path, default=DEFAULT_REQUIREMENTS)

    def action(args: argparse.Namespace) -> int:
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or _EPOCH_1980)
        wheels = repack_requirements(read_requirements(args.requirements, "linux-x86_64"), args.out, epoch)
        print(f"repacked {len(wheels)} installed distributions into {args.out} (development wheelhouse)")
        return EXIT_OK

    return run(parser, argv, action)


if __name__ == "__main__":
    import sys

    sys.exit(main())
