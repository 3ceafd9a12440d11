from audit.management.passthrough import PassthroughCommand
from licensing.core.cli import activate_license_main


class Command(PassthroughCommand):
    help = "Verify a license against this machine and activate it (file or QR)."
    main = staticmethod(activate_license_main)
