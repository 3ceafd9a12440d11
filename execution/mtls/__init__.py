"""mTLS for the daemon: an offline CA, certificates, CRL and the deterministic live bundle."""

from execution.mtls.bundle import (
    generate_mtls_bundle_main,
    revoke_client_cert_main,
    rotate_certs_main,
)

__all__ = ["generate_mtls_bundle_main", "revoke_client_cert_main", "rotate_certs_main"]
