"""The PDF report: verdict summary, scenarios and execution, one metrics table per profile, charts.

Rendered in memory with reportlab's ``invariant=1`` (fixed creation date and document id) and only
reportlab.graphics charts, so the same report dict always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import re

from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

_PROFILE_COLOURS = {
    "conservative": colors.HexColor("#1b7837"),
    "balanced": colors.HexColor("#2166ac"),
    "aggressive": colors.HexColor("#b2182b"),
    "manual": colors.HexColor("#762a83"),
}
_TABLE_COLUMNS = (
    ("total_return", "return", "{:+.2%}"),
    ("max_drawdown", "max DD", "{:.2%}"),
    ("var_99", "VaR99", "{:.3%}"),
    ("cvar_99", "CVaR99", "{:.3%}"),
    ("sharpe", "Sharpe", "{:.2f}"),
    ("sortino", "Sortino", "{:.2f}"),
    ("exposure", "expo", "{:.2f}"),
    ("turnover", "turn", "{:.1f}"),
    ("orders", "orders", "{:.0f}"),
    ("fills", "fills", "{:.0f}"),
    ("fill_rate", "fill", "{:.1%}"),
    ("avg_slippage_bps", "slip bp", "{:.1f}"),
    ("limit_breaches", "breach", "{:.0f}"),
    ("halts", "halts", "{:.0f}"),
)
_GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 7),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
)


_NOT_EXERCISED_FILL = colors.HexColor("#dddddd")
_FLAG_FILL = colors.HexColor("#fff2b3")
_WINDOW_FILL = colors.HexColor("#f6d5d5")
_STATUS_TEXT = {"pass": "PASS", "fail": "FAIL", "not_exercised": "NOT EXERCISED"}


def _verdict_colour(verdict: str):
    if verdict == "not_exercised":
        return colors.HexColor("#555555")
    return colors.HexColor("#1b7837") if verdict == "pass" else colors.HexColor("#b2182b")


def _summary(report: dict, styles) -> list:
    verdict, summary = report["verdict"], report["summary"]
    story = [
        Paragraph("Paper Labs risk simulation report", styles["Title"]),
        Paragraph(
            f'Verdict: <font color="#{_verdict_colour(verdict).hexval()[2:]}"><b>'
            f"{verdict.upper()}</b></font> &nbsp; ({summary['failed']} of {summary['rows']} "
            "rows fail their profile's acceptance thresholds)",
            styles["Heading2"],
        ),
        Paragraph(
            f"{summary.get('not_exercised', 0)} stress rows not exercised (the strategy held no position and "
            f"traded nothing in the stress window: never counted as a pass) &middot; "
            f"{summary.get('flags', 0)} monotonicity flags on {summary.get('flagged_rows', 0)} rows "
            "(a stress that improved return or drawdown over its reference)",
            styles["Normal"],
        ),
        Paragraph(
            f"Run {report['run_id']} &middot; report date {report['report_date']} ({report['date_source']}) "
            f"&middot; seed {report['seed']} &middot; engine v{report['engine_version']}",
            styles["Normal"],
        ),
        Spacer(1, 4 * mm),
    ]
    profile_rows = [
        [
            "profile",
            "verdict",
            "rows",
            "failed",
            "not exercised",
            "probes failed",
            "flags",
            "max DD limit",
            "CVaR99 limit",
            "fraction",
            "leverage",
        ]
    ]
    for name, summary in report["summary"]["profiles"].items():
        params = report["parameters"]["profiles"][name]
        profile_rows.append(
            [
                name,
                summary["verdict"].upper(),
                summary["rows"],
                summary["failed"],
                summary.get("not_exercised", 0),
                f"{summary.get('probe_failed', 0)} of {summary.get('probe_rows', 0)}",
                summary.get("flags", 0),
                f"{params['acceptance']['max_drawdown']:.2%}",
                f"{params['acceptance']['cvar_99']:.2%}",
                f"{params['position_fraction']:g}",
                f"{params['leverage']:g}",
            ]
        )
    table = Table(profile_rows, hAlign="LEFT")
    table.setStyle(_GRID)
    for index, (_, summary) in enumerate(report["summary"]["profiles"].items(), start=1):
        table.setStyle([("TEXTCOLOR", (1, index), (1, index), _verdict_colour(summary["verdict"]))])
    story += [table, Spacer(1, 4 * mm), Paragraph("Inputs (SHA-384)", styles["Heading3"])]
    input_rows = [["file", "rows", "first bar", "last bar", "sha384"]]
    for item in [
        *report["inputs"],
        {**report["config"], "rows": "", "first_timestamp": "", "last_timestamp": ""},
    ]:
        digest = item["sha384"]
        input_rows.append(
            [
                item["name"],
                item["rows"],
                item["first_timestamp"],
                item["last_timestamp"],
                f"{digest[:48]}\n{digest[48:]}",
            ]
        )
    inputs = Table(input_rows, hAlign="LEFT")
    inputs.setStyle(_GRID)
    story.append(inputs)
    return story


def _profile_table(report: dict, profile: str, styles) -> list:
    header = ["scenario", "strategy", "data", *[label for _, label, _ in _TABLE_COLUMNS], "win expo"]
    header += ["status", "flags"]
    body = [header]
    style = [*_GRID.getCommands()]
    for row in (r for r in report["rows"] if r["profile"] == profile):
        metrics = row["metrics"]
        status = row.get("status", "pass" if row["pass"] else "fail")
        exercise = row.get("exercise")
        cells = [row["scenario"], row["strategy"], row["dataset"].removesuffix(".parquet")]
        cells += [fmt.format(metrics[key]) for key, _, fmt in _TABLE_COLUMNS if key in metrics]
        cells.append(f"{exercise['window_exposure']:.3f}" if exercise else "-")
        cells.append(_STATUS_TEXT[status])
        flags = row.get("flags") or []
        cells.append(
            ", ".join(f"{f['metric'].replace('total_return', 'return')}: {f['reason']}" for f in flags)
        )
        body.append(cells)
        at = len(body) - 1
        style.append(("TEXTCOLOR", (len(cells) - 2, at), (len(cells) - 2, at), _verdict_colour(status)))
        if status == "not_exercised":
            style.append(("BACKGROUND", (0, at), (-1, at), _NOT_EXERCISED_FILL))
        if flags:
            style.append(("BACKGROUND", (-1, at), (-1, at), _FLAG_FILL))
    table = Table(body, hAlign="LEFT", repeatRows=1)
    table.setStyle(TableStyle(style))
    params = report["parameters"]["profiles"][profile]
    limits = ", ".join(
        f"{k}={params[k]:g}"
        for k in sorted(params)
        if k not in ("name", "acceptance") and params[k] is not None
    )
    cooldown = params.get("reentry_cooldown_bars")
    reentry = (
        f"re-enter at the current target {cooldown:g} bars after the exit"
        if cooldown is not None
        else "re-enter only on a new signal (the strategy's target changes)"
    )
    return [
        Paragraph(f"Profile {profile}", styles["Heading2"]),
        Paragraph(f"Limits: {limits}", styles["Normal"]),
        Paragraph(f"Re-entry after a stop-loss or daily-limit exit: {reentry}", styles["Normal"]),
        Paragraph(
            "Grey rows: not exercised (no position and no trade inside the stress window). Yellow flags: the "
            "stress improved return or drawdown over its reference. win expo: mean exposure inside the "
            "stress window. stress_probe: the profile's full position held through the window.",
            styles["Normal"],
        ),
        Spacer(1, 3 * mm),
        table,
    ]


def _param_text(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "; ".join(_param_text(v) for v in value)
    if isinstance(value, dict):
        # Sorted: unit results that travelled through storage come back key-sorted.
        return ", ".join(f"{k}={_param_text(v)}" for k, v in sorted(value.items()))
    return str(value)


def _scenarios_page(report: dict, styles) -> list:
    """Everything a reader needs to know about what was simulated, in one place."""
    small = styles["BodyText"].clone("cell", fontSize=7, leading=8.5)
    story = [Paragraph("Scenarios and execution", styles["Heading2"])]
    seen, body = set(), [["data", "scenario", "start (UTC)", "end (UTC)", "effective parameters"]]
    for row in report["rows"]:
        key = (row["dataset"], row["scenario"])
        if key in seen:
            continue
        seen.add(key)
        params = row["scenario_params"]
        rest = {k: v for k, v in params.items() if k not in ("start_utc", "end_utc", "found")}
        data = row["dataset"].removesuffix(".parquet")
        body.append(
            [
                data,
                row["scenario"],
                params.get("start_utc", "-"),
                params.get("end_utc", "-"),
                Paragraph(_param_text(rest) or "the real bars, unchanged", small),
            ]
        )
        for rank, window in enumerate(params.get("found", [])):  # one path per real drawdown episode
            detail = {k: v for k, v in window.items() if k not in ("start_utc", "end_utc")}
            body.append(
                [
                    data,
                    f"{row['scenario']}#{rank}",
                    window["start_utc"],
                    window["end_utc"],
                    Paragraph(_param_text(detail), small),
                ]
            )
    table = Table(body, hAlign="LEFT", repeatRows=1, colWidths=[22 * mm, 24 * mm, 34 * mm, 34 * mm, 150 * mm])
    table.setStyle(_GRID)
    story += [table, Spacer(1, 3 * mm)]
    parameters = report["parameters"]
    execution = parameters["execution"]
    story.append(
        Paragraph(
            "Execution model: "
            + ", ".join(f"{k}={_param_text(v)}" for k, v in sorted(execution.items()))
            + ". Orders fill at the close of their arrival bar, at most participation x bar volume per bar; "
            "slippage = slippage_bps x (1 + impact x sqrt(qty / volume)) + scenario spread_bps; fees = "
            "fees_bps of notional; no borrow cost.",
            styles["Normal"],
        )
    )
    overrides = parameters["overrides"]
    story.append(
        Paragraph(
            "CLI overrides: "
            + ", ".join(
                f"{k}={_param_text(v) if v not in (None, {}) else 'none'}"
                for k, v in sorted(overrides.items())
            )
            + ". Scenario overrides: "
            + (
                ", ".join(f"{k}({_param_text(v)})" for k, v in sorted(parameters["scenarios"].items()) if v)
                or "none"
            ),
            styles["Normal"],
        )
    )
    rules = parameters.get("rules", {})
    for name, text in rules.items():
        story.append(Paragraph(f"<b>{name.replace('_', ' ')}</b>: {_param_text(text)}", styles["Normal"]))
    return story


def _date_label(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%m-%d %H:%M")


def _chart(
    title: str,
    series: list[tuple[str, list[float], int | None]],
    times: list[int],
    window: list[int] | None,
    size: tuple[float, float],
    percent: bool,
) -> Drawing:
    width, height = size
    drawing = Drawing(width, height)
    drawing.add(String(4, height - 12, title, fontName="Helvetica-Bold", fontSize=8))
    plot = LinePlot()
    plot.x, plot.y = 44, 46
    plot.width, plot.height = width - 60, height - 80
    lo, hi = float(times[0]), float(times[-1]) if times[-1] > times[0] else float(times[0] + 1)
    if window is not None:  # the stress window, shaded behind the lines
        left = plot.x + plot.width * (max(window[0], lo) - lo) / (hi - lo)
        right = plot.x + plot.width * (min(window[1], hi) - lo) / (hi - lo)
        drawing.add(
            Rect(left, plot.y, max(right - left, 1.0), plot.height, fillColor=_WINDOW_FILL, strokeColor=None)
        )
    data, styles = [], []
    for name, values, halted in series:
        points = [(float(t), float(v)) for t, v in zip(times, values, strict=True)]
        colour = _PROFILE_COLOURS.get(name, colors.black)
        split = next((k for k, t in enumerate(times) if halted is not None and t >= halted), len(points))
        data.append(points[: split + 1])
        styles.append((colour, None))
        if split < len(points) - 1:  # halted: flat for the rest of the run, drawn dashed
            data.append(points[split:])
            styles.append((colour, (2, 2)))
    plot.data = data
    for index, (colour, dash) in enumerate(styles):
        plot.lines[index].strokeColor = colour
        plot.lines[index].strokeWidth = 0.8
        if dash:
            plot.lines[index].strokeDashArray = dash
    values = [v for _, vs, _ in series for v in vs]
    bottom, top = min(values), max(values)
    pad = (top - bottom) * 0.05 or abs(top) * 0.05 or 0.01
    floor = max(bottom - pad, 0.0) if percent and bottom >= 0.0 else bottom - pad  # no negative drawdown
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = floor, top + pad
    plot.yValueAxis.valueSteps = [floor + (top + pad - floor) * k / 5 for k in range(6)]
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = lo, hi
    plot.xValueAxis.valueSteps = [lo + (hi - lo) * k / 4 for k in range(5)]
    plot.xValueAxis.labelTextFormat = _date_label
    plot.xValueAxis.labels.fontSize = 6
    plot.yValueAxis.labels.fontSize = 6
    if percent:
        plot.yValueAxis.labelTextFormat = lambda v: f"{v:.1%}"
    else:
        plot.yValueAxis.labelTextFormat = lambda v: f"{v:.3f}"
    drawing.add(plot)
    drawing.add(
        String(
            plot.x + plot.width / 2, 24, "time (UTC, month-day hour:minute)", fontSize=6, textAnchor="middle"
        )
    )
    axis_title = "drawdown from peak" if percent else "equity (x starting capital)"
    drawing.add(String(plot.x, plot.y + plot.height + 4, axis_title, fontSize=6))
    x = float(plot.x)
    for name, _, _ in series:  # swatch first, then its label
        drawing.add(Rect(x, 6, 10, 4, fillColor=_PROFILE_COLOURS.get(name, colors.black), strokeColor=None))
        drawing.add(String(x + 13, 5, name, fontSize=6))
        x += 16 + 4 * len(name)
    if any(style[1] for style in styles):
        drawing.add(Line(x, 8, x + 10, 8, strokeColor=colors.black, strokeWidth=0.8, strokeDashArray=(2, 2)))
        drawing.add(String(x + 13, 5, "halted (flat)", fontSize=6))
        x += 16 + 4 * len("halted (flat)")
    if window is not None:
        drawing.add(Rect(x, 5, 10, 6, fillColor=_WINDOW_FILL, strokeColor=None))
        drawing.add(String(x + 13, 5, "stress window", fontSize=6))
    return drawing


def _charts(charts: list[dict], styles, page_width: float) -> list:
    story = [PageBreak(), Paragraph("Equity and drawdown per scenario", styles["Heading2"])]
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for chart in charts:
        groups.setdefault((chart["dataset"], chart["scenario"], chart["strategy"]), []).append(chart)
    width = (page_width - 10 * mm) / 2
    for (dataset, scenario, strategy), members in groups.items():
        label = f"{scenario} / {strategy} / {dataset.removesuffix('.parquet')} ({members[0]['path']})"
        first = members[0]
        times = first.get("time_s") or list(range(len(first["equity"])))
        window = first.get("window")
        equity = _chart(
            f"Equity: {label}",
            [(c["profile"], c["equity"], c.get("halted_s")) for c in members],
            times,
            window,
            (width, 220),
            False,
        )
        drawdown = _chart(
            f"Drawdown: {label}",
            [(c["profile"], c["drawdown"], c.get("halted_s")) for c in members],
            times,
            window,
            (width, 220),
            True,
        )
        row = Table([[equity, drawdown]], colWidths=[width, width], hAlign="LEFT")
        row.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
        story += [row, Spacer(1, 2 * mm)]
    return story


def render_pdf(report: dict, charts: list[dict]) -> bytes:
    """The whole PDF as bytes; nothing touches the disk here, so a failure leaves no file behind."""
    buffer = io.BytesIO()
    pagesize = landscape(A4)
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        invariant=1,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"Paper Labs report {report['run_id']}",
        author="Core OEM Paper Labs",
        subject=f"verdict {report['verdict']}",
        creator="risklab.engine.report_pdf",
    )
    styles = getSampleStyleSheet()
    story = _summary(report, styles)
    story += [PageBreak(), *_scenarios_page(report, styles)]
    for profile in report["parameters"]["profiles"]:
        story += [PageBreak(), *_profile_table(report, profile, styles)]
    story += _charts(charts, styles, pagesize[0] - 24 * mm)

    def footer(canvas, document):
        canvas.setFont("Helvetica", 7)
        canvas.drawRightString(
            pagesize[0] - 12 * mm, 6 * mm, f"run {report['run_id']} - page {document.page}"
        )

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def page_count(pdf: bytes) -> int:
    """Pages in a PDF we rendered (counts page objects; reportlab writes no compressed object streams)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
