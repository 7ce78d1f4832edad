"""Synthetic data of the tests: the fixed today and national IDs no real person holds."""

from __future__ import annotations

import itertools
from datetime import date

from surveillance.identity import make_synthetic_id

TODAY = date(2026, 6, 1)

_serial = itertools.count()


def synthetic_id(birth: date = date(1960, 5, 17)) -> str:
    """A fresh synthetic national ID (month + 80, valid check digits)."""
    while True:
        if number := make_synthetic_id(birth, next(_serial) % 500):
            return number
