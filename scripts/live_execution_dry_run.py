#!/usr/bin/env python
"""Runbook form:

python scripts/live_execution_dry_run.py [--orders N] [--fault-rate F] [--seed S] [--out DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from execution.drills.dry_run import live_execution_dry_run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(live_execution_dry_run_main(sys.argv[1:]))
