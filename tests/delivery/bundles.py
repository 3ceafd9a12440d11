"""A real bundle built offline for the delivery tests, with the packaging tests' offline wheelhouse.

The build runs on its own vendor installation (`vendor_data_dir`), never on the console's data dir: the
console's installation is pinned in its database, which a module-wide build has no access to."""

from __future__ import annotations

from pathlib import Path

from deploy.packaging.builder import BuildOptions, build_bundle
from tests.deploy.packaging.helpers import make_wheelhouse
from tests.trust_setup import installed

PLATFORM = "linux-x86_64"


def vendor_data_dir(out: Path) -> Path:
    """The vendor's data dir (its key ring's config key signs the bundle's config) for a build in `out`."""
    return out.parent / f"{out.name}-vendor"


def build(out: Path, *, packages: bool = False, platform: str = PLATFORM):
    wheelhouse = make_wheelhouse(out.parent / f"{out.name}-inputs")
    return build_bundle(
        BuildOptions(
            platform=platform,
            out_dir=out,
            wheelhouse=wheelhouse.path,
            requirements=wheelhouse.requirements,
            packages=packages,
            data_dir=installed(vendor_data_dir(out)).data_dir,
        )
    )
