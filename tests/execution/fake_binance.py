"""A loopback fake of the Binance spot REST subset the ccxt venue uses.

Endpoints: GET /api/v3/ping, /api/v3/time, /api/v3/exchangeInfo, /api/v3/account, /api/v3/myTrades;
POST/GET/DELETE /api/v3/order; public GET /api/v3/klines (candles appended with ``add_candle``).
Signed requests are HMAC-SHA256 checked against ``secret``.
Market orders fill at ``price`` (``fill_fraction`` of the quantity at once; ``advance()`` fills the rest),
limit orders rest until ``advance()``. A duplicate ``newClientOrderId`` is refused with -2010 like Binance.

Faults are queued per request path+method (``inject("POST", "/api/v3/order", "timeout")``):
- ``timeout``: apply the request, then sleep past the client's timeout before answering;
- ``500`` / ``503``: answer with that status WITHOUT applying;
- ``429``: rate limited, not applied;
- ``drop``: close the connection without an answer, not applied; ``drop_after``: apply, then drop.
Binds 127.0.0.1 on a random port only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

SYMBOLS = {"ETHBTC": ("ETH", "BTC"), "LTCBTC": ("LTC", "BTC")}


def _symbol_info(sym: str, base: str, quote: str) -> dict:
    return {
        "symbol": sym,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "permissions": ["SPOT"],
        "permissionSets": [["SPOT"]],
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.00000100",
                "maxPrice": "100000.00000000",
                "tickSize": "0.00000100",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00100000",
                "maxQty": "100000.00000000",
                "stepSize": "0.00100000",
            },
            {"filterType": "NOTIONAL", "minNotional": "0.00001000", "maxNotional": "9000000.00000000"},
        ],
    }


class FakeBinance:
    def __init__(
        self,
        *,
        api_key: str = "test-key",
        secret: str = "test-secret",  # noqa: S107 - fixed credential of the loopback fake
        price: float = 0.05,
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.price = price
        self.fill_fraction = 1.0
        self.fault_sleep_s = 1.0
        self.orders: dict[str, dict] = {}  # by clientOrderId
        self.trades: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self._faults: dict[tuple[str, str], list[str]] = {}
        self._lock = threading.Lock()
        self._next_order = 1000
        self._next_trade = 5000
        self.check_signatures = True
        self.klines: dict[str, list[list]] = {}  # by exchange symbol (ETHBTC), oldest first
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeBinance:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def inject(self, method: str, path: str, *faults: str) -> None:
        with self._lock:
            self._faults.setdefault((method, path), []).extend(faults)

    def _take_fault(self, method: str, path: str) -> str:
        with self._lock:
            queue = self._faults.get((method, path))
            return queue.pop(0) if queue else ""

    def add_candle(self, symbol: str, open_ms: int, close: float, volume: float = 100.0) -> None:
        """Append a 1-minute candle for ``symbol`` (ETHBTC) whose close is ``close``."""
        with self._lock:
            self.klines.setdefault(symbol, []).append(
                [
                    open_ms,
                    f"{close:.8f}",
                    f"{close * 1.001:.8f}",
                    f"{close * 0.999:.8f}",
                    f"{close:.8f}",
                    f"{volume:.8f}",
                    open_ms + 59_999,
                    "0",
                    1,
                    "0",
                    "0",
                    "0",
                ]
            )

    def filled_qty(self, client_order_id: str) -> float:
        return float(self.orders[client_order_id]["executedQty"])

    # -- matching ------------------------------------------------------------------------------------------
    def _fill(self, order: dict, qty: float) -> dict:
        self._next_trade += 1
        trade = {
            "symbol": order["symbol"],
            "id": self._next_trade,
            "orderId": order["orderId"],
            "orderListId": -1,
            "price": f"{self.price:.8f}",
            "qty": f"{qty:.8f}",
            "quoteQty": f"{qty * self.price:.8f}",
            "commission": f"{qty * self.price * 0.001:.8f}",
            "commissionAsset": SYMBOLS[order["symbol"]][1],
            "time": int(time.time() * 1000),
            "isBuyer": order["side"] == "BUY",
            "isMaker": False,
            "isBestMatch": True,
        }
        self.trades.append(trade)
        executed = float(order["executedQty"]) + qty
        order["executedQty"] = f"{executed:.8f}"
        order["cummulativeQuoteQty"] = f"{float(order['cummulativeQuoteQty']) + qty * self.price:.8f}"
        order["status"] = "FILLED" if executed >= float(order["origQty"]) - 1e-12 else "PARTIALLY_FILLED"
        order["updateTime"] = trade["time"]
        return trade

    def advance(self) -> None:
        """Fill everything still working (next 'bar')."""
        with self._lock:
            for order in self.orders.values():
                if order["status"] in ("NEW", "PARTIALLY_FILLED"):
                    self._fill(order, float(order["origQty"]) - float(order["executedQty"]))

    def place(self, params: dict) -> tuple[int, dict]:
        with self._lock:
            cid = params.get("newClientOrderId") or f"auto{self._next_order}"
            if cid in self.orders:
                return 400, {"code": -2010, "msg": "Duplicate order sent."}
            if params.get("symbol") not in SYMBOLS:
                return 400, {"code": -1121, "msg": "Invalid symbol."}
            qty = float(params["quantity"])
            if qty * self.price > 1000:
                return 400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}
            self._next_order += 1
            now = int(time.time() * 1000)
            order = {
                "symbol": params["symbol"],
                "orderId": self._next_order,
                "orderListId": -1,
                "clientOrderId": cid,
                "transactTime": now,
                "time": now,
                "updateTime": now,
                "price": params.get("price", "0.00000000"),
                "origQty": f"{qty:.8f}",
                "executedQty": "0.00000000",
                "cummulativeQuoteQty": "0.00000000",
                "status": "NEW",
                "timeInForce": params.get("timeInForce", "GTC"),
                "type": params["type"],
                "side": params["side"],
                "workingTime": now,
                "selfTradePreventionMode": "NONE",
            }
            self.orders[cid] = order
            fills = []
            if params["type"] == "MARKET":
                trade = self._fill(order, qty * self.fill_fraction)
                fills.append(
                    {
                        "price": trade["price"],
                        "qty": trade["qty"],
                        "commission": trade["commission"],
                        "commissionAsset": trade["commissionAsset"],
                        "tradeId": trade["id"],
                    }
                )
            return 200, {**order, "fills": fills}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBinance
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return None

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _params(self) -> tuple[str, dict, str]:
        parts = urlsplit(self.path)
        query = parts.query
        if self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            query = self.rfile.read(length).decode()
        return parts.path, dict(parse_qsl(query, keep_blank_values=True)), query

    def _signed_ok(self, raw: str) -> bool:
        if not self.fake.check_signatures:
            return True
        payload, sep, signature = raw.rpartition("&signature=")
        if not sep or self.headers.get("X-MBX-APIKEY") != self.fake.api_key:
            return False
        expected = hmac.new(self.fake.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.fake
        path, params, raw = self._params()
        fake.requests.append((self.command, path))
        fault = fake._take_fault(self.command, path)
        if fault == "500":
            return self._send(500, {"code": -1001, "msg": "Internal error; unable to process your request."})
        if fault == "503":
            return self._send_raw(503, b"<html><body>503 Service Unavailable</body></html>", "text/html")
        if fault == "429":
            return self._send(429, {"code": -1003, "msg": "Too many requests; current limit is 1200."})
        if fault == "drop":
            return self._drop()
        signed = path in ("/api/v3/order", "/api/v3/myTrades", "/api/v3/account")
        if signed and not self._signed_ok(raw):
            return self._send(401, {"code": -1022, "msg": "Signature for this request is not valid."})
        status, body = self._route(path, params)
        if fault == "timeout":
            time.sleep(fake.fault_sleep_s)
        if fault == "drop_after":
            return self._drop()
        try:
            self._send(status, body)
        except OSError:
            pass  # the client gave up (timeout): the order stays applied, as on a real exchange

    def _route(self, path: str, params: dict) -> tuple[int, object]:
        fake = self.fake
        if path == "/api/v3/ping":
            return 200, {}
        if path == "/api/v3/time":
            return 200, {"serverTime": int(time.time() * 1000)}
        if path == "/api/v3/exchangeInfo":
            return 200, {
                "timezone": "UTC",
                "serverTime": int(time.time() * 1000),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": [_symbol_info(s, b, q) for s, (b, q) in SYMBOLS.items()],
            }
        if path == "/api/v3/account":
            return 200, {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "accountType": "SPOT",
                "balances": [{"asset": "BTC", "free": "1000.0", "locked": "0.0"}],
                "permissions": ["SPOT"],
            }
        if path == "/api/v3/klines":
            with fake._lock:
                candles = list(fake.klines.get(params.get("symbol", ""), []))
            return 200, candles[-int(params.get("limit", 500)) :]
        if path == "/api/v3/order":
            if self.command == "POST":
                return fake.place(params)
            cid = params.get("origClientOrderId")
            with fake._lock:
                order = fake.orders.get(cid) if cid else None
                if order is None:
                    return 400, {"code": -2013, "msg": "Order does not exist."}
                if self.command == "DELETE":
                    if order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                        return 400, {"code": -2011, "msg": "Unknown order sent."}
                    order["status"] = "CANCELED"
                return 200, dict(order)
        if path == "/api/v3/myTrades":
            with fake._lock:
                trades = [t for t in fake.trades if t["symbol"] == params.get("symbol")]
                if "orderId" in params:
                    trades = [t for t in trades if str(t["orderId"]) == params["orderId"]]
                if "startTime" in params:
                    trades = [t for t in trades if t["time"] >= int(params["startTime"])]
                return 200, trades
        return 404, {"code": -1000, "msg": f"fake binance: no route {self.command} {path}"}
