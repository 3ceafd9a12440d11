"""A real bundle built offline for the delivery tests: a one-wheel wheelhouse, the builder's own code."""

from __future__ import annotations

from pathlib import Path

from deploy.packaging.builder import BuildOptions, build_bundle

PLATFORM = "linux-x86_64"


def tiny_wheelhouse(root: Path) -> tuple[Path, Path]:
    """A requirements file with one pin and a wheel file for it (the builder picks wheels by name)."""
    wheelhouse = root / "wheelhouse"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    (wheelhouse / "rfc8785-0.1.4-py3-none-any.whl").write_bytes(b"wheel for the bundle tests\n")
    requirements = root / "requirements.txt"
    requirements.write_text("rfc8785==0.1.4\n")
    return wheelhouse, requirements


def build(out: Path, *, packages: bool = False, source_date_epoch: int | None = None):
    wheelhouse, requirements = tiny_wheelhouse(out.parent / f"{out.name}-inputs")
    return build_bundle(
        BuildOptions(
            platform=PLATFORM,
            out_dir=out,
            wheelhouse=wheelhouse,
            requirements=requirements,
            source_date_epoch=source_date_epoch,
            packages=packages,
        )
    )
