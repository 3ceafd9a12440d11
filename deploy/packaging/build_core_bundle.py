"""`python deploy/packaging/build_core_bundle.py --platform P --out DIR [--dry-run]`: build a signed bundle.

Same code as `manage.py build_core_bundle`. Exit 0 built (last line: `fingerprint sha384:<hex>`), 1 refused
(one line, nothing written), 2 bad arguments.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from deploy.packaging.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
