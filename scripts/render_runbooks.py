#!/usr/bin/env python3
"""render_runbooks: see audit/runbooks/cli.py (render_runbooks_main). Runs without Django.

python scripts/render_runbooks.py [--check] [--out DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.runbooks.cli import render_runbooks_main  # noqa: E402 - needs the repo root on sys.path first

if __name__ == "__main__":
    sys.exit(render_runbooks_main(sys.argv[1:]))
