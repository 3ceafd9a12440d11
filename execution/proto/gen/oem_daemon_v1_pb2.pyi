from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TradingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRADING_STATE_UNSPECIFIED: _ClassVar[TradingState]
    TRADING_STATE_ACTIVE: _ClassVar[TradingState]
    TRADING_STATE_HALTED: _ClassVar[TradingState]
    TRADING_STATE_REDUCING: _ClassVar[TradingState]
TRADING_STATE_UNSPECIFIED: TradingState
TRADING_STATE_ACTIVE: TradingState
TRADING_STATE_HALTED: TradingState
TRADING_STATE_REDUCING: TradingState

class EchoRequest(_message.Message):
    __slots__ = ("payload",)
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    def __init__(self, payload: _Optional[bytes] = ...) -> None: ...

class EchoReply(_message.Message):
    __slots__ = ("payload",)
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    def __init__(self, payload: _Optional[bytes] = ...) -> None: ...

class SubmitOrderRequest(_message.Message):
    __slots__ = ("client_order_id", "symbol", "side", "qty", "order_type", "limit_price", "stage")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    symbol: str
    side: str
    qty: float
    order_type: str
    limit_price: float
    stage: str
    def __init__(self, client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[str] = ..., qty: _Optional[float] = ..., order_type: _Optional[str] = ..., limit_price: _Optional[float] = ..., stage: _Optional[str] = ...) -> None: ...

class OrderReply(_message.Message):
    __slots__ = ("accepted", "duplicate", "client_order_id", "status", "venue", "venue_order_id", "filled_qty", "avg_price", "fees", "reason", "message", "stage")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    VENUE_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    FILLED_QTY_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    duplicate: bool
    client_order_id: str
    status: str
    venue: str
    venue_order_id: str
    filled_qty: float
    avg_price: float
    fees: float
    reason: str
    message: str
    stage: str
    def __init__(self, accepted: _Optional[bool] = ..., duplicate: _Optional[bool] = ..., client_order_id: _Optional[str] = ..., status: _Optional[str] = ..., venue: _Optional[str] = ..., venue_order_id: _Optional[str] = ..., filled_qty: _Optional[float] = ..., avg_price: _Optional[float] = ..., fees: _Optional[float] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., stage: _Optional[str] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("client_order_id",)
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    def __init__(self, client_order_id: _Optional[str] = ...) -> None: ...

class StreamFillsRequest(_message.Message):
    __slots__ = ("all_owners", "since_seq", "strategies")
    ALL_OWNERS_FIELD_NUMBER: _ClassVar[int]
    SINCE_SEQ_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    all_owners: bool
    since_seq: int
    strategies: bool
    def __init__(self, all_owners: _Optional[bool] = ..., since_seq: _Optional[int] = ..., strategies: _Optional[bool] = ...) -> None: ...

class Fill(_message.Message):
    __slots__ = ("client_order_id", "symbol", "side", "venue", "fill_id", "qty", "price", "fee", "ts", "owner", "seq")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    FILL_ID_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    symbol: str
    side: str
    venue: str
    fill_id: str
    qty: float
    price: float
    fee: float
    ts: float
    owner: str
    seq: int
    def __init__(self, client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[str] = ..., venue: _Optional[str] = ..., fill_id: _Optional[str] = ..., qty: _Optional[float] = ..., price: _Optional[float] = ..., fee: _Optional[float] = ..., ts: _Optional[float] = ..., owner: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class StreamTelemetryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TelemetryEvent(_message.Message):
    __slots__ = ("kind", "ts", "client_order_id", "venue", "data_json")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    ts: float
    client_order_id: str
    venue: str
    data_json: str
    def __init__(self, kind: _Optional[str] = ..., ts: _Optional[float] = ..., client_order_id: _Optional[str] = ..., venue: _Optional[str] = ..., data_json: _Optional[str] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GateStatus(_message.Message):
    __slots__ = ("name", "passed", "missing", "deciding_entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    DECIDING_ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    passed: bool
    missing: _containers.RepeatedScalarFieldContainer[str]
    deciding_entry: str
    def __init__(self, name: _Optional[str] = ..., passed: _Optional[bool] = ..., missing: _Optional[_Iterable[str]] = ..., deciding_entry: _Optional[str] = ...) -> None: ...

class LicenseState(_message.Message):
    __slots__ = ("valid", "summary", "reasons", "expires_at", "days_left")
    VALID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    DAYS_LEFT_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    summary: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    expires_at: str
    days_left: float
    def __init__(self, valid: _Optional[bool] = ..., summary: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., expires_at: _Optional[str] = ..., days_left: _Optional[float] = ...) -> None: ...

class VenueHealth(_message.Message):
    __slots__ = ("name", "up", "detail", "circuit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    up: bool
    detail: str
    circuit: str
    def __init__(self, name: _Optional[str] = ..., up: _Optional[bool] = ..., detail: _Optional[str] = ..., circuit: _Optional[str] = ...) -> None: ...

class CertificateState(_message.Message):
    __slots__ = ("server_subject", "server_not_after", "server_days_left", "crl_next_update", "bundle_sha384")
    SERVER_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SERVER_NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    SERVER_DAYS_LEFT_FIELD_NUMBER: _ClassVar[int]
    CRL_NEXT_UPDATE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_SHA384_FIELD_NUMBER: _ClassVar[int]
    server_subject: str
    server_not_after: str
    server_days_left: float
    crl_next_update: str
    bundle_sha384: str
    def __init__(self, server_subject: _Optional[str] = ..., server_not_after: _Optional[str] = ..., server_days_left: _Optional[float] = ..., crl_next_update: _Optional[str] = ..., bundle_sha384: _Optional[str] = ...) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("mode", "live_unlocked", "live_reasons", "gates", "license", "venues", "trading_state", "trading_state_reason", "certificate", "open_orders", "config_sha384", "peer_tls_version", "peer_subject", "peer_roles", "market_data_feed", "stale_symbols")
    MODE_FIELD_NUMBER: _ClassVar[int]
    LIVE_UNLOCKED_FIELD_NUMBER: _ClassVar[int]
    LIVE_REASONS_FIELD_NUMBER: _ClassVar[int]
    GATES_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    VENUES_FIELD_NUMBER: _ClassVar[int]
    TRADING_STATE_FIELD_NUMBER: _ClassVar[int]
    TRADING_STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    OPEN_ORDERS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_SHA384_FIELD_NUMBER: _ClassVar[int]
    PEER_TLS_VERSION_FIELD_NUMBER: _ClassVar[int]
    PEER_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PEER_ROLES_FIELD_NUMBER: _ClassVar[int]
    MARKET_DATA_FEED_FIELD_NUMBER: _ClassVar[int]
    STALE_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    mode: str
    live_unlocked: bool
    live_reasons: _containers.RepeatedScalarFieldContainer[str]
    gates: _containers.RepeatedCompositeFieldContainer[GateStatus]
    license: LicenseState
    venues: _containers.RepeatedCompositeFieldContainer[VenueHealth]
    trading_state: TradingState
    trading_state_reason: str
    certificate: CertificateState
    open_orders: int
    config_sha384: str
    peer_tls_version: str
    peer_subject: str
    peer_roles: _containers.RepeatedScalarFieldContainer[str]
    market_data_feed: str
    stale_symbols: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, mode: _Optional[str] = ..., live_unlocked: _Optional[bool] = ..., live_reasons: _Optional[_Iterable[str]] = ..., gates: _Optional[_Iterable[_Union[GateStatus, _Mapping]]] = ..., license: _Optional[_Union[LicenseState, _Mapping]] = ..., venues: _Optional[_Iterable[_Union[VenueHealth, _Mapping]]] = ..., trading_state: _Optional[_Union[TradingState, str]] = ..., trading_state_reason: _Optional[str] = ..., certificate: _Optional[_Union[CertificateState, _Mapping]] = ..., open_orders: _Optional[int] = ..., config_sha384: _Optional[str] = ..., peer_tls_version: _Optional[str] = ..., peer_subject: _Optional[str] = ..., peer_roles: _Optional[_Iterable[str]] = ..., market_data_feed: _Optional[str] = ..., stale_symbols: _Optional[_Iterable[str]] = ...) -> None: ...

class SetTradingStateRequest(_message.Message):
    __slots__ = ("state", "reason")
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    state: TradingState
    reason: str
    def __init__(self, state: _Optional[_Union[TradingState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class TradingStateReply(_message.Message):
    __slots__ = ("state", "reason")
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    state: TradingState
    reason: str
    def __init__(self, state: _Optional[_Union[TradingState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class KillSwitchRequest(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class KillSwitchReply(_message.Message):
    __slots__ = ("state", "cancelled", "failed")
    STATE_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    state: TradingState
    cancelled: int
    failed: int
    def __init__(self, state: _Optional[_Union[TradingState, str]] = ..., cancelled: _Optional[int] = ..., failed: _Optional[int] = ...) -> None: ...

class GetPreLiveChecklistRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChecklistItem(_message.Message):
    __slots__ = ("name", "ok", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    ok: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., ok: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class PreLiveChecklist(_message.Message):
    __slots__ = ("ready", "items")
    READY_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ready: bool
    items: _containers.RepeatedCompositeFieldContainer[ChecklistItem]
    def __init__(self, ready: _Optional[bool] = ..., items: _Optional[_Iterable[_Union[ChecklistItem, _Mapping]]] = ...) -> None: ...

class UiTelemetryEvent(_message.Message):
    __slots__ = ("time", "event", "metric", "value", "threshold", "window_s", "window_frames", "fps", "reduce_motion", "client_version", "client_id")
    TIME_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FRAMES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    REDUCE_MOTION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    time: str
    event: str
    metric: str
    value: float
    threshold: float
    window_s: float
    window_frames: int
    fps: float
    reduce_motion: bool
    client_version: str
    client_id: str
    def __init__(self, time: _Optional[str] = ..., event: _Optional[str] = ..., metric: _Optional[str] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., window_s: _Optional[float] = ..., window_frames: _Optional[int] = ..., fps: _Optional[float] = ..., reduce_motion: _Optional[bool] = ..., client_version: _Optional[str] = ..., client_id: _Optional[str] = ...) -> None: ...

class ReportUiTelemetryRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[UiTelemetryEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[UiTelemetryEvent, _Mapping]]] = ...) -> None: ...

class ReportUiTelemetryReply(_message.Message):
    __slots__ = ("recorded", "ui_guard_healthy", "detail")
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    UI_GUARD_HEALTHY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    recorded: int
    ui_guard_healthy: bool
    detail: str
    def __init__(self, recorded: _Optional[int] = ..., ui_guard_healthy: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("client_order_id",)
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    def __init__(self, client_order_id: _Optional[str] = ...) -> None: ...

class OrderInfo(_message.Message):
    __slots__ = ("client_order_id", "symbol", "side", "qty", "order_type", "limit_price", "stage", "status", "owner", "venue", "venue_order_id", "filled_qty", "avg_price", "fees", "reason", "created_ts", "updated_ts", "fills")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    VENUE_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    FILLED_QTY_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_TS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_TS_FIELD_NUMBER: _ClassVar[int]
    FILLS_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    symbol: str
    side: str
    qty: float
    order_type: str
    limit_price: float
    stage: str
    status: str
    owner: str
    venue: str
    venue_order_id: str
    filled_qty: float
    avg_price: float
    fees: float
    reason: str
    created_ts: float
    updated_ts: float
    fills: _containers.RepeatedCompositeFieldContainer[Fill]
    def __init__(self, client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[str] = ..., qty: _Optional[float] = ..., order_type: _Optional[str] = ..., limit_price: _Optional[float] = ..., stage: _Optional[str] = ..., status: _Optional[str] = ..., owner: _Optional[str] = ..., venue: _Optional[str] = ..., venue_order_id: _Optional[str] = ..., filled_qty: _Optional[float] = ..., avg_price: _Optional[float] = ..., fees: _Optional[float] = ..., reason: _Optional[str] = ..., created_ts: _Optional[float] = ..., updated_ts: _Optional[float] = ..., fills: _Optional[_Iterable[_Union[Fill, _Mapping]]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("status", "symbol", "since", "owner", "page_size", "page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: _containers.RepeatedScalarFieldContainer[str]
    symbol: str
    since: float
    owner: str
    page_size: int
    page_token: str
    def __init__(self, status: _Optional[_Iterable[str]] = ..., symbol: _Optional[str] = ..., since: _Optional[float] = ..., owner: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListOrdersReply(_message.Message):
    __slots__ = ("orders", "next_page_token", "fill_seq")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILL_SEQ_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[OrderInfo]
    next_page_token: str
    fill_seq: int
    def __init__(self, orders: _Optional[_Iterable[_Union[OrderInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., fill_seq: _Optional[int] = ...) -> None: ...

class StrategyPosition(_message.Message):
    __slots__ = ("symbol", "qty", "stale")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    qty: float
    stale: bool
    def __init__(self, symbol: _Optional[str] = ..., qty: _Optional[float] = ..., stale: _Optional[bool] = ...) -> None: ...

class StrategyOrder(_message.Message):
    __slots__ = ("client_order_id", "symbol", "side", "qty", "status", "filled_qty", "avg_price", "stage", "reason")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FILLED_QTY_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    symbol: str
    side: str
    qty: float
    status: str
    filled_qty: float
    avg_price: float
    stage: str
    reason: str
    def __init__(self, client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[str] = ..., qty: _Optional[float] = ..., status: _Optional[str] = ..., filled_qty: _Optional[float] = ..., avg_price: _Optional[float] = ..., stage: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class StrategyInfo(_message.Message):
    __slots__ = ("name", "strategy_class", "stage", "state", "positions", "pnl", "fees", "orders", "open_orders", "accepted", "refused", "last_refusal", "last_error", "bars", "timeframe", "risk_profile", "recent_orders")
    class RefusedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_CLASS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    PNL_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    OPEN_ORDERS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    LAST_REFUSAL_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    BARS_FIELD_NUMBER: _ClassVar[int]
    TIMEFRAME_FIELD_NUMBER: _ClassVar[int]
    RISK_PROFILE_FIELD_NUMBER: _ClassVar[int]
    RECENT_ORDERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    strategy_class: str
    stage: str
    state: str
    positions: _containers.RepeatedCompositeFieldContainer[StrategyPosition]
    pnl: float
    fees: float
    orders: int
    open_orders: int
    accepted: int
    refused: _containers.ScalarMap[str, int]
    last_refusal: str
    last_error: str
    bars: int
    timeframe: str
    risk_profile: str
    recent_orders: _containers.RepeatedCompositeFieldContainer[StrategyOrder]
    def __init__(self, name: _Optional[str] = ..., strategy_class: _Optional[str] = ..., stage: _Optional[str] = ..., state: _Optional[str] = ..., positions: _Optional[_Iterable[_Union[StrategyPosition, _Mapping]]] = ..., pnl: _Optional[float] = ..., fees: _Optional[float] = ..., orders: _Optional[int] = ..., open_orders: _Optional[int] = ..., accepted: _Optional[int] = ..., refused: _Optional[_Mapping[str, int]] = ..., last_refusal: _Optional[str] = ..., last_error: _Optional[str] = ..., bars: _Optional[int] = ..., timeframe: _Optional[str] = ..., risk_profile: _Optional[str] = ..., recent_orders: _Optional[_Iterable[_Union[StrategyOrder, _Mapping]]] = ...) -> None: ...

class ListStrategiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListStrategiesReply(_message.Message):
    __slots__ = ("strategies", "market_data_feed", "stale_symbols")
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    MARKET_DATA_FEED_FIELD_NUMBER: _ClassVar[int]
    STALE_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    strategies: _containers.RepeatedCompositeFieldContainer[StrategyInfo]
    market_data_feed: str
    stale_symbols: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, strategies: _Optional[_Iterable[_Union[StrategyInfo, _Mapping]]] = ..., market_data_feed: _Optional[str] = ..., stale_symbols: _Optional[_Iterable[str]] = ...) -> None: ...

class StrategyControlRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
