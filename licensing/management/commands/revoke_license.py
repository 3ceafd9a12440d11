from licensing.core.cli import revoke_license_main

from ._mirror import MirroredPassthroughCommand


class Command(MirroredPassthroughCommand):
    help = "Revoke a license (--serial N --reason R) and publish a new signed CRL; the console mirrors it."
    main = staticmethod(revoke_license_main)
