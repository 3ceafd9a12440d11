"""The daemon's gRPC API over local mTLS with the operator token. No Qt: usable from tests and scripts.

Every failure becomes a ``ClientError`` with one line an operator can act on (wrong CA, revoked
certificate, expired token, missing role, a refusal with its reason). gRPC runs over HTTP/2 only; there is
no WebSocket or HTTP fallback.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from desktop_qml.profile import Profile
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc

STATE_NAMES = {
    pb.TRADING_STATE_ACTIVE: "ACTIVE",
    pb.TRADING_STATE_HALTED: "HALTED",
    pb.TRADING_STATE_REDUCING: "REDUCING",
}
STATE_VALUES = {v: k for k, v in STATE_NAMES.items()}
_CHANNEL_OPTIONS = [
    ("grpc.enable_http_proxy", 0),  # loopback only: never through a proxy
    ("grpc.enable_retries", 0),  # the session reconnects with its own backoff
    ("grpc.max_receive_message_length", 4 << 20),
]


class ClientError(Exception):
    """One-line, operator-facing failure; ``code`` is the gRPC status name ("" for local errors)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def describe_rpc_error(exc: grpc.RpcError, target: str) -> ClientError:
    code = exc.code() if callable(getattr(exc, "code", None)) else None
    details = " ".join(str(exc.details() if callable(getattr(exc, "details", None)) else exc).split())
    name = code.name if code is not None else "UNKNOWN"
    if code is grpc.StatusCode.UNAVAILABLE:
        low = details.lower()
        if "certificate_verify_failed" in low or "certificate verify failed" in low:
            msg = f"the daemon at {target} presented a certificate the profile's CA does not sign"
        elif "handshake" in low or "ssl" in low or "tls" in low:
            msg = (
                f"the daemon at {target} refused the TLS handshake: the client certificate is not from its "
                "CA or has expired"
            )
        else:
            msg = f"cannot reach the daemon at {target}: is it running?"
        return ClientError(msg, name)
    if code is grpc.StatusCode.UNAUTHENTICATED:
        return ClientError(f"the daemon refused the credentials: {details}", name)
    if code is grpc.StatusCode.PERMISSION_DENIED:
        return ClientError(f"not allowed: {details}", name)
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return ClientError(f"the daemon at {target} did not answer in time", name)
    return ClientError(f"{name}: {details}", name)


class DaemonClient:
    def __init__(self, profile: Profile, *, timeout: float = 10.0) -> None:
        self.profile = profile
        self.timeout = timeout
        creds = grpc.ssl_channel_credentials(profile.ca_pem, profile.key_pem, profile.cert_pem)
        self.channel = grpc.secure_channel(profile.target, creds, options=_CHANNEL_OPTIONS)
        self.stub = pb_grpc.OemDaemonStub(self.channel)
        self.metadata = (("authorization", f"Bearer {profile.token}"),)
        self._calls: list = []

    def _unary(self, method, request):
        try:
            return method(request, metadata=self.metadata, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise describe_rpc_error(exc, self.profile.target) from None
        except ValueError:  # grpcio's answer on a channel the session closed meanwhile (reconnecting)
            raise ClientError("not connected: the connection to the daemon is being re-established") from None

    # -- reads ----------------------------------------------------------------------------------------------
    def status(self) -> pb.StatusReply:
        return self._unary(self.stub.GetStatus, pb.GetStatusRequest())

    def checklist(self) -> pb.PreLiveChecklist:
        return self._unary(self.stub.GetPreLiveChecklist, pb.GetPreLiveChecklistRequest())

    # -- orders ---------------------------------------------------------------------------------------------
    def submit(
        self,
        *,
        client_order_id: str,
        symbol: str,
        side: str,
        qty: float,
        order_type: str = "market",
        limit_price: float = 0.0,
        stage: str = "",
    ) -> pb.OrderReply:
        request = pb.SubmitOrderRequest(
            client_order_id=client_order_id,
            symbol=symbol,
            side=side,
            qty=qty,
            order_type=order_type,
            limit_price=limit_price,
            stage=stage,
        )
        return self._unary(self.stub.SubmitOrder, request)

    def get_order(self, client_order_id: str) -> pb.OrderInfo:
        return self._unary(self.stub.GetOrder, pb.GetOrderRequest(client_order_id=client_order_id))

    def list_orders(self, *, status=(), symbol: str = "", page_size: int = 100, page_token: str = ""):
        request = pb.ListOrdersRequest(
            status=list(status), symbol=symbol, page_size=page_size, page_token=page_token
        )
        return self._unary(self.stub.ListOrders, request)

    def fill_head(self) -> int:
        """The daemon's last durable fill seq: StreamFills(since_seq=it) misses nothing from now on."""
        return self.list_orders(page_size=1).fill_seq

    def cancel(self, client_order_id: str) -> pb.OrderReply:
        return self._unary(self.stub.CancelOrder, pb.CancelOrderRequest(client_order_id=client_order_id))

    def kill_switch(self, reason: str = "") -> pb.KillSwitchReply:
        return self._unary(self.stub.KillSwitch, pb.KillSwitchRequest(reason=reason))

    def set_trading_state(self, state: str, reason: str = "") -> pb.TradingStateReply:
        if state not in STATE_VALUES:
            raise ClientError(f"trading state must be one of {', '.join(STATE_VALUES)}")
        request = pb.SetTradingStateRequest(state=STATE_VALUES[state], reason=reason)
        return self._unary(self.stub.SetTradingState, request)

    # -- strategies inside the daemon ------------------------------------------------------------------------
    def strategies(self) -> pb.ListStrategiesReply:
        return self._unary(self.stub.ListStrategies, pb.ListStrategiesRequest())

    def start_strategy(self, name: str, reason: str = "") -> pb.StrategyInfo:
        return self._unary(self.stub.StartStrategy, pb.StrategyControlRequest(name=name, reason=reason))

    def stop_strategy(self, name: str, reason: str = "") -> pb.StrategyInfo:
        return self._unary(self.stub.StopStrategy, pb.StrategyControlRequest(name=name, reason=reason))

    # -- streams --------------------------------------------------------------------------------------------
    def _stream(self, method, request) -> Iterator:
        call = method(request, metadata=self.metadata)
        self._calls.append(call)
        try:
            yield from call
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.CANCELLED:
                return
            raise describe_rpc_error(exc, self.profile.target) from None

    def fills(self, all_owners: bool = False, since_seq: int | None = None) -> Iterator[pb.Fill]:
        """Live fills; with ``since_seq`` first every durable fill after it (resume after a reconnect)."""
        request = pb.StreamFillsRequest(all_owners=all_owners)
        if since_seq is not None:
            request.since_seq = since_seq
        return self._stream(self.stub.StreamFills, request)

    def telemetry(self) -> Iterator[pb.TelemetryEvent]:
        return self._stream(self.stub.StreamTelemetry, pb.StreamTelemetryRequest())

    def close(self) -> None:
        for call in self._calls:
            call.cancel()
        self._calls.clear()
        self.channel.close()
