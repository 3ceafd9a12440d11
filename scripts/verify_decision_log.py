#!/usr/bin/env python3
"""verify_decision_log: see audit/trust/cli.py (verify_decision_log_main). Runs without Django."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.trust.cli import verify_decision_log_main  # noqa: E402 - needs the repo root on sys.path first

if __name__ == "__main__":
    sys.exit(verify_decision_log_main(sys.argv[1:]))
