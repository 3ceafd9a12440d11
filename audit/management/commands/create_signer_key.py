"""Give a console user an Ed25519 signer key, encrypted under that user's own password."""

import getpass
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from audit.management.admin_password import read_admin_password
from audit.services import signer_key_create
from audit.trust.fsutil import MAX_KEY_FILE, read_regular_text
from audit.trust.keyring import KeyRingError


class Command(BaseCommand):
    help = (
        "Create a signer key for a user (roles from the user's groups; password re-entered, never in argv)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True)
        parser.add_argument("--password-file", help="file whose first line is the user's password")
        parser.add_argument(
            "--admin-password-file",
            help="file whose first line is the installation administrator password (certifies the key)",
        )

    def handle(self, *args, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=options["user"])
        except User.DoesNotExist:
            raise CommandError(f"no user {options['user']!r}") from None
        if options["password_file"]:
            try:
                text = read_regular_text(
                    options["password_file"], max_bytes=MAX_KEY_FILE, what="--password-file"
                )
                password = text.split("\n", 1)[0]
            except OSError as exc:
                raise CommandError(f"cannot read --password-file: {exc.strerror}") from None
        elif sys.stdin.isatty():
            password = getpass.getpass(f"password of {user.username}: ")
        else:
            password = sys.stdin.readline().rstrip("\n")
        admin_password = read_admin_password(options["admin_password_file"])
        try:
            record = signer_key_create(user=user, password=password, admin_password=admin_password)
        except (KeyRingError, PermissionError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"created signer key {record.kid} for {user.username} (roles {', '.join(record.roles)})"
        )
