"""Per-RPC transport and identity checks, and hot-reloadable server certificates.

``AuthInterceptor`` wraps every handler (the daemon API, health, reflection) and, before the handler runs:

1. refuses (UNAUTHENTICATED) unless the auth context's ``ssl_tls_version`` is ``TLSv1.3`` - grpcio has no
   minimum-version switch, and BoringSSL does negotiate TLS 1.2 with a capped client (measured: the key
   reads ``b"TLSv1.2"`` then), so this check is what enforces TLS 1.3;
2. loads the peer certificate (``x509_pem_cert``) and refuses a serial listed in the CA-signed CRL; a CRL
   that is missing, badly signed or past nextUpdate refuses everyone (fail closed);
3. for the daemon API, verifies the ``authorization: Bearer <token>`` metadata (``execution.tokens``) bound
   to that certificate and checks the method's required role (PERMISSION_DENIED when missing).

Every allow and deny is appended to the access log. Handshake failures (no client certificate, a foreign
CA, an expired certificate) never reach an RPC: BoringSSL refuses them during the handshake.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from audit.trust.fsutil import MAX_PEM_FILE, read_regular_file
from audit.trust.keyring import KeyRing
from execution.daemon.access import AccessLog
from execution.mtls.pki import PkiError, verify_crl
from execution.strategy.context import STRATEGY_OWNER
from execution.tokens import TokenClaims, TokenError, verify_token

SERVICE = "/oem.daemon.v1.OemDaemon/"
REQUIRED_TLS_VERSION = b"TLSv1.3"
ROLE_BY_METHOD = {
    "Echo": "viewer",
    "GetStatus": "viewer",
    "GetPreLiveChecklist": "viewer",
    "StreamFills": "viewer",
    "StreamTelemetry": "viewer",
    "SubmitOrder": "operator",  # trader_live when the order is for the live stage
    "CancelOrder": "operator",
    "GetOrder": "viewer",  # own orders; admins any (checked in the handler)
    "ListOrders": "viewer",
    "SetTradingState": "admin",
    "KillSwitch": "admin",
    # the report moves the pre-live checklist's "UI guard healthy" row: the trading operator's client, not
    # any read-only viewer, may send it
    "ReportUiTelemetry": "operator",
    "ListStrategies": "viewer",
    "StartStrategy": "operator",  # trader_live when the strategy's stage is live
    "StopStrategy": "operator",
}
TRANSPORT_ONLY_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    jti: str
    cert_fingerprint: str
    claims: TokenClaims | None = None


CURRENT_PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "oem_principal", default=None
)


def current_principal() -> Principal:
    principal = CURRENT_PRINCIPAL.get()
    if principal is None:  # pragma: no cover - the interceptor always sets it for API methods
        raise RuntimeError("no authenticated principal")
    return principal


class KeyRingSource:
    """The key ring, re-loaded (and re-verified) when keyring.json changes: rotated or newly created token
    and signer keys are picked up without a restart. A ring that fails to load keeps the last good one."""

    def __init__(self, keyring: KeyRing) -> None:
        self._ring = keyring
        self._lock = threading.Lock()
        self._stamp = self._stamp_now()

    def _stamp_now(self) -> tuple | None:
        try:
            st = self._ring.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def get(self) -> KeyRing:
        stamp = self._stamp_now()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        self._ring = KeyRing.load(self._ring.data_dir)
                        self._stamp = stamp
                    except Exception:  # noqa: BLE001,S110 - keep the last verified ring
                        pass
        return self._ring


class Denied(Exception):
    def __init__(self, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class CrlState:
    """The CA-signed CRL, re-read when the file changes; every check also re-tests nextUpdate."""

    def __init__(self, crl_path: Path, ca_path: Path) -> None:
        self.crl_path = Path(crl_path)
        self.ca_path = Path(ca_path)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._revoked: frozenset[int] = frozenset()
        self._next_update: datetime | None = None
        self._error: str | None = "CRL not loaded"

    def _reload(self) -> None:
        try:
            st_crl, st_ca = self.crl_path.stat(), self.ca_path.stat()
            stamp = (st_crl.st_mtime_ns, st_crl.st_size, st_crl.st_ino, st_ca.st_mtime_ns, st_ca.st_size)
        except OSError as exc:
            self._stamp, self._error = None, f"CRL unavailable: {exc.strerror}"
            return
        if stamp == self._stamp:
            return
        try:
            ca = x509.load_pem_x509_certificate(
                read_regular_file(self.ca_path, max_bytes=MAX_PEM_FILE, what="CA")
            )
            crl = read_regular_file(self.crl_path, max_bytes=MAX_PEM_FILE, what="CRL")
            verified = verify_crl(crl, ca, now=datetime.now(UTC))
            self._revoked, self._next_update, self._error = verified.revoked, verified.next_update, None
        except (PkiError, ValueError, OSError) as exc:
            self._error = f"CRL rejected: {exc}"
        self._stamp = stamp

    def check(self, serial: int, now: datetime | None = None) -> str | None:
        """None when the serial may connect; otherwise the reason (revoked, or the CRL is unusable)."""
        with self._lock:
            self._reload()
            if self._error:
                return self._error
            if (now or datetime.now(UTC)) >= self._next_update:
                return f"CRL is stale (nextUpdate {self._next_update.isoformat()} has passed)"
            if serial in self._revoked:
                return f"certificate serial {serial} is revoked"
            return None

    @property
    def next_update(self) -> datetime | None:
        with self._lock:
            self._reload()
            return self._next_update


@dataclass(frozen=True)
class _Peer:
    serial: int
    der: bytes
    fingerprint: str
    common_name: str


class AuthInterceptor(grpc.ServerInterceptor):
    def __init__(
        self,
        *,
        keyring: KeyRingSource,
        crl: CrlState,
        access_log: AccessLog,
        live_role_for: Callable[[str, object], bool],
        on_decision: Callable[[str, str], None] | None = None,
        deferred: frozenset[str] = frozenset(),
    ) -> None:
        self.keyring = keyring
        # methods whose allow line is made durable by the order journal's group commit (``access``): still
        # written before the handler runs, on disk before the handler's first journal record is and before
        # the reply either way
        self.deferred = deferred
        self.crl = crl
        self.access_log = access_log
        self.live_role_for = live_role_for  # (method name, request) -> True when trader_live is required
        self.on_decision = on_decision or (lambda decision, reason: None)
        self._peers: dict[bytes, _Peer] = {}
        self._tokens: dict[tuple[str, str], TokenClaims] = {}
        self._wrapped: dict[str, tuple] = {}  # method -> (its handler, that handler behind this check)
        self._cache_lock = threading.Lock()

    # -- checks --------------------------------------------------------------------------------------------
    def _peer(self, auth: dict) -> _Peer:
        pem = (auth.get("x509_pem_cert") or [b""])[0]
        if not pem:
            raise Denied(grpc.StatusCode.UNAUTHENTICATED, "no_client_cert", "no client certificate")
        with self._cache_lock:
            peer = self._peers.get(pem)
        if peer is None:
            cert = x509.load_pem_x509_certificate(pem)
            der = cert.public_bytes(Encoding.DER)
            import hashlib

            cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            peer = _Peer(
                cert.serial_number, der, hashlib.sha256(der).hexdigest(), str(cn[0].value) if cn else ""
            )
            with self._cache_lock:
                if len(self._peers) > 1024:
                    self._peers.clear()
                self._peers[pem] = peer
        return peer

    def _token(self, metadata, peer: _Peer) -> TokenClaims:
        header = ""
        for key, value in metadata or ():
            if key == "authorization":
                header = value if isinstance(value, str) else value.decode("ascii", "replace")
                break
        if not header.startswith("Bearer "):
            raise Denied(grpc.StatusCode.UNAUTHENTICATED, "no_token", "missing authorization: Bearer <token>")
        token = header[len("Bearer ") :].strip()
        now = time.time()
        key = (token, peer.fingerprint)
        with self._cache_lock:
            cached = self._tokens.get(key)
        if cached is not None and now < cached.exp:
            return cached
        try:
            claims = verify_token(token, keyring=self.keyring.get(), peer_cert_der=peer.der, now=now)
        except TokenError as exc:
            raise Denied(grpc.StatusCode.UNAUTHENTICATED, f"token_{exc.code}", str(exc)) from None
        with self._cache_lock:
            if len(self._tokens) > 4096:
                self._tokens.clear()
            self._tokens[key] = claims
        return claims

    def authorize(self, method: str, request, context) -> Principal | None:
        """Raises Denied, or returns the principal (None for transport-only methods)."""
        auth = context.auth_context()
        version = (auth.get("ssl_tls_version") or [b""])[0]
        if version != REQUIRED_TLS_VERSION:
            raise Denied(
                grpc.StatusCode.UNAUTHENTICATED,
                "tls_version",
                f"TLS 1.3 required, connection uses {version.decode('ascii', 'replace') or 'unknown'}",
            )
        peer = self._peer(auth)
        problem = self.crl.check(peer.serial)
        if problem:
            raise Denied(grpc.StatusCode.UNAUTHENTICATED, "crl", problem)
        if method.startswith(TRANSPORT_ONLY_PREFIXES):
            return Principal(peer.common_name, frozenset(), "", peer.fingerprint)
        if not method.startswith(SERVICE) or method[len(SERVICE) :] not in ROLE_BY_METHOD:
            raise Denied(grpc.StatusCode.PERMISSION_DENIED, "unknown_method", f"no access rule for {method}")
        claims = self._token(context.invocation_metadata(), peer)
        if claims.sub.startswith(STRATEGY_OWNER):
            raise Denied(
                grpc.StatusCode.PERMISSION_DENIED,
                "reserved_subject",
                f"subject {claims.sub!r}: {STRATEGY_OWNER}* names the daemon's strategies, not a client",
            )
        name = method[len(SERVICE) :]
        role = ROLE_BY_METHOD[name]
        if self.live_role_for(name, request):
            role = "trader_live"
        principal = Principal(claims.sub, claims.effective_roles, claims.jti, peer.fingerprint, claims)
        if not claims.has(role):
            raise Denied(
                grpc.StatusCode.PERMISSION_DENIED,
                "role",
                f"{name} requires role {role}; token grants {', '.join(claims.roles)}",
            )
        return principal

    def _check(self, method: str, request, context) -> tuple[Principal | None, int]:
        """(principal, access-log ticket still to be made durable before the reply, 0 when none)."""
        try:
            principal = self.authorize(method, request, context)
        except Denied as denied:
            self._log(method, "deny", f"{denied.reason}: {denied}", context)
            context.abort(denied.code, str(denied))
        except Exception as exc:  # noqa: BLE001 - an unexpected failure denies, never allows
            self._log(method, "deny", f"error: {exc}", context)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "authentication failed")
        defer = method in self.deferred
        ticket = self.access_log.record(
            method=method,
            decision="allow",
            reason="ok",
            subject=principal.subject if principal else "",
            peer_fingerprint=principal.cert_fingerprint if principal else "",
            jti=principal.jti if principal else "",
            defer=defer,
        )
        self.on_decision("allow", "ok")
        return principal, ticket if defer else 0

    def _log(self, method: str, decision: str, reason: str, context) -> None:
        fingerprint = subject = ""
        try:
            peer = self._peer(context.auth_context())
            fingerprint, subject = peer.fingerprint, peer.common_name
        except Exception:  # noqa: BLE001,S110 - best effort: the deny is logged either way
            pass
        self.access_log.record(
            method=method, decision=decision, reason=reason, subject=subject, peer_fingerprint=fingerprint
        )
        self.on_decision(decision, reason.split(":", 1)[0])

    # -- grpc plumbing -------------------------------------------------------------------------------------
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        # grpc asks on every call; the wrapper of a method's handler is the same each time, so it is built
        # once (per handler object: a re-registered service gets a new one).
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler):
        check = self._check
        access_log = self.access_log

        if handler.unary_unary:
            inner = handler.unary_unary

            def unary_unary(request, context):
                principal, ticket = check(method, request, context)
                token = CURRENT_PRINCIPAL.set(principal)
                try:
                    return inner(request, context)
                finally:
                    CURRENT_PRINCIPAL.reset(token)
                    if ticket:  # an answer (reply or error) never leaves before its access line is durable
                        access_log.wait_durable(ticket)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_s = handler.unary_stream

            def unary_stream(request, context):
                principal, ticket = check(method, request, context)
                access_log.wait_durable(ticket)
                token = CURRENT_PRINCIPAL.set(principal)
                try:
                    yield from inner_s(request, context)
                finally:
                    CURRENT_PRINCIPAL.reset(token)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_stream:
            inner_ss = handler.stream_stream

            def stream_stream(request_iterator, context):
                access_log.wait_durable(check(method, None, context)[1])
                yield from inner_ss(request_iterator, context)

            return grpc.stream_stream_rpc_method_handler(
                stream_stream, handler.request_deserializer, handler.response_serializer
            )
        inner_su = handler.stream_unary

        def stream_unary(request_iterator, context):
            access_log.wait_durable(check(method, None, context)[1])
            return inner_su(request_iterator, context)

        return grpc.stream_unary_rpc_method_handler(
            stream_unary, handler.request_deserializer, handler.response_serializer
        )


class ServerCertificates:
    """Hot reload: grpc asks ``fetch`` on each new handshake; a changed file set yields a new config."""

    def __init__(self, certs_dir: Path) -> None:
        self.dir = Path(certs_dir)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self.reloads = 0
        self.current_cert_pem: bytes = b""

    def _files(self) -> tuple[Path, Path, Path]:
        return self.dir / "server.key", self.dir / "server.pem", self.dir / "ca.pem"

    def _stamp_now(self) -> tuple:
        return tuple((st.st_mtime_ns, st.st_size, st.st_ino) for st in (f.stat() for f in self._files()))

    def initial(self):
        with self._lock:
            self._stamp = self._stamp_now()
            return self._config()

    def _config(self):
        key, cert, ca = (read_regular_file(f, max_bytes=MAX_PEM_FILE, what="TLS file") for f in self._files())
        from cryptography.hazmat.primitives.serialization import PublicFormat, load_pem_private_key

        parsed = x509.load_pem_x509_certificate(cert)  # refuse garbage or a half-rotated pair
        spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        if load_pem_private_key(key, None).public_key().public_bytes(
            *spki
        ) != parsed.public_key().public_bytes(*spki):
            raise ValueError("server.key does not match server.pem")
        self.current_cert_pem = cert
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def fetch(self):
        with self._lock:
            try:
                stamp = self._stamp_now()
                if stamp == self._stamp:
                    return None
                config = self._config()
            except (OSError, ValueError):
                return None  # half-written rotation: keep serving the current certificate
            self._stamp = stamp
            self.reloads += 1
            return config

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self.initial(), self.fetch, require_client_authentication=True
        )

    def server_cert(self) -> x509.Certificate:
        with self._lock:
            pem = self.current_cert_pem or read_regular_file(
                self.dir / "server.pem", max_bytes=MAX_PEM_FILE, what="TLS file"
            )
        return x509.load_pem_x509_certificate(pem)
