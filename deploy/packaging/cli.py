"""Command line of the bundle builder (see build_core_bundle.py)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from audit.trust.cliutil import EXIT_OK, run
from audit.trust.cliutil import OneLineParser as _Parser
from deploy.packaging.bootstrap.manifest import PLATFORMS
from deploy.packaging.builder import BuildError, BuildOptions, build_bundle
from deploy.packaging.platforms import PackagingError


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="build_core_bundle", description="Build the signed Core OEM bundle for one platform."
    )
    parser.add_argument("--platform", required=True, choices=PLATFORMS)
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--dry-run", action="store_true", help="print the file list and fingerprint only")
    parser.add_argument("--bundle-version", default=None, help="MAJOR.MINOR.PATCH (default: pyproject)")
    parser.add_argument("--commit", default=None, help="40-hex commit (default: git rev-parse HEAD)")
    parser.add_argument("--wheelhouse", type=Path, default=None, help="local wheels for the platform")
    parser.add_argument("--requirements", type=Path, default=None, help="pinned name==version lines")
    parser.add_argument("--release-key", type=Path, default=None, help="vendor Ed25519 PKCS8 PEM")
    parser.add_argument("--gpg-key", type=Path, default=None, help="armored OpenPGP release secret key")
    parser.add_argument("--codesign-cert", type=Path, default=None, help="Authenticode certificate (PEM)")
    parser.add_argument("--codesign-key", type=Path, default=None, help="Authenticode private key (PEM)")
    parser.add_argument("--no-packages", action="store_true", help="bundle and tar.gz only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    def action(args: argparse.Namespace) -> int:
        result = build_bundle(
            BuildOptions(
                platform=args.platform,
                out_dir=args.out,
                dry_run=args.dry_run,
                bundle_version=args.bundle_version,
                commit=args.commit,
                wheelhouse=args.wheelhouse,
                requirements=args.requirements,
                release_key=args.release_key,
                gpg_key=args.gpg_key,
                codesign_cert=args.codesign_cert,
                codesign_key=args.codesign_key,
                packages=not args.no_packages,
            )
        )
        manifest = result.manifest
        if args.dry_run:
            for entry in manifest["files"]:
                print(f"{entry['sha384'][7:23]}  {entry['size']:>10}  {entry['path']}")
            print(f"dry run: {result.name}, {len(manifest['files'])} files, nothing written")
        else:
            for step in result.report["steps"]:
                where = f" -> {step['artefact']['path']}" if step["artefact"] else ""
                print(f"[{step['status']}] {step['name']}: {step['detail']}{where}")
            print(f"built {result.bundle_dir} (commit {manifest['commit']}, report {result.report_path})")
        print(f"fingerprint {result.fingerprint}")
        return EXIT_OK

    return run(_parser(), argv, action, expected=(BuildError, PackagingError, ValueError, OSError))
