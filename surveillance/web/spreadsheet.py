"""CSV for a spreadsheet: what Excel opens in Norway with æ, ø and å, and never as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# A cell that starts with one of these is a formula to Excel or LibreOffice (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with a BOM (Excel's cue for UTF-8) and ";" (the separator of a Norwegian Excel)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def safe_cell(value: object) -> str:
    """The cell as text; one that a spreadsheet would run as a formula gets a leading "'"."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
