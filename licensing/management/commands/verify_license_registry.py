from audit.management.passthrough import PassthroughCommand
from licensing.core.cli import verify_license_registry_main


class Command(PassthroughCommand):
    help = "Verify the license registry's chain, signatures and policy."
    main = staticmethod(verify_license_registry_main)
