from licensing.core.cli import oem_provision_license_main

from ._mirror import MirroredPassthroughCommand


class Command(MirroredPassthroughCommand):
    help = (
        "Validate a device request, sign its license, record it in the registry (--request FILE "
        "--customer NAME --stages demo,paper --valid-days N --out FILE ...); the console then mirrors it."
    )
    main = staticmethod(oem_provision_license_main)
