"""Set up this installation's trust root once, with the administrator password, and pin it in the database."""

from django.core.management.base import BaseCommand, CommandError

from audit.management.admin_password import read_admin_password
from audit.trust.installation import InstallationError
from audit.trust.keyring import KeyRingError


class Command(BaseCommand):
    help = "Create the installation trust root (once; never re-created) and pin its fingerprint."

    def add_arguments(self, parser):
        parser.add_argument(
            "--admin-password-file", help="file whose first line is the administrator password"
        )
        parser.add_argument(
            "--pin-existing",
            action="store_true",
            help="pin an installation set up with the pure CLI (proves the password, creates nothing)",
        )

    def handle(self, *args, **options):
        from audit.trustdb.services import installation_init, installation_pin_existing

        password = read_admin_password(options["admin_password_file"])
        try:
            if options["pin_existing"]:
                installation = installation_pin_existing(admin_password=password)
            else:
                installation = installation_init(admin_password=password)
        except (InstallationError, KeyRingError, OSError) as exc:
            raise CommandError(" ".join(str(exc).split())) from None
        self.stdout.write(f"installation_id: {installation.installation_id}")
        self.stdout.write(f"deployment_id: {installation.deployment_id}")
        self.stdout.write(f"root_fingerprint: {installation.root_fingerprint}")
