"""The report as PDF (reportlab): the same content as the HTML, laid out for print.

reportlab is a long-maintained (since 2000), BSD-licensed PDF library on PyPI
with wheels for every platform, no system libraries and no network at run time;
its page layout engine (Platypus) flows paragraphs, tables and images across
pages and writes internal links. (WeasyPrint would reuse the HTML but needs the
Pango/HarfBuzz system libraries; matplotlib's PdfPages has no text flow.)

Every sentence ends in a numbered link to its entry in the Evidence section
(the facts it cites, with their source); every page carries
:data:`~radcycle.reporting.export.codes.DRAFT_NOTICE` at the top, or the signature
once a person has signed (:func:`~radcycle.reporting.export.codes.notice_for`). Text is set in
DejaVu Sans (shipped with matplotlib), so any character of the report prints.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from radcycle.reporting.export.codes import notice_for
from radcycle.reporting.export.document import (
    ReportView,
    describe_fact,
    read_report,
    response_table,
)
from radcycle.reporting.export.keyimage import KeyImage
from radcycle.reporting.export.output import export

log = logging.getLogger(__name__)

__all__ = ["build_pdf", "render_pdf"]

_FONT = "RadcycleSans"
_LINK = "#0b5cad"
_RED = "#b00020"


def _font() -> str:
    from matplotlib import get_data_path
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if _FONT not in pdfmetrics.getRegisteredFontNames():
        ttf = Path(get_data_path()) / "fonts" / "ttf"
        pdfmetrics.registerFont(TTFont(_FONT, str(ttf / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(f"{_FONT}-Bold", str(ttf / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily(_FONT, normal=_FONT, bold=f"{_FONT}-Bold")
    return _FONT


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14, spaceAfter=4)
    return {
        "body": body,
        "title": ParagraphStyle(
            "title", parent=body, fontName=f"{font}-Bold", fontSize=16, leading=20, spaceAfter=6
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=body,
            fontName=f"{font}-Bold",
            fontSize=12,
            leading=16,
            spaceBefore=10,
            spaceAfter=4,
        ),
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10),
        "draft": ParagraphStyle(
            "draft", parent=body, fontName=f"{font}-Bold", textColor=_RED, fontSize=11
        ),
    }


def _sections(view: ReportView, st: dict[str, Any]) -> list[Any]:
    from reportlab.platypus import Paragraph

    out: list[Any] = []
    numbers = _numbers(view)
    for section in view.sections:
        out.append(Paragraph(escape(section.title), st["h2"]))
        for paragraph in view.paragraphs(section):
            parts = []
            for s in paragraph:
                mark = "" if s.verified else f' <font color="{_RED}">(unverified)</font>'
                parts.append(
                    f'{escape(s.text)}{mark}<a href="#ev-{escape(s.id)}" color="{_LINK}">'
                    f"<super>[{numbers[s.id]}]</super></a>"
                )
            out.append(Paragraph(" ".join(parts), st["body"]))
    return out


def _numbers(view: ReportView) -> dict[str, int]:
    """Each sentence's number in the report (its evidence entry's number)."""
    ids = [s.id for section in view.sections for s in section.sentences]
    return {sid: n for n, sid in enumerate(ids, start=1)}


def _table(view: ReportView, st: dict[str, Any]) -> list[Any]:
    from reportlab.platypus import Paragraph, Table, TableStyle

    header, rows = response_table(view)
    if not rows:
        return []
    cells = [[Paragraph(escape(c), st["small"]) for c in row] for row in [header, *rows]]
    table = Table(cells, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, "#999999"),
                ("BACKGROUND", (0, 0), (-1, 0), "#eeeeee"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return [Paragraph("Measurements and response", st["h2"]), table]


def _image(png: bytes, width_mm: float) -> Any:
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image

    w, h = ImageReader(io.BytesIO(png)).getSize()
    return Image(io.BytesIO(png), width=width_mm * mm, height=width_mm * mm * h / w)


def _figures(
    key_images: Mapping[str, KeyImage], charts: Mapping[str, bytes], st: dict[str, Any]
) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, Table

    out: list[Any] = []
    if key_images:
        cells = [
            [_image(k.png, 52), Paragraph(escape(k.caption), st["small"])]
            for k in key_images.values()
        ]
        grid: list[list[Any]] = [cells[i : i + 3] for i in range(0, len(cells), 3)]
        grid[-1] += [""] * (3 - len(grid[-1]))
        table = Table(grid, colWidths=[56 * mm] * 3, hAlign="LEFT")
        out += [Paragraph("Key images", st["h2"]), table]
    for title, png in charts.items():
        out.append(KeepTogether([Paragraph(escape(title), st["h2"]), _image(png, 150)]))
    return out


def _evidence(view: ReportView, st: dict[str, Any]) -> list[Any]:
    from reportlab.platypus import Paragraph

    out: list[Any] = [Paragraph("Evidence", st["h2"])]
    numbers = _numbers(view)
    for section in view.sections:
        for s in section.sentences:
            number = numbers[s.id]
            facts = [describe_fact(f) for f in view.evidence(s)] or ["no fact cited"]
            lines = "<br/>".join(f"&bull; {escape(x)}" for x in facts)
            out.append(
                Paragraph(
                    f'<a name="ev-{escape(s.id)}"/>[{number}] {escape(s.text)}<br/>{lines}',
                    st["small"],
                )
            )
    return out


def _rejections(view: ReportView, st: dict[str, Any]) -> list[Any]:
    from reportlab.platypus import Paragraph

    if not view.rejections:
        return []
    out: list[Any] = [Paragraph("Drafted sentences rejected by the verifier", st["h2"])]
    for r in view.rejections:
        reasons = "; ".join(str(x) for x in r.get("reasons") or ())
        out.append(Paragraph(f"{escape(str(r.get('text', '')))} ({escape(reasons)})", st["small"]))
    return out


def _page(patient: str, notice: str) -> Any:
    from reportlab.lib.units import mm

    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        width, height = doc.pagesize
        canvas.setFont(f"{_FONT}-Bold", 9)
        canvas.setFillColor(_RED)
        canvas.drawString(doc.leftMargin, height - 12 * mm, notice)
        canvas.setFont(_FONT, 8)
        canvas.setFillColor("#555555")
        canvas.drawRightString(
            width - doc.rightMargin, 10 * mm, f"patient {patient} - page {doc.page}"
        )
        canvas.restoreState()

    return draw


def build_pdf(
    report: Mapping[str, Any],
    *,
    key_images: Mapping[str, KeyImage] | None = None,
    charts: Mapping[str, bytes] | None = None,
) -> bytes:
    """The PDF bytes of the report (see :func:`render_pdf`)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    view = read_report(report)
    notice = notice_for(view.status)
    st = _styles()
    story: list[Any] = [
        Paragraph("CT report", st["title"]),
        Paragraph(escape(notice), st["draft"]),
        Paragraph(
            f"Patient {escape(view.patient_id)} - generated {escape(view.generated)} - "
            f"writer {escape(view.writer)}",
            st["small"],
        ),
        *(Paragraph(f"warning: {escape(w)}", st["small"]) for w in view.warnings),
        *_sections(view, st),
        *_table(view, st),
        *_figures(key_images or {}, charts or {}, st),
        *_rejections(view, st),
        *_evidence(view, st),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        topMargin=18 * mm,
        bottomMargin=16 * mm,
        title=f"Report {view.patient_id} ({notice})",
        author="radcycle",
        subject=notice,
        invariant=True,
    )
    page = _page(view.patient_id, notice)
    doc.build(story, onFirstPage=page, onLaterPages=page)
    return buffer.getvalue()


def render_pdf(
    report: Mapping[str, Any],
    path: str | Path,
    *,
    key_images: Mapping[str, KeyImage] | None = None,
    charts: Mapping[str, bytes] | None = None,
    force: bool = False,
) -> Path:
    """Write the report as PDF; arguments and errors as for
    :func:`~radcycle.reporting.export.html.render_html`."""
    export(
        path,
        force,
        lambda: build_pdf(report, key_images=key_images, charts=charts),
        lambda data, tmp: tmp.write_bytes(data),
    )
    log.info("wrote PDF report to %s", path)
    return Path(path)
