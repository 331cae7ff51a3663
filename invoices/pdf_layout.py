"""The reportlab pieces both PDFs share: the embedded font, paragraph styles, tables, the page."""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
MARGIN = 15 * mm
CONTENT_WIDTH = A4[0] - 2 * MARGIN


@lru_cache(maxsize=None)
def register_fonts() -> None:
    # The 14 standard PDF fonts have no ő, ű, ș, ț: embed DejaVu (subset) so every name prints.
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


@lru_cache(maxsize=None)
def styles() -> dict[str, ParagraphStyle]:
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9.5),
        "cell_right": ParagraphStyle("cell_right", parent=body, fontSize=7.5, leading=9.5, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=body, fontName=FONT_BOLD, fontSize=7, leading=9),
        "head_right": ParagraphStyle("head_right", parent=body, fontName=FONT_BOLD, fontSize=7, leading=9, alignment=TA_RIGHT),
        "title": ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=4),
        "section": ParagraphStyle("section", parent=body, fontName=FONT_BOLD, fontSize=9.5, leading=12, spaceBefore=8, spaceAfter=3),
        "notice": ParagraphStyle("notice", parent=body, fontName=FONT_BOLD, fontSize=9, leading=12,
                                 borderColor=colors.black, borderWidth=0.8, borderPadding=4, spaceBefore=6, spaceAfter=8),
    }


def para(text: str, style: str = "body", bold: bool = False) -> Flowable:
    """A paragraph of plain text: escaped, so a buyer called "A & B <Kft>" prints as written.

    Almost every paragraph here is a label or a value on one line (or a few lines split at "\n")
    that fits its cell: those are `PlainText`, drawn where Paragraph draws them without parsing
    markup or breaking lines; whatever needs wrapping, a border or anything unusual becomes the
    real Paragraph."""
    st = styles()[style]
    if not (st.borderWidth or st.backColor):
        return PlainText(text, st, FONT_BOLD if bold else st.fontName, bold)
    return _paragraph(text, st, bold)


def _paragraph(text: str, style: ParagraphStyle, bold: bool) -> Paragraph:
    content = escape(text).replace("\n", "<br/>")
    return Paragraph(f"<b>{content}</b>" if bold else content, style)


class PlainText(Flowable):
    """Lines of plain text in one font, each fitting the width: laid out and drawn as Paragraph
    lays out and draws them (Paragraph collapses runs of whitespace; the first baseline lies one
    font size under the top; each line one leading lower; right-aligned lines end at the right
    indent), at a fraction of the cost. Anything else falls back to the Paragraph itself."""

    def __init__(self, text: str, style: ParagraphStyle, font: str, bold: bool):
        super().__init__()
        self.text, self.style, self.font, self.bold = text, style, font, bold
        lines = [" ".join(line.split()) for line in text.split("\n")]
        simple = style.alignment in (TA_LEFT, TA_RIGHT) and all(lines) and not (
            style.firstLineIndent or getattr(style, "autoLeading", "") not in ("", "off")
        )
        self.lines = lines if simple else None
        self.fallback: Paragraph | None = None if simple else _paragraph(text, style, bold)

    def _fall_back(self) -> Paragraph:
        if self.fallback is None:
            self.fallback = _paragraph(self.text, self.style, self.bold)
        return self.fallback

    def wrap(self, availWidth, availHeight):
        if self.fallback is None:
            st = self.style
            room = availWidth - st.leftIndent - st.rightIndent
            widths = [stringWidth(line, self.font, st.fontSize) for line in self.lines]
            if max(widths) <= room:
                self.widths = widths
                self.width, self.height = availWidth, len(self.lines) * st.leading
                return self.width, self.height
        width, height = self._fall_back().wrap(availWidth, availHeight)
        self.width, self.height = width, height
        return width, height

    def split(self, availWidth, availHeight):
        return self._fall_back().split(availWidth, availHeight)

    def getSpaceBefore(self):
        return self.style.spaceBefore

    def getSpaceAfter(self):
        return self.style.spaceAfter

    def drawOn(self, canvas, x, y, _sW=0):
        if self.fallback is not None:
            self.fallback.drawOn(canvas, x, y, _sW)
            return
        st = self.style
        canvas.saveState()
        canvas.setFillColor(st.textColor)
        canvas.setFont(self.font, st.fontSize, st.leading)
        baseline = y + self.height - st.fontSize
        right = x + self.width - st.rightIndent
        for line, width in zip(self.lines, self.widths):
            left = right - width if st.alignment == TA_RIGHT else x + st.leftIndent
            canvas.drawString(left, baseline, line)
            baseline -= st.leading
        canvas.restoreState()


def grid(rows: list[list], widths: list[float], header: bool = True, box: bool = True) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    table.setStyle(_table_style(header, box))
    return table


@lru_cache(maxsize=None)
def _table_style(header: bool, box: bool) -> TableStyle:
    # Shared: Table.setStyle only reads the commands.
    commands = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if box:
        commands += [("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]
    if header:
        commands += [("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE"))]
    return TableStyle(commands)


def build(story: list, *, title: str, footer: str) -> bytes:
    """A4 PDF bytes. `invariant` drops the creation time and random id, so the same document always
    gives the same bytes (its stored hash stays meaningful)."""
    register_fonts()
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN + 4 * mm,
        title=title, author="", creator="seat-billing", invariant=1,
    )

    def on_page(canvas, document):
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(MARGIN, MARGIN - 2 * mm, footer)
        canvas.drawRightString(A4[0] - MARGIN, MARGIN - 2 * mm, str(document.page))
        canvas.restoreState()

    template.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


def party_block(party, role: str, locale: str, *, reverse_charge: bool = False) -> list:
    """Name, address and identifiers of a seller or buyer, as the VAT Act asks."""
    # Imported here: i18n and taxnumbers are pure and cheap, but keep this module's top about layout.
    from invoices.i18n import country_name, label
    from invoices.taxnumbers import HU_TAX_NUMBER

    country = country_name(party.country, locale)
    lines = [para(label(locale, role), "head"), para(party.name, bold=True),
             para(f"{party.postal_code} {party.city}, {party.street}"), para(country)]
    if party.tax_number:
        lines.append(para(f"{label(locale, 'tax_number')}: {party.tax_number}"))
    eu_vat = party.eu_vat_number
    if not eu_vat and reverse_charge and party.tax_number and HU_TAX_NUMBER.is_valid(party.tax_number):
        # On an EU reverse-charge invoice the Hungarian seller's community VAT number is mandatory.
        eu_vat = HU_TAX_NUMBER.eu_vat_number(party.tax_number)
    if eu_vat:
        lines.append(para(f"{label(locale, 'eu_vat_number')}: {eu_vat}"))
    if party.third_country_id:
        lines.append(para(f"{label(locale, 'third_country_id')}: {party.third_country_id}"))
    if party.bank_account:
        lines.append(para(f"{label(locale, 'bank_account')}: {party.bank_account}"))
    return lines
