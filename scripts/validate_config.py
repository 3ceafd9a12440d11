#!/usr/bin/env python3
"""validate_config: see audit/trust/cli.py (validate_config_main). Runs without Django."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.trust.cli import validate_config_main  # noqa: E402 - needs the repo root on sys.path first

if __name__ == "__main__":
    sys.exit(validate_config_main(sys.argv[1:]))
