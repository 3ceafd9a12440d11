"""A venue over ccxt's synchronous API (Binance spot first).

Orders carry our client order id (``newClientOrderId``), so the exchange itself deduplicates and every
query/cancel is by client order id. ccxt exceptions map onto the venue outcome vocabulary:

===========================================  ==================================================
ccxt                                          venue outcome
===========================================  ==================================================
OrderNotFound                                 OrderNotFound
InvalidOrder, InsufficientFunds, BadRequest,  VenueRejected (final)
  PermissionDenied, AuthenticationError
RateLimitExceeded / DDoSProtection (429/418)  VenueUnavailable (with back-off ``retry_after``)
ExchangeNotAvailable / OnMaintenance (5xx)    submit: query by client id first (Binance documents
                                              5xx as "execution status UNKNOWN"); not found ->
                                              VenueUnavailable, found -> adopt, no answer -> VenueTimeout
RequestTimeout, other NetworkError            submit: VenueTimeout (ambiguous: maybe sent);
  (connection reset / dropped)                query/cancel: VenueUnavailable
===========================================  ==================================================
"""

from __future__ import annotations

import ccxt

from execution.core.lots import LotRule, LotRuleError
from execution.core.orders import Fill, Order, OrderStatus, OrderType
from execution.venues.base import (
    OrderNotFound,
    VenueHealth,
    VenueOrderState,
    VenueRejected,
    VenueTimeout,
    VenueUnavailable,
)

_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}
RATE_LIMIT_BACKOFF_S = 1.0


def make_binance(
    *,
    api_key: str = "",
    secret: str = "",
    timeout_ms: int = 2000,
    base_url: str | None = None,
    enable_rate_limit: bool = True,
) -> ccxt.binance:
    """A ccxt binance (spot only) client. ``base_url`` re-points EVERY REST endpoint (e.g. a local fake
    exchange at ``http://127.0.0.1:PORT``), keeping each endpoint's path, so nothing can reach the network."""
    exchange = ccxt.binance(
        {
            "apiKey": api_key,
            "secret": secret,
            "timeout": timeout_ms,
            "enableRateLimit": enable_rate_limit,
            "options": {
                "defaultType": "spot",
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
                "adjustForTimeDifference": False,
                "warnOnFetchOpenOrdersWithoutSymbol": False,
            },
        }
    )
    if base_url is not None:
        base = base_url.rstrip("/")
        api = exchange.urls["api"]
        for key, url in list(api.items()):
            if isinstance(url, str):
                path = url.split("://", 1)[-1].split("/", 1)[1] if "/" in url.split("://", 1)[-1] else ""
                api[key] = f"{base}/{path}"
    return exchange


class CcxtVenue:
    def __init__(self, exchange: ccxt.Exchange, *, name: str | None = None) -> None:
        self.exchange = exchange
        self.name = name or exchange.id
        self._markets_loaded = False
        self._since: dict[str, int] = {}
        self._lots: dict[str, LotRule] = {}

    # -- helpers -------------------------------------------------------------------------------------------
    def _load(self) -> None:
        if not self._markets_loaded:
            try:
                self.exchange.load_markets()
            except ccxt.BaseError as exc:  # OperationFailed (a 5xx -1001) is neither network nor exchange
                raise VenueUnavailable(f"{self.name}: cannot load markets ({_one_line(exc)})") from exc
            self._markets_loaded = True

    def lot_rule(self, symbol: str) -> LotRule:
        """The exchange's lot rules for ``symbol`` from its loaded markets (loaded once): the amount step,
        ``limits.amount.min`` and ``limits.cost.min``. Markets that cannot be loaded: ``VenueUnavailable``;
        an unknown symbol or unusable precision: ``VenueRejected`` (never a guessed step)."""
        rule = self._lots.get(symbol)
        if rule is not None:
            return rule
        self._load()
        market = (self.exchange.markets or {}).get(symbol)
        if market is None:
            raise VenueRejected(f"{self.name}: no market {symbol}", code="UnknownSymbol")
        precision = (market.get("precision") or {}).get("amount")
        limits = market.get("limits") or {}
        try:
            if precision is None:
                raise LotRuleError("no amount precision")
            if self.exchange.precisionMode == ccxt.TICK_SIZE:
                step = precision
            elif self.exchange.precisionMode == ccxt.DECIMAL_PLACES and float(precision).is_integer():
                step = f"1e-{int(precision)}"
            else:
                raise LotRuleError(f"amount precision {precision!r} in mode {self.exchange.precisionMode}")
            rule = LotRule.of(
                step,
                (limits.get("amount") or {}).get("min") or 0,
                (limits.get("cost") or {}).get("min"),
            )
        except LotRuleError as exc:
            raise VenueRejected(
                f"{self.name}: {symbol}: unusable lot rules ({exc})", code="LotRules"
            ) from None
        self._lots[symbol] = rule
        return rule

    def _unavailable(self, exc: Exception) -> VenueUnavailable:
        retry = RATE_LIMIT_BACKOFF_S if isinstance(exc, ccxt.DDoSProtection) else None
        code = type(exc).__name__
        return VenueUnavailable(f"{self.name}: {code}: {_one_line(exc)}", code=code, retry_after=retry)

    def _state(self, raw: dict, client_order_id: str, fills: list[Fill] | None = None) -> VenueOrderState:
        filled = float(raw.get("filled") or 0.0)
        status = _STATUS.get(raw.get("status") or "open")
        if status is None:
            status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACKED
        if fills is None:
            fills = [self._fill(t, str(raw.get("id"))) for t in raw.get("trades") or [] if t.get("id")]
        return VenueOrderState(
            venue=self.name,
            client_order_id=client_order_id,
            venue_order_id=str(raw.get("id")),
            status=status,
            filled_qty=filled,
            fills=fills,
        )

    def _fill(self, trade: dict, venue_order_id: str) -> Fill:
        fee = trade.get("fee") or {}
        ts = trade.get("timestamp")
        return Fill(
            venue=self.name,
            venue_order_id=str(trade.get("order") or venue_order_id),
            fill_id=str(trade["id"]),
            qty=float(trade["amount"]),
            price=float(trade["price"]),
            fee=float(fee.get("cost") or 0.0),
            ts=(ts / 1000.0) if ts else 0.0,
        )

    def _with_trades(self, raw: dict, client_order_id: str, symbol: str) -> VenueOrderState:
        """The order plus its fills from myTrades (fetch_order has no per-fill detail)."""
        fills: list[Fill] = []
        if float(raw.get("filled") or 0.0) > 0:
            trades = self.exchange.fetch_my_trades(symbol, params={"orderId": raw["id"]})
            fills = [self._fill(t, str(raw["id"])) for t in trades if str(t.get("order")) == str(raw["id"])]
        return self._state(raw, client_order_id, fills)

    # -- venue protocol ------------------------------------------------------------------------------------
    def submit(self, order: Order) -> VenueOrderState:
        self._load()
        price = order.limit_price if order.type is OrderType.LIMIT else None
        params = {"newClientOrderId": order.client_order_id}
        try:
            raw = self.exchange.create_order(
                order.symbol, str(order.type), str(order.side), order.qty, price, params
            )
        except ccxt.OrderNotFound as exc:  # a subclass of InvalidOrder; never expected on create
            raise VenueRejected(f"{self.name}: {_one_line(exc)}", code="OrderNotFound") from exc
        except (ccxt.InvalidOrder, ccxt.InsufficientFunds, ccxt.BadRequest, ccxt.PermissionDenied) as exc:
            raise VenueRejected(f"{self.name}: {_one_line(exc)}", code=type(exc).__name__) from exc
        except ccxt.AuthenticationError as exc:
            raise VenueRejected(f"{self.name}: {_one_line(exc)}", code="AuthenticationError") from exc
        except ccxt.DDoSProtection as exc:  # 429 / 418 and RateLimitExceeded: the request was refused
            raise self._unavailable(exc) from exc
        except (ccxt.ExchangeNotAvailable, ccxt.OnMaintenance) as exc:
            return self._query_after_unknown(order, exc)
        except ccxt.NetworkError as exc:  # RequestTimeout, connection reset/dropped: maybe sent
            raise VenueTimeout(
                f"{self.name}: {type(exc).__name__}: {_one_line(exc)}", code=type(exc).__name__
            ) from exc
        except ccxt.ExchangeError as exc:
            raise VenueRejected(f"{self.name}: {_one_line(exc)}", code=type(exc).__name__) from exc
        except ccxt.OperationFailed as exc:  # e.g. Binance -1001 "Internal error": outcome unknown
            return self._query_after_unknown(order, exc)
        except ccxt.BaseError as exc:  # anything unforeseen: assume it may have been placed
            raise VenueTimeout(
                f"{self.name}: {type(exc).__name__}: {_one_line(exc)}", code=type(exc).__name__
            ) from exc
        return self._state(raw, order.client_order_id)

    def _query_after_unknown(self, order: Order, exc: Exception) -> VenueOrderState:
        """5xx / internal error on submit: Binance documents the execution status as UNKNOWN, so ask by
        client order id before calling it "not sent". No answer -> ambiguous (VenueTimeout)."""
        try:
            return self.query_order(order.client_order_id, order.symbol)
        except OrderNotFound:
            raise self._unavailable(exc) from exc
        except VenueUnavailable as query_exc:
            raise VenueTimeout(f"{self.name}: {_one_line(exc)}; status unknown ({query_exc})") from exc

    def query_order(self, client_order_id: str, symbol: str) -> VenueOrderState:
        self._load()
        try:
            raw = self.exchange.fetch_order(None, symbol, params={"origClientOrderId": client_order_id})
            return self._with_trades(raw, client_order_id, symbol)
        except ccxt.OrderNotFound as exc:
            raise OrderNotFound(f"{self.name}: no order {client_order_id}", code="OrderNotFound") from exc
        except ccxt.BaseError as exc:
            raise self._unavailable(exc) from exc

    def cancel(self, client_order_id: str, symbol: str) -> VenueOrderState:
        self._load()
        try:
            self.exchange.cancel_order(None, symbol, params={"origClientOrderId": client_order_id})
        except ccxt.OrderNotFound:
            pass  # already finished or never there: the query below tells which
        except ccxt.BaseError as exc:
            raise self._unavailable(exc) from exc
        return self.query_order(client_order_id, symbol)

    def poll_fills(self) -> list[Fill]:
        """Trades since the last poll for the symbols this venue has seen orders in (myTrades)."""
        out: list[Fill] = []
        for symbol, since in list(self._since.items()):
            try:
                trades = self.exchange.fetch_my_trades(symbol, since=since)
            except ccxt.BaseError as exc:
                raise self._unavailable(exc) from exc
            for trade in trades:
                out.append(self._fill(trade, str(trade.get("order"))))
                self._since[symbol] = max(self._since[symbol], int(trade.get("timestamp") or 0) + 1)
        return out

    def watch_symbol(self, symbol: str, since_ms: int = 0) -> None:
        self._since.setdefault(symbol, since_ms)

    def health(self) -> VenueHealth:
        try:
            self.exchange.fetch_time()
        except ccxt.BaseError as exc:
            return VenueHealth(self.name, False, f"{type(exc).__name__}: {_one_line(exc)}")
        return VenueHealth(self.name, True, "ok")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
