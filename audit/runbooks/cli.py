"""`render_runbooks [--check] [--out DIR]`: shared by scripts/render_runbooks.py and manage.py
render_runbooks.

Without --check: write docs/runbooks/<RUNBOOK_ID>.md from audit/runbooks/data/*.yaml, exit 0.
With --check: write nothing; exit 0 when the files match the data, else 1 with one line per drifted, missing
or extra file on stderr. Invalid data or usage: one line on stderr, exit 1 / 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from audit.runbooks.model import DATA_DIR, RunbookError
from audit.runbooks.render import DEFAULT_OUT, check, render_all
from audit.trust.cliutil import EXIT_FAIL, EXIT_OK, parse
from audit.trust.cliutil import OneLineParser as _Parser


def render_runbooks_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="render_runbooks", description="Render docs/runbooks/*.md from the runbook data.")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if anything drifted")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: docs/runbooks")
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="default: audit/runbooks/data")
    args, code = parse(parser, argv)
    if code is not None:
        return code
    try:
        if args.check:
            problems = check(args.out, args.data)
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                return EXIT_FAIL
            print(f"runbooks in sync: {args.out}")
            return EXIT_OK
        written = render_all(args.out, args.data)
    except (RunbookError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAIL
    print(f"rendered {len(written)} runbooks into {args.out}")
    return EXIT_OK
