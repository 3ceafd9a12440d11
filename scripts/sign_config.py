#!/usr/bin/env python3
"""sign_config: see audit/trust/cli.py (sign_config_main). Runs without Django."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.trust.cli import sign_config_main  # noqa: E402 - needs the repo root on sys.path first

if __name__ == "__main__":
    sys.exit(sign_config_main(sys.argv[1:]))
