"""Operator RBAC tokens: HMAC-SHA384 signed claims bound to one client certificate.

Compact form: ``base64url(canonical JSON claims) "." signature-string`` where the signature string is
``hmac-sha384:<kid>:<base64>`` by the key ring's ``token`` key over
``signing_input("oem/token/v1", claims)``. Claims::

    iss   issuer (who minted it)           aud  "oem-daemon"
    sub   operator name (owner of orders)  roles  subset of ROLES
    iat   issued at (unix seconds)         exp  expiry (unix seconds)
    jti   unique token id                  cnf  {"x5t#S256": <hex SHA-256 of the client certificate DER>}

Verification pins the algorithm and key from the key ring (never from the token text), parses strictly
(duplicate keys, non-canonical bytes, padding in base64url are all refused) and checks audience, time,
roles and the certificate binding. Every failure is a ``TokenError`` with a short ``code``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import secrets
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from audit.trust.canonical import DOMAIN_TOKEN, StrictJSONError, canonical_bytes, signing_input, strict_loads
from audit.trust.fsutil import MAX_PEM_FILE, read_regular_file
from audit.trust.keyring import KeyRing, KeyRingError
from audit.trust.signatures import SignatureError

AUDIENCE = "oem-daemon"
DEFAULT_ISSUER = "oem-admin"
ROLES = ("viewer", "operator", "trader_live", "admin")
# A role grants the roles it implies. admin does NOT imply trader_live: who may move live money is a
# separate, explicit grant.
IMPLIES = {
    "viewer": frozenset({"viewer"}),
    "operator": frozenset({"operator", "viewer"}),
    "trader_live": frozenset({"trader_live", "operator", "viewer"}),
    "admin": frozenset({"admin", "viewer"}),
}
MAX_TTL_S = 7 * 24 * 3600
CLOCK_SKEW_S = 60
_CLAIMS = frozenset({"iss", "aud", "sub", "roles", "iat", "exp", "jti", "cnf"})


class TokenError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TokenClaims:
    iss: str
    aud: str
    sub: str
    roles: tuple[str, ...]
    iat: int
    exp: int
    jti: str
    cnf: str  # hex SHA-256 of the bound client certificate
    kid: str = ""

    @property
    def effective_roles(self) -> frozenset[str]:
        out: set[str] = set()
        for role in self.roles:
            out |= IMPLIES[role]
        return frozenset(out)

    def has(self, role: str) -> bool:
        return role in self.effective_roles


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    if not text or any(
        c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text
    ):
        raise TokenError("malformed", "token body is not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed", "token body is not base64url") from None
    if _b64url(raw) != text:
        raise TokenError("malformed", "token body is not canonical base64url")
    return raw


def cert_fingerprint_der(der: bytes) -> str:
    import hashlib

    return hashlib.sha256(der).hexdigest()


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    out = tuple(sorted(set(roles)))
    unknown = [r for r in out if r not in ROLES]
    if not out or unknown:
        raise TokenError("bad_roles", f"roles must be a non-empty subset of {', '.join(ROLES)}")
    return out


def issue_token(
    *,
    keyring: KeyRing,
    subject: str,
    roles: Iterable[str],
    cert_der: bytes,
    ttl_s: int = 8 * 3600,
    issuer: str = DEFAULT_ISSUER,
    audience: str = AUDIENCE,
    now: float | None = None,
) -> str:
    """Mint a token for ``subject`` bound to the certificate ``cert_der``."""
    if not subject:
        raise TokenError("bad_subject", "subject is empty")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise TokenError("bad_ttl", f"ttl must be between 1 s and {MAX_TTL_S} s")
    iat = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "roles": list(check_roles(roles)),
        "iat": iat,
        "exp": iat + int(ttl_s),
        "jti": secrets.token_hex(16),
        "cnf": {"x5t#S256": cert_fingerprint_der(cert_der)},
    }
    signature = keyring.hmac_signer("token").sign(DOMAIN_TOKEN, claims)
    return f"{_b64url(canonical_bytes(claims))}.{signature}"


def _int(claims: dict, name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TokenError("malformed", f"claim {name} must be an integer")
    return value


def _str(claims: dict, name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise TokenError("malformed", f"claim {name} must be a non-empty string")
    return value


def verify_token(
    token: str,
    *,
    keyring: KeyRing,
    peer_cert_der: bytes,
    now: float | None = None,
    audience: str = AUDIENCE,
) -> TokenClaims:
    """Verify signature, audience, time window, roles and the certificate binding. Raises TokenError."""
    if not isinstance(token, str) or token.count(".") != 1:
        raise TokenError("malformed", "token must be <base64url claims>.<signature>")
    body_text, signature = token.split(".")
    body = _unb64url(body_text)
    try:
        claims = strict_loads(body)
    except StrictJSONError as exc:
        raise TokenError("malformed", f"token claims: {exc}") from None
    if not isinstance(claims, dict) or set(claims) != _CLAIMS:
        raise TokenError("malformed", "token claims have unexpected fields")
    try:
        if canonical_bytes(claims) != body:
            raise TokenError("malformed", "token claims are not canonical JSON")
    except StrictJSONError:
        raise TokenError("malformed", "token claims are not canonical JSON") from None
    try:
        record = keyring.verify(signature, signing_input(DOMAIN_TOKEN, claims), purpose="token")
    except (SignatureError, KeyRingError) as exc:
        raise TokenError("bad_signature", f"token signature: {exc}") from None
    aud = _str(claims, "aud")
    if not hmac.compare_digest(aud.encode(), audience.encode()):
        raise TokenError("wrong_audience", f"token audience {aud[:40]!r} is not {audience!r}")
    iat, exp = _int(claims, "iat"), _int(claims, "exp")
    moment = time.time() if now is None else now
    if exp <= iat or exp - iat > MAX_TTL_S:
        raise TokenError("malformed", "token lifetime is invalid")
    if moment >= exp:
        raise TokenError("expired", "token expired")
    if moment + CLOCK_SKEW_S < iat:
        raise TokenError("not_yet_valid", "token issued in the future")
    roles = claims.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TokenError("malformed", "claim roles must be a list of strings")
    roles_t = check_roles(roles)
    cnf = claims.get("cnf")
    if not isinstance(cnf, dict) or set(cnf) != {"x5t#S256"} or not isinstance(cnf["x5t#S256"], str):
        raise TokenError("malformed", "claim cnf must be {x5t#S256: <hex>}")
    if not hmac.compare_digest(cnf["x5t#S256"].encode(), cert_fingerprint_der(peer_cert_der).encode()):
        raise TokenError("cert_mismatch", "token is bound to another client certificate")
    return TokenClaims(
        iss=_str(claims, "iss"),
        aud=aud,
        sub=_str(claims, "sub"),
        roles=roles_t,
        iat=iat,
        exp=exp,
        jti=_str(claims, "jti"),
        cnf=cnf["x5t#S256"],
        kid=record.kid,
    )


def issue_operator_token_main(argv: Sequence[str] | None = None) -> int:
    """CLI: --subject NAME --roles a,b --cert PEM [--ttl-minutes N] [--data-dir D]; prints the token."""
    parser = argparse.ArgumentParser(prog="issue_operator_token", description="Mint an operator token.")
    parser.add_argument("--subject", required=True)
    parser.add_argument("--roles", required=True, help=f"comma-separated, among {','.join(ROLES)}")
    parser.add_argument("--cert", type=Path, required=True, help="the operator's client certificate (PEM)")
    parser.add_argument("--ttl-minutes", type=int, default=480)
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="key ring location (default OEM_DATA_DIR)"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        cert = x509.load_pem_x509_certificate(
            read_regular_file(args.cert, max_bytes=MAX_PEM_FILE, what="certificate")
        )
        cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if not cn or cn[0].value != args.subject:
            raise TokenError("bad_subject", f"--subject {args.subject} is not the certificate's CN")
        token = issue_token(
            keyring=KeyRing.load(args.data_dir),
            subject=args.subject,
            roles=[r.strip() for r in args.roles.split(",") if r.strip()],
            cert_der=cert.public_bytes(Encoding.DER),
            ttl_s=args.ttl_minutes * 60,
        )
    except (TokenError, KeyRingError, OSError, ValueError) as exc:
        print(f"issue_operator_token: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    print(token)
    return 0
