"""Inline SVG charts for the console (no JavaScript, no build step)."""

from django.utils.html import format_html


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
