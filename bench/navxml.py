"""NAV InvoiceData XML: build + validate per invoice, next to merely parsing and validating the
same bytes.

`build_invoice_data(doc)` then `validate_invoice_data(xml)` for N invoices and credit notes; the
baseline is `etree.fromstring` + `XMLSchema.validate` on the bytes produced, with the schema
compiled once beforehand (as the project caches it too).

Goal (issue): >= 1,000 invoices/s and >= half the bare rate.
"""
from __future__ import annotations

import sys

import common as c
from docs import documents


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=None, help="invoices (default 10,000; quick 2,000)")
    args = p.parse_args()
    n = args.n or (2000 if args.quick else 10_000)
    from lxml import etree

    from nav_reporting.schemas import load_schema
    from nav_reporting.xml import build_invoice_data, validate_invoice_data

    docs = documents(n)
    schema = load_schema("invoiceData.xsd")  # compiled once, outside both timings
    for d in docs[:20]:
        validate_invoice_data(build_invoice_data(d))
    with c.timed() as real:
        out = []
        for d in docs:
            xml = build_invoice_data(d, original_line_count=1)
            validate_invoice_data(xml)
            out.append(xml)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    with c.timed() as bare:
        for xml in out:
            if not schema.validate(etree.fromstring(xml, parser=parser)):
                raise RuntimeError("bare validation failed")
    # Per CPU-second of this single-threaded process: the machine is shared, wall time is not ours.
    rate, bare_rate = n / real["cpu"], n / bare["cpu"]
    c.emit("navxml", "NAV InvoiceData build+validate/s", rate, "invoices/s", baseline=bare_rate,
           goal=">= 1000/s and >= 1/2 bare", passed=rate >= 1000 and rate >= bare_rate / 2, n=n,
           wall_rate=n / real["s"], bare_wall_rate=n / bare["s"], clock="process CPU time",
           avg_bytes=sum(map(len, out)) / n)


if __name__ == "__main__":
    sys.exit(main())
