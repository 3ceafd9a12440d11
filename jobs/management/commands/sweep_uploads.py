"""Remove uploaded files that no record refers to (older than OEM_ORPHAN_UPLOAD_GRACE_SECONDS)."""

from django.core.management.base import BaseCommand

from jobs.services import upload_sweep


class Command(BaseCommand):
    help = "Remove orphaned uploads (files no attachment or job refers to) past the grace period."

    def handle(self, *args, **options):
        result = upload_sweep()
        evidence, jobs = result["evidence_uploads"], result["job_uploads"]
        self.stdout.write(f"removed {evidence} evidence upload(s) and {jobs} job upload(s)")
