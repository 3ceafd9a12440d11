"""What every pure command line shares: one-line usage errors, one-line failures, the exit codes.

0 ok, 1 refused or failed, 2 bad arguments. argparse's default (the whole usage block, then exit) is replaced
so that a runbook or a CI log shows exactly one line saying why."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line instead of printing usage and exiting."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {' '.join(message.split())}")


def fail(message: object, code: int = EXIT_FAIL) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> tuple[Any, int | None]:
    """(args, None), or (None, exit code) after a one-line usage error or --help."""
    try:
        return parser.parse_args(list(argv) if argv is not None else None), None
    except UsageError as exc:
        return None, fail(str(exc), EXIT_USAGE)
    except SystemExit as exc:  # --help
        return None, int(exc.code or 0)


def run(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    action: Callable[[Any], int],
    expected: tuple[type[BaseException], ...] = (ValueError, OSError),
) -> int:
    """Parse, run `action(args)`; expected errors become one line and EXIT_FAIL (usage errors EXIT_USAGE)."""
    args, code = parse(parser, argv)
    if code is not None:
        return code
    try:
        return action(args)
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    except expected as exc:
        return fail(str(exc) or type(exc).__name__)
