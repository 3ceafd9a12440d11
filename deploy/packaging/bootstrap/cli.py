"""`bootstrap verify BUNDLE_DIR` and `bootstrap install BUNDLE_DIR --prefix DIR`.

Exit 0 done, 1 refused (one line on stderr, nothing installed), 2 bad arguments, 3 no valid license for this
device (a license request was written; the line says what to do next).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from audit.trust import paths
from audit.trust.cliutil import EXIT_OK, fail, run
from audit.trust.cliutil import OneLineParser as _Parser
from deploy.packaging.bootstrap.install import LicenseNeeded, install_bundle
from deploy.packaging.bootstrap.verify import installation_keyring, verify_bundle

EXIT_LICENSE_NEEDED = 3


def _verify(args: argparse.Namespace) -> int:
    verified = verify_bundle(args.bundle, keyring=installation_keyring(paths.data_dir()))
    files = len(verified.manifest["files"])
    print(
        f"bundle verified: core-oem {verified.version} for {verified.platform}, commit {verified.commit}, "
        f"{files} files, manifest signed by {verified.signed_by}"
    )
    for line in verified.config_checks:
        print(f"  {line}")
    print(f"fingerprint {verified.fingerprint}")
    return EXIT_OK


def _install(args: argparse.Namespace) -> int:
    try:
        result = install_bundle(args.bundle, args.prefix, venv=args.venv)
    except LicenseNeeded as exc:
        return fail(str(exc), EXIT_LICENSE_NEEDED)
    if result.already_installed:
        print(f"core-oem {result.version} is already installed in {result.release_dir}; nothing changed")
    else:
        where = f"{result.release_dir} (current -> releases/{result.version})"
        print(f"installed core-oem {result.version} into {where}")
        print(f"  recorded in {result.record_path}")
        if result.venv_dir is not None:
            print(f"  virtual environment {result.venv_dir} holds the pinned wheels (no index was used)")
        else:
            release = result.release_dir
            print(
                f"  next: python3 -m venv VENV && VENV/bin/pip install --no-index --find-links "
                f"{release / 'wheelhouse'} -r {release / 'requirements.txt'}"
            )
    print(f"fingerprint {result.fingerprint}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="bootstrap", description="Verify a Core OEM bundle, then install it.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    verify = commands.add_parser("verify", help="verify a bundle directory; reads only")
    verify.add_argument("bundle", type=Path, metavar="BUNDLE_DIR")
    verify.set_defaults(action=_verify)
    install = commands.add_parser("install", help="verify, check license and version, install atomically")
    install.add_argument("bundle", type=Path, metavar="BUNDLE_DIR")
    install.add_argument("--prefix", type=Path, required=True, help="installation directory")
    install.add_argument(
        "--venv", action="store_true", help="also build PREFIX/venvs/<version> from the bundled wheelhouse"
    )
    install.set_defaults(action=_install)
    return run(parser, argv, lambda args: args.action(args))
