"""The PDF report: verdict summary, one metrics table per profile, equity and drawdown charts.

Rendered in memory with reportlab's ``invariant=1`` (fixed creation date and document id) and only
reportlab.graphics charts, so the same report dict always gives the same bytes.
"""

from __future__ import annotations

import io
import re

from reportlab.graphics.charts.legends import LineLegend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
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
    ("trades", "trades", "{:.0f}"),
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


def _verdict_colour(verdict: str):
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
            f"Run {report['run_id']} &middot; report date {report['report_date']} ({report['date_source']}) "
            f"&middot; seed {report['seed']} &middot; engine v{report['engine_version']}",
            styles["Normal"],
        ),
        Spacer(1, 4 * mm),
    ]
    profile_rows = [
        ["profile", "verdict", "rows", "failed", "max DD limit", "CVaR99 limit", "fraction", "leverage"]
    ]
    for name, summary in report["summary"]["profiles"].items():
        params = report["parameters"]["profiles"][name]
        profile_rows.append(
            [
                name,
                summary["verdict"].upper(),
                summary["rows"],
                summary["failed"],
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
    header = ["scenario", "strategy", "data", *[label for _, label, _ in _TABLE_COLUMNS], "pass"]
    body = [header]
    style = [*_GRID.getCommands()]
    for row in (r for r in report["rows"] if r["profile"] == profile):
        metrics = row["metrics"]
        cells = [row["scenario"], row["strategy"], row["dataset"].removesuffix(".parquet")]
        cells += [fmt.format(metrics[key]) for key, _, fmt in _TABLE_COLUMNS]
        cells.append("PASS" if row["pass"] else "FAIL")
        body.append(cells)
        style.append(
            (
                "TEXTCOLOR",
                (len(cells) - 1, len(body) - 1),
                (len(cells) - 1, len(body) - 1),
                _verdict_colour("pass" if row["pass"] else "fail"),
            )
        )
    table = Table(body, hAlign="LEFT", repeatRows=1)
    table.setStyle(TableStyle(style))
    params = report["parameters"]["profiles"][profile]
    limits = ", ".join(f"{k}={params[k]:g}" for k in sorted(params) if k not in ("name", "acceptance"))
    return [
        Paragraph(f"Profile {profile}", styles["Heading2"]),
        Paragraph(f"Limits: {limits}", styles["Normal"]),
        Spacer(1, 3 * mm),
        table,
    ]


def _chart(
    title: str, series: list[tuple[str, list[float]]], width: float, height: float, percent: bool
) -> Drawing:
    drawing = Drawing(width, height)
    drawing.add(String(4, height - 12, title, fontName="Helvetica-Bold", fontSize=8))
    plot = LinePlot()
    plot.x, plot.y = 40, 30
    plot.width, plot.height = width - 60, height - 60
    plot.data = [[(float(i), float(v)) for i, v in enumerate(values)] for _, values in series]
    for index, (name, _) in enumerate(series):
        plot.lines[index].strokeColor = _PROFILE_COLOURS.get(name, colors.black)
        plot.lines[index].strokeWidth = 0.8
    plot.xValueAxis.visibleLabels = False
    plot.yValueAxis.labels.fontSize = 6
    if percent:
        plot.yValueAxis.labelTextFormat = lambda v: f"{v:.0%}"
    drawing.add(plot)
    legend = LineLegend()
    legend.x, legend.y = 40, 12
    legend.fontSize = 6
    legend.columnMaximum = 1
    legend.dx, legend.dy = 10, 2
    legend.deltax = 60
    legend.colorNamePairs = [(_PROFILE_COLOURS.get(name, colors.black), name) for name, _ in series]
    drawing.add(legend)
    return drawing


def _charts(charts: list[dict], styles, page_width: float) -> list:
    story = [PageBreak(), Paragraph("Equity and drawdown per scenario", styles["Heading2"])]
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for chart in charts:
        groups.setdefault((chart["dataset"], chart["scenario"], chart["strategy"]), []).append(chart)
    width = (page_width - 10 * mm) / 2
    for (dataset, scenario, strategy), members in groups.items():
        label = f"{scenario} / {strategy} / {dataset.removesuffix('.parquet')} ({members[0]['path']})"
        equity = _chart(f"Equity: {label}", [(c["profile"], c["equity"]) for c in members], width, 210, False)
        drawdown = _chart(
            f"Drawdown: {label}", [(c["profile"], c["drawdown"]) for c in members], width, 210, True
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
