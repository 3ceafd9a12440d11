"""Give a console user an Ed25519 signer key, encrypted under that user's own password."""

import getpass
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from audit.services import signer_key_create
from audit.trust.keyring import KeyRingError


class Command(BaseCommand):
    help = (
        "Create a signer key for a user (roles from the user's groups; password re-entered, never in argv)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True)
        parser.add_argument("--password-file", help="file whose first line is the user's password")

    def handle(self, *args, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=options["user"])
        except User.DoesNotExist:
            raise CommandError(f"no user {options['user']!r}") from None
        if options["password_file"]:
            try:
                with open(options["password_file"], encoding="utf-8") as handle:
                    password = handle.readline().rstrip("\n")
            except OSError as exc:
                raise CommandError(f"cannot read --password-file: {exc.strerror}") from None
        elif sys.stdin.isatty():
            password = getpass.getpass(f"password of {user.username}: ")
        else:
            password = sys.stdin.readline().rstrip("\n")
        try:
            record = signer_key_create(user=user, password=password)
        except (KeyRingError, PermissionError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"created signer key {record.kid} for {user.username} (roles {', '.join(record.roles)})"
        )
