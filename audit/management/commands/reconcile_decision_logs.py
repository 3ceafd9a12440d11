from django.core.management.base import BaseCommand, CommandError

from audit.models import Deployment
from audit.services import decision_log_reconcile


class Command(BaseCommand):
    help = "Compare each deployment's decision-log mirror with the signed files; the files win."

    def add_arguments(self, parser):
        parser.add_argument("--deployment", help="name of one deployment (default: all)")

    def handle(self, *args, **options):
        deployments = Deployment.objects.all()
        if options["deployment"]:
            deployments = deployments.filter(name=options["deployment"])
            if not deployments.exists():
                raise CommandError(f"no deployment named {options['deployment']!r}")
        failed = False
        for deployment in deployments:
            findings = decision_log_reconcile(deployment=deployment)
            failed |= any(f.startswith("decision logs do not verify") for f in findings)
            for finding in findings:
                self.stdout.write(f"{deployment.name}: {finding}")
            if not findings:
                self.stdout.write(f"{deployment.name}: mirror matches the signed decision logs")
        if failed:
            raise CommandError("some decision logs do not verify")
