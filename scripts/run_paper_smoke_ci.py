#!/usr/bin/env python
"""Runbook form: python scripts/run_paper_smoke_ci.py [--render-summary-markdown] [--out DIR]."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from execution.drills.paper_smoke import run_paper_smoke_ci_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_paper_smoke_ci_main(sys.argv[1:]))
