import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from audit.services.backup import installation_backup
from audit.trust.backup import BackupError
from audit.trust.fsutil import MAX_KEY_FILE, read_regular_text
from audit.trust.installation import InstallationError
from audit.trust.witness import WitnessError


class Command(BaseCommand):
    help = (
        "Write a signed offline backup of this installation: licenses, activation, high-water mark, key "
        "ring, decision logs + checkpoints, audit artefacts, registry, certificates and the database "
        "(docs/backup.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="the backup file to write (outside the data dir)")
        parser.add_argument(
            "--password-file", default=None, help="administrator password (else prompt/stdin)"
        )
        parser.add_argument("--actor", default="", help="who makes the backup (recorded in the audit trail)")

    def handle(self, *args, **options):
        if options["password_file"]:
            try:
                password = read_regular_text(
                    options["password_file"], max_bytes=MAX_KEY_FILE, what="--password-file"
                )
            except OSError as exc:
                raise CommandError(str(exc)) from None
            password = password.split("\n", 1)[0]
        elif sys.stdin.isatty():
            password = getpass.getpass("administrator password: ")
        else:
            password = sys.stdin.readline().rstrip("\n")
        try:
            index = installation_backup(out=options["out"], admin_password=password, actor=options["actor"])
        except (BackupError, InstallationError, WitnessError, OSError) as exc:
            raise CommandError(" ".join(str(exc).split())) from None
        self.stdout.write(
            f"backup of installation {index.installation_id} written to {options['out']}: "
            f"{len(index.body['files'])} files, {len(index.witness)} witness marks"
        )
