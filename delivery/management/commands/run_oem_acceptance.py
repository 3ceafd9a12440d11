from audit.management.passthrough import PassthroughCommand
from delivery.acceptance.cli import run_oem_acceptance_main


class Command(PassthroughCommand):
    help = "OEM acceptance of a bundle (bundle, license, Paper Labs, mTLS); writes the JSON report."
    main = staticmethod(run_oem_acceptance_main)
