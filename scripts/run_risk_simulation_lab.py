"""Runbook form of ``manage.py run_risk_simulation_lab``: works from a checkout without Django."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from risklab.engine.cli import run_risk_simulation_lab_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_risk_simulation_lab_main(sys.argv[1:]))
