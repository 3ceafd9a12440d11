from audit.management.passthrough import PassthroughCommand
from licensing.core.cli import fingerprint_main


class Command(PassthroughCommand):
    help = "Show this machine's signed hardware fingerprint."
    main = staticmethod(fingerprint_main)
