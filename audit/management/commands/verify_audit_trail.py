from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEvent
from audit.services import audit_trail_problems


class Command(BaseCommand):
    help = "Re-check the audit trail's hash chain; exit non-zero naming every broken event."

    def handle(self, *args, **options):
        problems = audit_trail_problems()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"audit trail chain broken in {len(problems)} place(s)")
        self.stdout.write(f"audit trail intact: {AuditEvent.objects.count()} events")
