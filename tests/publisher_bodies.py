"""Demo-DGP bodies as a publisher would serve them: without the demo's provenance markers.

Tests that let a local server (or a hand-written real vintage) play the publisher
draw realistic bodies from the demo DGP.  The demo marks its files as synthetic in
their content (the workbook's ``SYNTHETIC_DEMO`` dictionary row, the Comtrade
envelope's ``elapsedTime``, the customs CSV's ``synthetic`` column), and the raw
store refuses such content in a real vintage.  :func:`as_published` removes exactly
those markers, and nothing else, so the bodies parse as before.  Test code only:
the package itself has no way to unmark demo data.
"""

from __future__ import annotations

import re

#: Same length as ``SYNTHETIC_DEMO``, so the workbook's string table keeps its layout.
_WORKBOOK_MARKER = (b"SYNTHETIC_DEMO", b"PUBLISHER_NOTE")
_ELAPSED = re.compile(rb'"elapsedTime"\s*:\s*"SYNTHETIC DEMO"')


def as_published(body: bytes) -> bytes:
    """``body`` without the demo's in-file provenance markers (see the module docstring)."""
    if body.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE2 (.xls) workbook
        marker, replacement = _WORKBOOK_MARKER
        return body.replace(marker, replacement)
    if _ELAPSED.search(body):
        return _ELAPSED.sub(b'"elapsedTime":"0.42 secs"', body)
    lines = body.decode("utf-8").split("\n")
    header = lines[0].split(",")
    if "synthetic" not in header:
        return body
    drop = header.index("synthetic")
    kept = [",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in lines]
    return "\n".join(kept).encode("utf-8")
