from audit.management.passthrough import PassthroughCommand
from licensing.core.cli import license_request_main


class Command(PassthroughCommand):
    help = "Write this machine's license request (file / QR)."
    main = staticmethod(license_request_main)
