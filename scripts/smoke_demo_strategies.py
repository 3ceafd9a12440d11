#!/usr/bin/env python
"""Runbook form: python scripts/smoke_demo_strategies.py --cycles N [--data-dir D] [--report DIR]."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from execution.drills.smoke import smoke_demo_strategies_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(smoke_demo_strategies_main(sys.argv[1:]))
