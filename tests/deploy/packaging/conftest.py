"""Fixtures for the bundle tests: an offline wheelhouse, a vendor environment, builds made once per module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.packaging.builder import BuildOptions, BuildResult, build_bundle
from tests.deploy.packaging.helpers import Wheelhouse, make_wheelhouse
from tests.trust_setup import installed

EPOCH = 1794000000  # 2026-11-06T21:20:00Z, after the development OpenPGP key was made
_ISOLATED_ENV = (
    "OEM_KEYRING_SECRET",
    "OEM_KEYRING_SECRET_FILE",
    "OEM_RELEASE_SIGNING_KEY_FILE",
    "OEM_RELEASE_SIGNING_KEY_PASSWORD_FILE",
    "OEM_RELEASE_GPG_KEY_FILE",
    "OEM_RELEASE_GPG_PASSPHRASE_FILE",
    "OEM_WHEELHOUSE",
    "OEM_LICENSE_SIGNING_KEY_FILE",
    "OEM_LICENSE_USB_DONGLE",
)


@dataclass
class Vendor:
    data_dir: Path
    wheelhouse: Wheelhouse
    root: Path

    def build(self, out: Path, platform: str = "linux-x86_64", **options) -> BuildResult:
        options.setdefault("wheelhouse", self.wheelhouse.path)
        options.setdefault("requirements", self.wheelhouse.requirements)
        return build_bundle(BuildOptions(platform=platform, out_dir=out, **options))


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Wheelhouse:
    return make_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


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
        installed(root / "var")  # the vendor's installation: the key ring that signs config is never implicit
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
