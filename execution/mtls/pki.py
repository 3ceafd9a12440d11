"""An offline certificate authority for the daemon's mTLS: CA, server and client certificates, CRL.

ECDSA P-256 everywhere (grpc's BoringSSL accepts it for TLS 1.3 on every platform we ship; Ed25519 client
certificates are not accepted by every gRPC build). Every function takes ``now`` so tests can mint expired
or not-yet-valid certificates; nothing here touches the network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")
ORGANISATION = "Core OEM"


class PkiError(ValueError):
    """A certificate or CRL is unusable. One-line message."""


@dataclass(frozen=True)
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


def _name(common_name: str, unit: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def create_ca(*, days: int, now: datetime | None = None, name: str = "Core OEM offline CA") -> Issued:
    now = now or utc_now()
    key = _new_key()
    subject = _name(name, "ca")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def _leaf(
    ca: Issued,
    common_name: str,
    unit: str,
    usage: x509.ObjectIdentifier,
    *,
    days: int,
    now: datetime | None,
    not_before: datetime | None = None,
    san: x509.SubjectAlternativeName | None = None,
) -> Issued:
    now = now or utc_now()
    key = _new_key()
    start = not_before or (now - timedelta(minutes=5))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, unit))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.cert.public_key()), critical=False
        )
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def issue_server_cert(ca: Issued, *, days: int, now: datetime | None = None) -> Issued:
    san = x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in SERVER_NAMES]
        + [x509.IPAddress(ipaddress.ip_address(i)) for i in SERVER_IPS]
    )
    return _leaf(ca, "localhost", "daemon", ExtendedKeyUsageOID.SERVER_AUTH, days=days, now=now, san=san)


def issue_client_cert(
    ca: Issued, operator: str, *, days: int, now: datetime | None = None, not_before: datetime | None = None
) -> Issued:
    if not operator or not operator.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise PkiError(f"invalid operator name {operator!r} (letters, digits, . _ -)")
    return _leaf(
        ca, operator, "operator", ExtendedKeyUsageOID.CLIENT_AUTH, days=days, now=now, not_before=not_before
    )


def build_crl(
    ca: Issued, revoked: dict[int, datetime], *, days: int = 30, now: datetime | None = None
) -> x509.CertificateRevocationList:
    """A CA-signed CRL listing ``revoked`` (serial -> revocation time), valid ``days`` from ``now``."""
    now = now or utc_now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=days))
    )
    for serial, when in sorted(revoked.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca.key, hashes.SHA256())


def load_cert(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise PkiError(f"not a PEM certificate: {exc}") from None


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError("expected an ECDSA private key")
    return key


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the certificate's DER: the value RBAC tokens are bound to (claim ``cnf``)."""
    return cert.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class VerifiedCrl:
    revoked: frozenset[int]
    last_update: datetime
    next_update: datetime


def verify_crl(crl_pem: bytes, ca_cert: x509.Certificate, *, now: datetime | None = None) -> VerifiedCrl:
    """Parse and check a CRL: issued by the CA, signature valid, not past nextUpdate. Raises PkiError."""
    now = now or utc_now()
    try:
        crl = x509.load_pem_x509_crl(crl_pem)
    except ValueError as exc:
        raise PkiError(f"CRL is not PEM: {exc}") from None
    if crl.issuer != ca_cert.subject:
        raise PkiError("CRL issuer is not the CA")
    public_key = ca_cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(public_key):
        raise PkiError("CRL signature does not verify with the CA key")
    next_update = crl.next_update_utc
    if next_update is None:
        raise PkiError("CRL has no nextUpdate")
    if now >= next_update:
        raise PkiError(f"CRL is stale: nextUpdate {next_update.isoformat()} has passed")
    if now < crl.last_update_utc - timedelta(minutes=5):
        raise PkiError("CRL lastUpdate is in the future")
    return VerifiedCrl(frozenset(r.serial_number for r in crl), crl.last_update_utc, next_update)
