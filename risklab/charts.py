"""Inline SVG charts for the console (no JavaScript, no build step)."""

import datetime as dt

from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

PROFILE_COLOURS = {
    "conservative": "#1b7837",
    "balanced": "#2166ac",
    "aggressive": "#b2182b",
    "manual": "#762a83",
}


def sparkline_svg(values: list[float], *, width: int = 260, height: int = 60, invert: bool = False) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{(height - 2) * ((v - low) / span if invert else 1 - (v - low) / span) + 1:.1f}"
        for i, v in enumerate(values)
    )
    return format_html(
        '<svg class="spark" viewBox="0 0 {} {}" width="{}" height="{}" role="img">'
        '<polyline fill="none" stroke="currentColor" stroke-width="1.2" points="{}"/></svg>',
        width,
        height,
        width,
        height,
        points,
    )


def _date(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%m-%d %H:%M")


def line_chart_svg(
    *,
    title: str,
    times: list[int],
    series: list[tuple[str, list[float]]],
    window: list[int] | None = None,
    percent: bool = False,
    width: int = 560,
    height: int = 240,
) -> str:
    """A line chart with a UTC date axis, axis titles, the stress window shaded and a legend whose
    swatches come before their labels; the same reading as the PDF's charts."""
    if not times or not series:
        return ""
    left, right, top, bottom = 58, 12, 26, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    t0, t1 = times[0], times[-1] if times[-1] > times[0] else times[0] + 1
    values = [v for _, vs in series for v in vs]
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 0.01
    low = max(low - pad, 0.0) if percent and low >= 0.0 else low - pad
    high += pad

    def x(t):
        return left + plot_w * (t - t0) / (t1 - t0)

    def y(v):
        return top + plot_h * (1.0 - (v - low) / (high - low))

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="4" y="14" font-size="11" font-weight="bold">{escape(title)}</text>',
    ]
    if window is not None:
        x0, x1 = x(max(window[0], t0)), x(min(window[1], t1))
        parts.append(
            f'<rect x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1.0):.1f}" height="{plot_h}" fill="#f6d5d5"/>'
        )
    axes = f"M{left},{top} V{top + plot_h} H{left + plot_w}"
    parts.append(f'<path d="{axes}" fill="none" stroke="#333" stroke-width="1"/>')
    for k in range(6):
        v = low + (high - low) * k / 5
        label = f"{v:.1%}" if percent else f"{v:.3f}"
        parts.append(
            f'<line x1="{left - 4}" x2="{left}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#333"/>'
            f'<text x="{left - 6}" y="{y(v) + 3:.1f}" font-size="9" text-anchor="end">{label}</text>'
        )
    for k in range(5):
        t = t0 + (t1 - t0) * k / 4
        base = top + plot_h
        parts.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{base}" y2="{base + 4}" stroke="#333"/>'
            f'<text x="{x(t):.1f}" y="{base + 14}" font-size="9" text-anchor="middle">{_date(t)}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 28}" font-size="9" text-anchor="middle">'
        "time (UTC, month-day hour:minute)</text>"
    )
    axis_title = "drawdown from peak" if percent else "equity (x starting capital)"
    parts.append(f'<text x="{left}" y="{top - 4}" font-size="9">{axis_title}</text>')
    for name, vs in series:
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(times, vs, strict=False))
        colour = PROFILE_COLOURS.get(name, "#000")
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{points}"/>')
    lx = left
    legend = [(PROFILE_COLOURS.get(name, "#000"), name) for name, _ in series]
    if window is not None:
        legend.append(("#f6d5d5", "stress window"))
    for colour, name in legend:  # swatch first, then its label
        parts.append(
            f'<rect x="{lx}" y="{height - 12}" width="12" height="6" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{height - 6}" font-size="9">{escape(name)}</text>'
        )
        lx += 24 + 6 * len(name)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
