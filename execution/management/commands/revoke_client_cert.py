from audit.management.passthrough import PassthroughCommand
from execution.mtls.bundle import revoke_client_cert_main


class Command(PassthroughCommand):
    help = "Revoke an operator certificate and publish a new signed CRL."
    main = staticmethod(revoke_client_cert_main)
