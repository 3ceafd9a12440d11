"""Pick, for one platform, the wheel of every pinned requirement from a local wheelhouse. Never the network.

A requirement file holds `name==version` lines (plus an optional `; sys_platform == "..."` marker). A wheel
fits a platform when its Python tag runs on the bundle's CPython (3.11: `py3`, `cp311`, or `cp3x-abi3` with
x <= 11) and its platform tag is `any` or one of the platform's tags. Anything missing is reported all at once
so the vendor fetches it in one go; the builder then refuses, it never ships a bundle without them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PYTHON = (3, 11)
_PLATFORM_TAGS = {
    "linux-x86_64": re.compile(r"^(manylinux[0-9_]*_x86_64|manylinux1_x86_64|linux_x86_64)\Z"),
    "windows-x86_64": re.compile(r"^win_amd64\Z"),
    "macos-arm64": re.compile(r"^macosx_[0-9]+_[0-9]+_(arm64|universal2)\Z"),
}
_SYS_PLATFORM = {"linux-x86_64": "linux", "windows-x86_64": "win32", "macos-arm64": "darwin"}
_LINE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!-]*)"
    r"(\s*;\s*sys_platform\s*==\s*\"(?P<sys>linux|win32|darwin)\")?$"
)


class WheelhouseError(ValueError):
    """A requirement line is malformed or wheels are missing. One line."""


@dataclass(frozen=True)
class Requirement:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def read_requirements(path: Path, platform: str) -> list[Requirement]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WheelhouseError(f"cannot read requirements {path}: {exc.strerror}") from None
    found: list[Requirement] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if not match:
            raise WheelhouseError(f"{path.name}:{number}: expected name==version, got {line[:80]!r}")
        if match["sys"] and match["sys"] != _SYS_PLATFORM[platform]:
            continue
        found.append(Requirement(match["name"], match["version"]))
    return found


def _python_fits(python_tags: str, abi_tags: str) -> bool:
    for tag in python_tags.split("."):
        if tag in ("py3", f"py3{PYTHON[1]}", f"cp3{PYTHON[1]}"):
            return True
        minor = re.fullmatch(r"cp3([0-9]+)", tag)
        if minor and "abi3" in abi_tags.split(".") and int(minor[1]) <= PYTHON[1]:
            return True
    return False


def wheel_fits(filename: str, platform: str) -> tuple[str, str] | None:
    """(normalised name, version) when `filename` is a wheel usable on `platform`, else None."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        return None
    name, version, python_tags, abi_tags, platform_tags = parts[0], parts[1], *parts[-3:]
    if not _python_fits(python_tags, abi_tags):
        return None
    if not any(t == "any" or _PLATFORM_TAGS[platform].match(t) for t in platform_tags.split(".")):
        return None
    return normalise(name), version


def select_wheels(requirements: list[Requirement], wheelhouse: Path, platform: str) -> list[Path]:
    """One wheel per requirement (the first by file name when several fit), or WheelhouseError naming all
    the missing ones."""
    available: dict[tuple[str, str], list[Path]] = {}
    if wheelhouse.is_dir():
        for path in sorted(wheelhouse.iterdir()):
            fits = wheel_fits(path.name, platform) if path.is_file() else None
            if fits:
                available.setdefault(fits, []).append(path)
    chosen, missing = [], []
    for requirement in requirements:
        candidates = available.get((normalise(requirement.name), requirement.version))
        if candidates:
            chosen.append(candidates[0])
        else:
            missing.append(str(requirement))
    if missing:
        raise WheelhouseError(
            f"wheelhouse {wheelhouse} lacks {len(missing)} wheel(s) for {platform}: {', '.join(missing)} "
            f"(fetch them on a connected machine: make wheelhouse PLATFORM={platform})"
        )
    return chosen
