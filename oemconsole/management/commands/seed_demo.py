import os

from django.core.management.base import BaseCommand

from oemconsole.services import DEMO_DEPLOYMENT, demo_seed


class Command(BaseCommand):
    help = "Create the demo deployment and one user per role (idempotent)."

    def handle(self, *args, **options):
        result = demo_seed(password=os.environ.get("OEM_DEMO_PASSWORD") or None)
        if result.deployment_created:
            self.stdout.write(f"created deployment {DEMO_DEPLOYMENT}")
        for username, generated in result.created_users.items():
            shown = generated if generated else "(from OEM_DEMO_PASSWORD)"
            # Printed once, at creation; never stored in clear anywhere.
            self.stdout.write(f"created user {username:<14} password {shown}")
        if result.installation_id:
            self.stdout.write(f"set up installation {result.installation_id}")
            self.stdout.write(f"installation root fingerprint {result.root_fingerprint}")
        for note in result.notes:
            self.stdout.write(note)
        for kid in result.signer_keys:
            self.stdout.write(f"created signer key {kid}")
        if result.config_signed:
            self.stdout.write("signed the core config with this installation's config key")
        if not result.created_users and not result.deployment_created:
            self.stdout.write("demo data already present; nothing changed")
