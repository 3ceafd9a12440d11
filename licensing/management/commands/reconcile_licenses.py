from django.core.management.base import BaseCommand, CommandError

from licensing.services import registry_mirror_reconcile


class Command(BaseCommand):
    help = (
        "Make the console's licenses (rows, issued files, CRL) mirror the signed registry, the truth: "
        "imports licenses issued on the command line or left behind by a failed database write."
    )

    def handle(self, *args, **options):
        report = registry_mirror_reconcile()
        if report.problems:
            raise CommandError(f"{report.summary()}")
        self.stdout.write(f"license registry reconciled: {report.summary()}")
