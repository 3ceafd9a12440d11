from audit.management.passthrough import PassthroughCommand
from audit.trust.cli import keys_main


class Command(PassthroughCommand):
    help = "List, rotate or retire keys of the key ring."
    main = staticmethod(keys_main)
