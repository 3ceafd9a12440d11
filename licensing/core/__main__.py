"""`python -m licensing.core <command> [args]`: the licensing CLIs, without Django (see cli.py)."""

from __future__ import annotations

import sys

from licensing.core import cli

COMMANDS = {
    "fingerprint": cli.fingerprint_main,
    "license_request": cli.license_request_main,
    "oem_provision_license": cli.oem_provision_license_main,
    "activate_license": cli.activate_license_main,
    "revoke_license": cli.revoke_license_main,
    "verify_license_registry": cli.verify_license_registry_main,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"error: usage: python -m licensing.core {{{','.join(COMMANDS)}}} [args]", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
