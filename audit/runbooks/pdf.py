"""The signed checklist as a PDF: steps, artefacts with SHA-384, the full manifestation of every signature.

Input: a checklist document as defined by docs/schemas/signed_checklist_v1.json ("oem/signed-checklist/v1").
Rendered in memory with reportlab's ``invariant=1`` (fixed creation date and document id) from the document
alone - no clock, no environment - so the same document always gives the same bytes. The footer of every
page carries the document's SHA-384 (over its RFC 8785 canonical JSON), tying the printout to the JSON.

Fonts are the PDF standard Helvetica/Courier (WinAnsi): text outside Latin-1 prints with substitutes; the
JSON remains the record.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from audit.trust.canonical import canonical_bytes
from audit.trust.hashing import sha384_bytes

SCHEMA = "oem/signed-checklist/v1"
_REQUIRED = ("schema", "deployment", "gate", "runbook", "checklist", "version", "steps", "exported_at")
_SIGNATURE_FIELDS = (
    ("printed_name", "Printed name"),
    ("username", "Username"),
    ("role", "Role"),
    ("meaning", "Meaning"),
    ("reason", "Reason"),
    ("signed_at", "Signed at (UTC)"),
    ("kid", "Key id"),
    ("signature", "Signature"),
)
_VOID_RED = colors.HexColor("#b2182b")


def document_sha384(checklist_document: dict[str, Any]) -> str:
    """'sha384:<hex>' of the document's canonical JSON: what the PDF footer prints."""
    return "sha384:" + sha384_bytes(canonical_bytes(checklist_document))


def render_checklist_pdf(checklist_document: dict[str, Any], *, compress: bool = True) -> bytes:
    """The PDF as bytes. `compress=False` leaves content streams readable (tests search them for text)."""
    _check(checklist_document)
    doc_hash = document_sha384(checklist_document)
    buffer = io.BytesIO()
    pagesize = landscape(A4)
    title = checklist_document.get("title") or f"Checklist {checklist_document['checklist']}"
    template = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        invariant=1,
        pageCompression=1 if compress else 0,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=f"Signed checklist {checklist_document['checklist']}",
        author="Core OEM console",
        subject=f"{checklist_document['deployment']} {checklist_document['version']}",
        creator="audit.runbooks.pdf",
    )
    styles = _styles()
    width = pagesize[0] - 24 * mm
    story: list[Any] = [
        Paragraph(_t(title), styles["title"]),
        _meta_table(checklist_document, styles, width),
        Spacer(1, 4 * mm),
        Paragraph("Steps", styles["h2"]),
        _steps_table(checklist_document["steps"], styles, width),
        Spacer(1, 4 * mm),
        Paragraph("Electronic signatures", styles["h2"]),
    ]
    for number, step in enumerate(checklist_document["steps"], 1):
        story += _signature_blocks(number, step, styles, width)

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(
            12 * mm,
            7 * mm,
            f"{checklist_document['checklist']} {checklist_document['version']}",
        )
        canvas.drawString(12 * mm, 4 * mm, f"document {doc_hash}")
        canvas.drawRightString(pagesize[0] - 12 * mm, 4 * mm, f"page {document.page}")
        canvas.restoreState()

    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _check(doc: Any) -> None:
    """Enough shape to render; the full contract is docs/schemas/signed_checklist_v1.json."""
    if not isinstance(doc, dict):
        raise ValueError("checklist document must be an object")
    missing = [key for key in _REQUIRED if key not in doc]
    if missing:
        raise ValueError(f"checklist document lacks {', '.join(missing)}")
    if doc["schema"] != SCHEMA:
        raise ValueError(f"checklist document schema must be {SCHEMA!r}, got {doc['schema']!r}")
    if not isinstance(doc["steps"], list) or not doc["steps"]:
        raise ValueError("checklist document has no steps")
    for index, step in enumerate(doc["steps"], 1):
        if not isinstance(step, dict):
            raise ValueError(f"step #{index} must be an object")
        for key in ("id", "step", "responsible", "acceptance", "artefacts", "signatures"):
            if key not in step:
                raise ValueError(f"step {step.get('id', f'#{index}')}: lacks {key}")
        for signature in step["signatures"]:
            absent = [k for k, _ in _SIGNATURE_FIELDS if k not in signature] + (
                ["void"] if "void" not in signature else []
            )
            if absent:
                raise ValueError(f"step {step['id']}: signature lacks {', '.join(absent)}")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="Helvetica", fontSize=8, leading=10)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=16, leading=20, alignment=0),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=11, leading=14),
        "h3": ParagraphStyle("h3", parent=base["Heading3"], fontSize=9, leading=12, spaceBefore=4),
        "body": body,
        "bold": ParagraphStyle("bold", parent=body, fontName="Helvetica-Bold"),
        "mono": ParagraphStyle("mono", parent=body, fontName="Courier", fontSize=7, leading=9),
        "void": ParagraphStyle(
            "void", parent=body, fontName="Helvetica-Bold", fontSize=10, leading=12, textColor=_VOID_RED
        ),
    }


def _t(value: Any) -> str:
    return escape("" if value is None else str(value))


def _grid(data: list, widths: list[float], header: bool) -> Table:
    table = Table(data, colWidths=widths, hAlign="LEFT", repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
    table.setStyle(TableStyle(style))
    return table


def _meta_table(doc: dict[str, Any], styles: dict, width: float) -> Table:
    rows = [
        ("Deployment", doc["deployment"], "body"),
        ("Gate", doc["gate"] or "none", "body"),
        ("Runbook", doc["runbook"], "body"),
        ("Checklist", doc["checklist"], "body"),
        ("Checklist version", doc["version"], "mono"),
        ("Exported at (UTC)", doc["exported_at"], "body"),
    ]
    data = [[Paragraph(_t(k), styles["bold"]), Paragraph(_t(v), styles[s])] for k, v, s in rows]
    return _grid(data, [40 * mm, width - 40 * mm], header=False)


def _artefacts(step: dict[str, Any], styles: dict) -> list[Paragraph]:
    out = []
    for artefact in step["artefacts"]:
        lines = [f"<b>{_t(artefact.get('name'))}</b>"]
        if artefact.get("path"):
            lines.append(_t(artefact["path"]))
        if artefact.get("value"):
            lines.append(_t(artefact["value"]))
        if artefact.get("sha384"):
            lines.append(f'<font name="Courier" size="6.5">sha384:{_t(artefact["sha384"])}</font>')
        out.append(Paragraph("<br/>".join(lines), styles["body"]))
    return out or [Paragraph("-", styles["body"])]


def _signed_state(step: dict[str, Any]) -> str:
    valid = [s for s in step["signatures"] if not s.get("void")]
    voided = len(step["signatures"]) - len(valid)
    text = f"{len(valid)} signature(s)" if valid else "unsigned"
    return text + (f", {voided} void" if voided else "")


def _steps_table(steps: list[dict[str, Any]], styles: dict, width: float) -> Table:
    widths = [8 * mm, 70 * mm, 24 * mm, 70 * mm, 0.0, 24 * mm]
    widths[4] = width - sum(widths)
    header = ["#", "Step", "Responsible", "Acceptance", "Artefacts (SHA-384)", "Signed"]
    data: list[list[Any]] = [[Paragraph(h, styles["bold"]) for h in header]]
    for number, step in enumerate(steps, 1):
        data.append(
            [
                Paragraph(str(number), styles["body"]),
                Paragraph(f"<b>{_t(step['id'])}</b><br/>{_t(step['step'])}", styles["body"]),
                Paragraph(_t(step["responsible"]), styles["body"]),
                Paragraph(_t(step["acceptance"]), styles["body"]),
                _artefacts(step, styles),
                Paragraph(_t(_signed_state(step)), styles["body"]),
            ]
        )
    return _grid(data, widths, header=True)


def _signature_blocks(number: int, step: dict[str, Any], styles: dict, width: float) -> list[Any]:
    heading = Paragraph(f"Step {number}: {_t(step['id'])} ({_t(step['responsible'])})", styles["h3"])
    if not step["signatures"]:
        return [KeepTogether([heading, Paragraph("No signatures.", styles["body"])])]
    out: list[Any] = [heading]
    for signature in step["signatures"]:
        rows: list[list[Any]] = []
        void = signature.get("void")
        if void:
            rows.append(
                [
                    Paragraph("VOID", styles["void"]),
                    Paragraph(
                        f"<b>VOID</b> at {_t(void.get('at'))} (UTC)"
                        + (f" by {_t(void['by'])}" if void.get("by") else "")
                        + f" - reason: {_t(void.get('reason'))}",
                        styles["void"],
                    ),
                ]
            )
        for key, label in _SIGNATURE_FIELDS:
            style = styles["mono"] if key in ("signature", "kid") else styles["body"]
            rows.append([Paragraph(_t(label), styles["bold"]), Paragraph(_t(signature.get(key)), style)])
        table = _grid(rows, [40 * mm, width - 40 * mm], header=False)
        if void:
            table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 1.5, _VOID_RED)]))
        out += [KeepTogether([table]), Spacer(1, 2 * mm)]
    return out
