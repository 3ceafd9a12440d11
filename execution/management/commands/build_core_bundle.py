from audit.management.passthrough import PassthroughCommand
from deploy.packaging.cli import main as build_core_bundle_main


class Command(PassthroughCommand):
    help = "Build the signed Core OEM bundle for one platform (--platform P --out DIR [--dry-run] ...)."
    main = staticmethod(build_core_bundle_main)
