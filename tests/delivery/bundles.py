"""A real bundle built offline for the delivery tests, with the packaging tests' offline wheelhouse."""

from __future__ import annotations

from pathlib import Path

from deploy.packaging.builder import BuildOptions, build_bundle
from tests.deploy.packaging.helpers import make_wheelhouse

PLATFORM = "linux-x86_64"


def build(out: Path, *, packages: bool = False, platform: str = PLATFORM):
    wheelhouse = make_wheelhouse(out.parent / f"{out.name}-inputs")
    return build_bundle(
        BuildOptions(
            platform=platform,
            out_dir=out,
            wheelhouse=wheelhouse.path,
            requirements=wheelhouse.requirements,
            packages=packages,
        )
    )
