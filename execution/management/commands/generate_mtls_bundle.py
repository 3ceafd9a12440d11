from audit.management.passthrough import PassthroughCommand
from execution.mtls.bundle import generate_mtls_bundle_main


class Command(PassthroughCommand):
    help = "Offline CA, server and operator certs, a signed CRL and live_bundle.tar.gz (prints its sha384)."
    main = staticmethod(generate_mtls_bundle_main)
