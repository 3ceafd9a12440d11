from audit.management.passthrough import PassthroughCommand
from execution.mtls.bundle import rotate_certs_main


class Command(PassthroughCommand):
    help = "Renew certificates past two thirds of their lifetime (the daemon hot-reloads them)."
    main = staticmethod(rotate_certs_main)
