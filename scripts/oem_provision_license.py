#!/usr/bin/env python3
"""oem_provision_license: see licensing/core/cli.py (oem_provision_license_main). Runs without Django.

python scripts/oem_provision_license.py --request REQ.json --customer NAME --stages demo,paper --valid-days N
    --out LICENSE.json [--edition E] [--features a,b] [--max-activations N] [--qr PNG]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from licensing.core.cli import oem_provision_license_main  # noqa: E402 - needs the repo root on sys.path first

if __name__ == "__main__":
    sys.exit(oem_provision_license_main(sys.argv[1:]))
