#!/usr/bin/env python
"""Runbook form: python scripts/generate_mtls_bundle.py --out DIR [--operators a,b] [--days 90]."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from execution.mtls.bundle import generate_mtls_bundle_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(generate_mtls_bundle_main(sys.argv[1:]))
