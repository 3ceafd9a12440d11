from audit.management.passthrough import PassthroughCommand
from audit.trust.cli import installation_main


class Command(PassthroughCommand):
    help = "Show this installation's id, own deployment id and root fingerprint (checked against its pins)."
    main = staticmethod(installation_main)
