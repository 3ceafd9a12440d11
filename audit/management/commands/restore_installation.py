from django.core.management.base import BaseCommand, CommandError

from audit.services.backup import installation_restore
from audit.trust.backup import BackupError
from audit.trust.installation import InstallationError
from audit.trust.witness import WitnessError


class Command(BaseCommand):
    help = (
        "Restore an installation from a backup_installation file. Everything is verified (root signature, "
        "installation, SHA-384 of every file) before anything is written; the witnesses are reset to the "
        "backup's marks and the restore is recorded in the audit trail (docs/backup.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="the backup file")
        parser.add_argument(
            "--allow-other-installation",
            action="store_true",
            help="restore a backup of another installation (this machine's pins are replaced)",
        )
        parser.add_argument("--actor", default="", help="who restores (recorded in the audit trail)")

    def handle(self, *args, **options):
        try:
            result = installation_restore(
                archive=options["archive"],
                allow_other_installation=options["allow_other_installation"],
                actor=options["actor"],
            )
        except (BackupError, InstallationError, WitnessError, OSError) as exc:
            raise CommandError(" ".join(str(exc).split())) from None
        self.stdout.write(
            f"restored installation {result.index.installation_id} from {options['archive']}: "
            f"{len(result.files)} files and the database; replaced files kept in {result.aside}; "
            f"{len(result.witness_reset)} witness marks reset. Next: manage.py verify_decision_log --strict, "
            "verify_license_registry, the daemon's --check."
        )
