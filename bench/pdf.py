"""Invoice PDFs per second on one core, next to reportlab drawing the same text on a bare canvas.

`render_document_pdf` lays the document out with platypus (paragraphs, tables, embedded DejaVu).
The baseline draws the very strings the renderer put into its paragraphs (captured once per
document and locale, outside the timing) with `canvas.drawString` in the same embedded fonts and
sizes, one line under the other: what reportlab costs without any layout.

Goal (issue): >= 100 PDFs/s and >= half the bare rate.
"""
from __future__ import annotations

import io
import os
import sys

import common as c
from docs import LOCALES, documents


def capture_texts(doc, locale) -> list[tuple[str, str]]:
    """(text, style) of every paragraph the renderer makes for this document."""
    import invoices.pdf as pdf
    import invoices.pdf_layout as layout

    texts: list[tuple[str, str]] = []
    real = layout.para

    def spy(text, style="body", bold=False):
        texts.append((text, "head" if bold else style))
        return real(text, style, bold)

    pdf.para = layout.para = spy
    try:
        pdf.render_document_pdf(doc, locale)
    finally:
        pdf.para = layout.para = real
    return texts


def bare_pdf(texts: list[tuple[str, str]], footer: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    from invoices.pdf_layout import MARGIN, styles

    st = styles()  # registers the same embedded fonts
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    y = A4[1] - MARGIN
    for text, style in texts:
        s = st[style]
        for line in text.split("\n"):
            if y < MARGIN + 20:
                canvas.showPage()
                y = A4[1] - MARGIN
            canvas.setFont(s.fontName, s.fontSize)
            canvas.drawString(MARGIN, y, line)
            y -= s.leading
    canvas.setFont(st["body"].fontName, 7)
    canvas.drawString(MARGIN, MARGIN - 6, footer)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=None, help="PDFs (default 2,000; quick 300)")
    args = p.parse_args()
    n = args.n or (300 if args.quick else 2000)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    from invoices.pdf import render_document_pdf

    work = [(d, LOCALES[i % len(LOCALES)]) for i, d in enumerate(documents(n))]
    texts = [capture_texts(d, loc) for d, loc in work[:16]]  # 16 distinct (kind, locale) pairs, reused
    for d, loc in work[:8]:  # warm up fonts and caches on both sides
        render_document_pdf(d, loc)
    for t in texts[:8]:
        bare_pdf(t, "warm")
    with c.timed() as real:
        size = sum(len(render_document_pdf(d, loc)) for d, loc in work)
    with c.timed() as bare:
        bare_size = sum(len(bare_pdf(texts[i % 16], d.number)) for i, (d, _) in enumerate(work))
    # Per CPU-second of this single-threaded process: the machine is shared, wall time is not ours.
    rate, bare_rate = n / real["cpu"], n / bare["cpu"]
    c.emit("pdf", "invoice PDFs/s (1 core)", rate, "PDFs/s", baseline=bare_rate,
           goal=">= 100/s and >= 1/2 bare", passed=rate >= 100 and rate >= bare_rate / 2, n=n,
           wall_rate=n / real["s"], bare_wall_rate=n / bare["s"], clock="process CPU time",
           avg_kib=size / n / 1024, bare_avg_kib=bare_size / n / 1024)


if __name__ == "__main__":
    sys.exit(main())
