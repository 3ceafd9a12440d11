"""`python -m deploy.packaging.bootstrap verify|install ...` (see cli.py)."""

import sys

from deploy.packaging.bootstrap.cli import main

sys.exit(main())
