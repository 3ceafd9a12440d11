#!/usr/bin/env python
"""Runbook form: python scripts/run_oem_acceptance.py --bundle DIR --json OUT [--rebuild]."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from delivery.acceptance.cli import run_oem_acceptance_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_oem_acceptance_main(sys.argv[1:]))
