"""Helpers other test packages may reuse to build a bundle offline (no package index is reached)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from deploy.packaging.repack import repack_requirements
from deploy.packaging.wheelhouse import Requirement

FIXTURE_PACKAGES = {"oemfix-alpha": "1.0.0", "oemfix-beta": "2.1.0"}
RFC8785_VERSION = "0.1.4"


@dataclass(frozen=True)
class Wheelhouse:
    path: Path
    requirements: Path


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


def make_wheelhouse(base: Path) -> Wheelhouse:
    """Two pure packages built with `pip wheel --no-index` into `base/wheels`, and their pinned requirements:
    the builder treats them exactly like a platform's real wheelhouse (`py3-none-any` fits every platform)."""
    sources = [_package(base / "src", name, version) for name, version in FIXTURE_PACKAGES.items()]
    out = base / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
        + ["-w", str(out), *map(str, sources)],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    # The bootstrap's one pure dependency Debian lacks, repacked from this interpreter: the launcher imports
    # it from the bundled wheelhouse, as on a customer machine.
    repack_requirements([Requirement("rfc8785", RFC8785_VERSION)], out, 0)
    requirements = base / "requirements-core.txt"
    pins = {**FIXTURE_PACKAGES, "rfc8785": RFC8785_VERSION}
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in pins.items()))
    shutil.rmtree(base / "src")
    return Wheelhouse(out, requirements)
