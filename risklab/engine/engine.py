"""The simulation: one market path x one target series x one risk profile -> equity and execution stats.

Execution model (documented in docs/paper_labs.md):
- A new order is placed only when the strategy's target changes; its size is
  ``target * position_fraction * leverage * equity / close`` minus the current holding, so between signals
  the holding stays constant in units (buy-and-hold equity is exactly ``1 + f * (close_t / close_0 - 1)``).
- Orders fill at the close of their arrival bar (market-on-close), at most ``participation * volume`` per
  bar; the remainder keeps working on later bars. Orders delayed by latency fill at the worse of the
  decision close and the arrival close.
- Slippage per fill = ``slippage_bps * (1 + impact * sqrt(qty / volume)) + scenario spread_bps``.
- Fees = ``fees_bps`` of traded notional. No funding or borrow cost is charged on leverage.
- Protective exits (stop loss on the bar's low/high, daily loss limit and drawdown halt at the close)
  liquidate in full, bypass the order-rate limit and pay slippage and fees like any fill.

The per-bar state machine (stops, halts, partial fills) is path dependent, so it is one numba kernel
with float64 accumulators; everything around it is NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from risklab.engine.profiles import RiskProfile
from risklab.engine.scenarios import MarketPath

_NS_PER_DAY = 86_400 * 1_000_000_000

# Indices into the kernel's stats vector.
ORDERS, ORDERED, FILLED, FILLS, SLIP_NOTIONAL, DECISION_NOTIONAL, TRADED_NOTIONAL = 0, 1, 2, 3, 4, 5, 6
STOPS, DAILY_BREACHES, RATE_REJECTS, HALTS, EXPOSURE_SUM = 7, 8, 9, 10, 11
# Return moments and drawdown are accumulated in the same pass: a second pass over a million bars in
# NumPy costs more than the whole simulation.
SUM_RETURN, SUM_RETURN_SQ, SUM_DOWNSIDE_SQ, MAX_DRAWDOWN = 12, 13, 14, 15
# What happened inside the scenario's stress window, so a row can say whether the stress ever hit.
WINDOW_EXPOSURE_SUM, WINDOW_MAX_EXPOSURE, WINDOW_TRADED_NOTIONAL, WINDOW_BARS, MIN_CASH = 16, 17, 18, 19, 20
HALT_BAR = 21  # the bar of the max-drawdown halt, -1 if none: charts draw the halted stretch apart
_N_STATS = 22
# A residual this small relative to the position it is left from is settled, not carried: relative, so
# a high-priced instrument (few units, each worth much) is never mistaken for dust.
_DUST = 1e-9
# Sizing headroom so rounding can never take cash below zero at the sizing limit.
_SIZING_HEADROOM = 1.0 - 1e-12


@dataclass(frozen=True)
class ExecutionModel:
    """Venue assumptions shared by every profile; recorded in the report's parameters."""

    capital: float = 1.0  # quote currency (BTC for the sample): sets order size against real volume
    participation: float = 0.10  # most of a bar's volume one order may take
    impact: float = 10.0  # slippage multiplier per sqrt(order qty / bar volume)

    def params(self) -> dict:
        return {"capital": self.capital, "participation": self.participation, "impact": self.impact}


@dataclass(frozen=True, eq=False)
class SimulationResult:
    equity: np.ndarray  # per bar close, normalised to starting capital 1.0
    returns: np.ndarray  # per bar, the first against the starting capital; 0 once equity is gone
    stats: np.ndarray  # see the index constants above
    bar_seconds: float


@njit(cache=False, nogil=True)
def fill_cost(qty, volume, slip_rate, impact, spread_rate):
    liquidity = np.sqrt(qty / volume) if volume > 0.0 else 1.0
    return slip_rate * (1.0 + impact * liquidity) + spread_rate


@njit(cache=False, nogil=True)
def _simulate_kernel(
    open_,
    high,
    low,
    close,
    volume,
    target,
    spread_bps,
    delay,
    timestamp,
    capital,
    scale,
    stop_loss,
    daily_loss_limit,
    max_drawdown_halt,
    tokens_per_bar,
    token_cap,
    fee_rate,
    slip_rate,
    impact,
    participation,
    cooldown,
    window_start,
    window_stop,
    equity_out,
    returns_out,
):
    n = close.shape[0]
    orders = 0.0
    ordered = 0.0
    filled = 0.0
    fills = 0.0
    slip_notional = 0.0
    decision_notional = 0.0
    traded_notional = 0.0
    stops = 0.0
    daily_breaches = 0.0
    rate_rejects = 0.0
    halts = 0.0
    exposure_sum = 0.0
    sum_return = 0.0
    sum_return_sq = 0.0
    sum_downside_sq = 0.0
    max_drawdown = 0.0
    window_exposure_sum = 0.0
    window_max_exposure = 0.0
    window_traded = 0.0
    window_bars = 0.0
    cash = capital
    min_cash = capital
    units = 0.0
    entry = 0.0
    peak = capital
    day_start = capital
    next_day = (timestamp[0] // _NS_PER_DAY + 1) * _NS_PER_DAY  # compare, don't divide, per bar
    unit_capital = capital == 1.0
    previous_norm = 1.0
    peak_norm = 1.0
    trough_norm = 1.0  # lowest equity since the last peak: only a new low can deepen the drawdown
    halted = False
    day_blocked = False
    halt_bar = -1.0
    stopped_target = np.nan  # NEW_SIGNAL rule: the target that was exited; re-entry waits for another
    reentry_from = 0  # cool-down rule: first bar at which entries are allowed again
    tokens = token_cap
    prev_target = 0.0
    working = 0.0  # signed quantity still to fill
    arrival = 0
    decision = 0.0
    stale = False

    for i in range(n):
        # The close is read only where it matters (a position, a new order, a fill): a flat stretch reads
        # the target alone, which is most of a stopped or cautious run.
        in_window = window_start <= i < window_stop
        if tokens < token_cap:  # a full bucket stays full: no per-bar dependency chain through it
            tokens = min(token_cap, tokens + tokens_per_bar)
        if timestamp[i] >= next_day:
            next_day = (timestamp[i] // _NS_PER_DAY + 1) * _NS_PER_DAY
            day_start = cash + units * close[i - 1]
            day_blocked = False

        # 1. Stop loss, triggered intrabar. A bar that opens through the stop fills at its open (inside a
        # flash crash the open is the crash price), never at the stop price the market skipped.
        if units != 0.0 and stop_loss < 1.0:
            hit = False
            if units > 0.0:
                stop_px = entry * (1.0 - stop_loss)
                if low[i] <= stop_px:
                    hit = True
                    base = min(open_[i], stop_px)
            else:
                stop_px = entry * (1.0 + stop_loss)
                if high[i] >= stop_px:
                    hit = True
                    base = max(open_[i], stop_px)
            if hit:
                qty = abs(units)
                side = -1.0 if units > 0.0 else 1.0
                cost = fill_cost(qty, volume[i], slip_rate, impact, spread_bps[i] * 1e-4)
                fill_px = base * (1.0 + side * cost)
                cash -= side * qty * fill_px + qty * fill_px * fee_rate
                orders += 1.0
                ordered += qty
                filled += qty
                fills += 1.0
                slip_notional += qty * (fill_px - stop_px) * side
                decision_notional += qty * stop_px
                traded_notional += qty * fill_px
                if in_window:
                    window_traded += qty * fill_px
                stops += 1.0
                units = 0.0
                working = 0.0
                stopped_target = prev_target
                reentry_from = i + cooldown
                prev_target = 0.0

        # 2. A changed target places a new order that replaces whatever was still working.
        t = target[i]
        if i > 0 and t != target[i - 1]:
            stopped_target = np.nan  # a fresh signal re-arms entries after a stop
        if t != prev_target and not halted and not day_blocked:
            allowed = t != stopped_target if cooldown < 0 else i >= reentry_from
            if allowed:
                px_close = close[i]
                equity_now = cash + units * px_close
                desired = t * scale * equity_now / px_close if equity_now > 0.0 else 0.0
                working = desired - units
                if working != 0.0:
                    orders += 1.0
                    ordered += abs(working)
                arrival = i + delay[i]
                decision = px_close
                stale = delay[i] > 0
                prev_target = t

        # 3. Work the order once it has reached the venue.
        if working != 0.0 and i >= arrival:
            if tokens < 1.0:
                rate_rejects += 1.0
            else:
                tokens -= 1.0
                side = 1.0 if working > 0.0 else -1.0
                want = abs(working)
                qty = min(want, participation * volume[i])
                if qty > 0.0:
                    px_close = close[i]
                    ref = decision if stale else px_close
                    base = px_close
                    if stale and (px_close - decision) * side < 0.0:
                        base = decision  # latency never improves the price: the worse of the two
                    cost = fill_cost(qty, volume[i], slip_rate, impact, spread_bps[i] * 1e-4)
                    fill_px = base * (1.0 + side * cost)
                    # Sized at the decision close, filled later at another price and charged fees: cap it
                    # so notional + fees stay within equity x fraction x leverage at the fill itself.
                    adding = units == 0.0 or (units > 0.0) == (side > 0.0)
                    if adding or qty > abs(units):
                        held = abs(units) * fill_px
                        room = (cash + units * fill_px) * scale - (held if adding else -held)
                        cap = max(room * _SIZING_HEADROOM / (fill_px * (1.0 + fee_rate)), 0.0)
                        if cap < qty:
                            ordered -= want - cap  # the order is resized, not left unfilled
                            qty = cap
                            want = cap
                            working = side * cap
                            cost = fill_cost(qty, volume[i], slip_rate, impact, spread_bps[i] * 1e-4)
                            fill_px = base * (1.0 + side * cost)
                if qty > 0.0:
                    cash -= side * qty * fill_px + qty * fill_px * fee_rate
                    new_units = units + side * qty
                    if units == 0.0 or (units > 0.0) != (new_units > 0.0):
                        entry = fill_px
                    elif abs(new_units) > abs(units):
                        entry = (entry * abs(units) + fill_px * qty) / abs(new_units)
                    if new_units != 0.0 and abs(new_units) <= _DUST * abs(units):
                        cash += new_units * fill_px  # settle the residual of a close at the fill price
                        new_units = 0.0
                    units = new_units
                    filled += qty
                    fills += 1.0
                    slip_notional += qty * (fill_px - ref) * side
                    decision_notional += qty * ref
                    traded_notional += qty * fill_px
                    if in_window:
                        window_traded += qty * fill_px
                    working -= side * qty
                    if abs(working) <= 1e-12 * max(abs(units), 1e-300):
                        working = 0.0
                elif want == 0.0:
                    working = 0.0
            if cash < min_cash:
                min_cash = cash

        # 4. Mark to market, then the limits that are judged on closing equity.
        equity = cash + units * close[i] if units != 0.0 else cash
        if equity > peak:
            peak = equity
        breach = 0
        if not halted and equity <= peak * (1.0 - max_drawdown_halt):
            breach = 2
        elif not day_blocked and not halted and equity <= day_start * (1.0 - daily_loss_limit):
            breach = 1
        if breach > 0:
            if units != 0.0:
                qty = abs(units)
                side = -1.0 if units > 0.0 else 1.0
                cost = fill_cost(qty, volume[i], slip_rate, impact, spread_bps[i] * 1e-4)
                px_close = close[i]
                fill_px = px_close * (1.0 + side * cost)
                cash -= side * qty * fill_px + qty * fill_px * fee_rate
                orders += 1.0
                ordered += qty
                filled += qty
                fills += 1.0
                slip_notional += qty * (fill_px - px_close) * side
                decision_notional += qty * px_close
                traded_notional += qty * fill_px
                if in_window:
                    window_traded += qty * fill_px
                units = 0.0
            working = 0.0
            stopped_target = prev_target
            reentry_from = i + cooldown
            prev_target = 0.0
            if breach == 2:
                halted = True
                halts += 1.0
                halt_bar = float(i)
            else:
                day_blocked = True
                daily_breaches += 1.0
            equity = cash
        # Flat bars skip the divisions: their exposure and return are exactly 0 either way.
        exposure = 0.0
        if units != 0.0 and equity > 0.0:
            exposure = abs(units * close[i]) / equity
            exposure_sum += exposure
        if in_window:
            window_bars += 1.0
            window_exposure_sum += exposure
            if exposure > window_max_exposure:
                window_max_exposure = exposure
        norm = equity if unit_capital else equity / capital
        equity_out[i] = norm
        r = 0.0
        if norm != previous_norm and previous_norm > 0.0:
            r = norm / previous_norm - 1.0
            sum_return += r
            sum_return_sq += r * r
            down = r if r < 0.0 else 0.0  # a select, not a branch: the sign of a return is a coin toss
            sum_downside_sq += down * down
        returns_out[i] = r
        previous_norm = norm
        if norm > peak_norm:
            peak_norm = norm
            trough_norm = norm
        elif norm < trough_norm:
            # Division is monotone, so the deepest drawdown under one peak is at its lowest equity.
            trough_norm = norm
            drawdown = 1.0 - norm / peak_norm
            if drawdown > max_drawdown:
                max_drawdown = drawdown
        if halted and units == 0.0 and working == 0.0:
            # A halt is final and the book is flat: every later bar keeps this equity with a zero return
            # and no exposure, so they are written at once instead of stepped through.
            equity_out[i + 1 :] = norm
            returns_out[i + 1 :] = 0.0
            rest = min(n, window_stop) - max(i + 1, window_start)
            if rest > 0:
                window_bars += float(rest)
            break
    stats = np.empty(_N_STATS)
    stats[ORDERS] = orders
    stats[ORDERED] = ordered
    stats[FILLED] = filled
    stats[FILLS] = fills
    stats[SLIP_NOTIONAL] = slip_notional
    stats[DECISION_NOTIONAL] = decision_notional
    stats[TRADED_NOTIONAL] = traded_notional
    stats[STOPS] = stops
    stats[DAILY_BREACHES] = daily_breaches
    stats[RATE_REJECTS] = rate_rejects
    stats[HALTS] = halts
    stats[EXPOSURE_SUM] = exposure_sum
    stats[SUM_RETURN] = sum_return
    stats[SUM_RETURN_SQ] = sum_return_sq
    stats[SUM_DOWNSIDE_SQ] = sum_downside_sq
    stats[MAX_DRAWDOWN] = max_drawdown
    stats[WINDOW_EXPOSURE_SUM] = window_exposure_sum
    stats[WINDOW_MAX_EXPOSURE] = window_max_exposure
    stats[WINDOW_TRADED_NOTIONAL] = window_traded
    stats[WINDOW_BARS] = window_bars
    stats[MIN_CASH] = min_cash
    stats[HALT_BAR] = halt_bar
    return stats


def simulate(
    path: MarketPath,
    target: np.ndarray,
    profile: RiskProfile,
    execution: ExecutionModel | None = None,
    *,
    window: tuple[int, int] | None = None,
    returns_buffer: np.ndarray | None = None,
    equity_buffer: np.ndarray | None = None,
) -> SimulationResult:
    """Run one profile over one path for a precomputed target series (same length as the path).

    ``returns_buffer`` (float64, at least as long as the path) lets a caller that reduces the returns to
    metrics at once reuse one scratch array instead of faulting in fresh memory per run; the result's
    ``returns`` is then a view of it, valid until the buffer is reused; ``equity_buffer`` likewise for the
    equity, for a caller that reduces it to a chart at once. ``window`` (start, stop) bar
    indices: exposure and traded notional inside it are counted apart (the scenario's stress window).
    """
    execution = execution or ExecutionModel()
    bars = path.bars
    n = len(bars)
    target = np.ascontiguousarray(target, dtype=np.float64)
    if target.shape != (n,):
        raise ValueError(f"target has shape {target.shape}, expected ({n},)")
    if not np.all(np.isfinite(target)) or np.any(np.abs(target) > 1.0):
        raise ValueError("target must be finite and within [-1, 1]")
    # A token bucket holding one minute of orders: bursts up to the per-minute rate, refilled per bar.
    tokens_per_bar = profile.max_order_rate_per_min * bars.bar_seconds / 60.0
    equity = _scratch(equity_buffer, n)
    returns = _scratch(returns_buffer, n)
    stats = _simulate_kernel(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        bars.volume,
        target,
        np.ascontiguousarray(path.spread_bps, dtype=np.float64),
        np.ascontiguousarray(path.delay, dtype=np.int64),
        bars.timestamp,
        float(execution.capital),
        float(profile.position_fraction * profile.leverage),
        float(profile.stop_loss),
        float(profile.daily_loss_limit),
        float(profile.max_drawdown_halt),
        float(tokens_per_bar),
        float(max(profile.max_order_rate_per_min, 1.0)),
        float(profile.fees_bps * 1e-4),
        float(profile.slippage_bps * 1e-4),
        float(execution.impact),
        float(execution.participation),
        int(profile.cooldown_bars()),
        int(window[0]) if window is not None else 0,
        int(window[1]) if window is not None else 0,
        equity,
        returns,
    )
    return SimulationResult(equity=equity, returns=returns, stats=stats, bar_seconds=bars.bar_seconds)


def _scratch(buffer: np.ndarray | None, n: int) -> np.ndarray:
    usable = buffer is not None and buffer.dtype == np.float64 and buffer.ndim == 1
    if usable and buffer.flags.c_contiguous and buffer.shape[0] >= n:
        return buffer[:n]
    return np.empty(n)
