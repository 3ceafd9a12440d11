"""The installation administrator's password for commands that need it: from a file, a terminal or stdin."""

import getpass
import sys

from django.core.management.base import CommandError

from audit.trust.fsutil import MAX_KEY_FILE, read_regular_text


def read_admin_password(path: str | None) -> str:
    if path:
        try:
            text = read_regular_text(path, max_bytes=MAX_KEY_FILE, what="--admin-password-file")
        except OSError as exc:
            raise CommandError(f"cannot read --admin-password-file: {exc}") from None
        return text.split("\n", 1)[0]
    if sys.stdin.isatty():
        return getpass.getpass("installation administrator password: ")
    return sys.stdin.readline().rstrip("\n")
