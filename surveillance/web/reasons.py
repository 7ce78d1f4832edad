"""The MDT list's reasons in words, with their values ("CEA 7,2 µg/L over grensen 5,0")."""

from __future__ import annotations

from datetime import date

from flask_babel import format_date, format_decimal
from flask_babel import gettext as _

from .labels import label


def mdt_reasons(stored: str | None, limit: float) -> list[str]:
    """Each stored reason ("cea_high cea 2026-06-25 7.2", see services/plans.py) in words."""
    return [_words(part.split(), limit) for part in (stored or "").split(";") if part.strip()]


def _words(parts: list[str], limit: float) -> str:
    reason, rest = parts[0], parts[1:]
    day = next((date.fromisoformat(p) for p in rest if _is_date(p)), None)
    values = [format_decimal(float(p)) for p in rest if _is_number(p)]
    shown = format_date(day, "dd.MM.yyyy") if day else ""
    if reason == "cea_high" and values:
        return _(
            "CEA %(value)s µg/L over the limit %(limit)s (%(day)s)",
            value=values[-1],
            limit=format_decimal(limit),
            day=shown,
        )
    if reason == "cea_rising" and values:
        return _("CEA rising: %(values)s (%(day)s)", values=" → ".join(values), day=shown)
    if reason == "ct_suspicious":
        return _("%(exam)s suspicious %(day)s", exam=label(rest[0]) if rest else "CT", day=shown)
    if reason == "hold_lapsed":
        return _("Hold lapsed without treatment %(day)s", day=shown)
    return " ".join([label(reason), shown]).strip()  # a reason stored by an earlier version


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return not _is_date(text)
