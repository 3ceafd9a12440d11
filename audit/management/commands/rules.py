"""Print who may do what: every rule the services enforce, one line each."""

from django.core.management.base import BaseCommand

from audit.authorization import all_rules


class Command(BaseCommand):
    help = "List every state-changing action and who may do it (the rules the services check first)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args, **options):
        import json

        for entry in all_rules():
            where = f"{entry.check.__module__}.{entry.check.__name__}"
            if options["json"]:
                line = json.dumps({"action": entry.action, "who": entry.who, "rule": where}, sort_keys=True)
            else:
                line = f"{entry.action:<32} {entry.who}  [{where}]"
            self.stdout.write(line)
