#!/usr/bin/env python3
"""init_installation: see audit/trust/cli.py (init_installation_main). Runs without Django."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.trust.cli import init_installation_main  # noqa: E402 - needs the repo root on sys.path first

if __name__ == "__main__":
    sys.exit(init_installation_main(sys.argv[1:]))
