#!/usr/bin/env python
"""Runbook form:

python scripts/run_metrics_service.py --shutdown-after SECONDS --jsonl FILE [--port N] [--data-dir D]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from execution.drills.metrics_service import run_metrics_service_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_metrics_service_main(sys.argv[1:]))
