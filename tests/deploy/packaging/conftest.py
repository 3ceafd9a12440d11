"""Fixtures for the bundle tests: an offline wheelhouse, a vendor environment, builds made once per module.

The wheelhouse is built at test time with `pip wheel --no-index` from two small local pure packages, so no
test reaches a package index; the builder treats it exactly like a real platform wheelhouse.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.packaging.builder import BuildOptions, BuildResult, build_bundle

EPOCH = 1794000000  # 2026-11-06T21:20:00Z, after the development OpenPGP key was made
FIXTURE_PACKAGES = {"oemfix-alpha": "1.0.0", "oemfix-beta": "2.1.0"}
_ISOLATED_ENV = (
    "OEM_KEYRING_SECRET",
    "OEM_KEYRING_SECRET_FILE",
    "OEM_RELEASE_SIGNING_KEY_FILE",
    "OEM_RELEASE_GPG_KEY_FILE",
    "OEM_RELEASE_GPG_PASSPHRASE_FILE",
    "OEM_WHEELHOUSE",
    "OEM_LICENSE_SIGNING_KEY_FILE",
    "OEM_LICENSE_USB_DONGLE",
)


@dataclass(frozen=True)
class Wheelhouse:
    path: Path
    requirements: Path


@dataclass
class Vendor:
    data_dir: Path
    wheelhouse: Wheelhouse
    root: Path

    def build(self, out: Path, platform: str = "linux-x86_64", **options) -> BuildResult:
        options.setdefault("wheelhouse", self.wheelhouse.path)
        options.setdefault("requirements", self.wheelhouse.requirements)
        return build_bundle(BuildOptions(platform=platform, out_dir=out, **options))


def _package(src: Path, name: str, version: str) -> Path:
    module = name.replace("-", "_")
    root = src / module
    (root / module).mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    (root / module / "__init__.py").write_text(f'VERSION = "{version}"\n')
    return root


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Wheelhouse:
    base = tmp_path_factory.mktemp("wheelhouse")
    sources = [_package(base / "src", name, version) for name, version in FIXTURE_PACKAGES.items()]
    out = base / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
        + ["-w", str(out), *map(str, sources)],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    requirements = base / "requirements-core.txt"
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in FIXTURE_PACKAGES.items()))
    shutil.rmtree(base / "src")
    return Wheelhouse(out, requirements)


@pytest.fixture(scope="module")
def vendor(tmp_path_factory, wheelhouse) -> Iterator[Vendor]:
    """A vendor machine: its own data dir (the key ring signing config and .env), SOURCE_DATE_EPOCH fixed."""
    root = tmp_path_factory.mktemp("vendor")
    with pytest.MonkeyPatch.context() as mp:
        for name in _ISOLATED_ENV:
            mp.delenv(name, raising=False)
        mp.setenv("OEM_DATA_DIR", str(root / "var"))
        mp.setenv("OEM_KDF_COST", "test")
        mp.setenv("OEM_ENV", "test")
        mp.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
        yield Vendor(root / "var", wheelhouse, root)


@pytest.fixture(scope="module")
def linux_build(vendor) -> BuildResult:
    return vendor.build(vendor.root / "dist")


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every path under `root` with its bytes (files) or link target: equal snapshots = untouched tree."""
    if not root.exists():
        return {}
    state: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            state[rel] = f"-> {os.readlink(path)}"
        elif path.is_file():
            state[rel] = path.read_bytes()
        else:
            state[rel] = "dir"
    return state
