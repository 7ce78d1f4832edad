"""Synthetic data of the tests: the fixed today and national IDs no real person holds."""

from __future__ import annotations

import itertools
from datetime import date

from surveillance.identity import make_synthetic_id

TODAY = date(2026, 6, 1)

_serial = itertools.count()
_kept: set[str] = set()


def synthetic_id(birth: date = date(1960, 5, 17)) -> str:
    """A fresh synthetic national ID (month + 80, valid check digits), none of the kept ones."""
    while True:
        number = make_synthetic_id(birth, next(_serial) % 500)
        if number and number not in _kept:
            return number


def keep_ids(*numbers: str) -> None:
    """Hand these IDs out no more in this process: they are in rows the tests put back into
    every test's database (tests/web's world), and the serial above comes round again."""
    _kept.update(numbers)
