"""The password rule: long enough, and not among the commonly used or easily guessed ones."""

from __future__ import annotations

from zxcvbn import zxcvbn

from ..errors import InputError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200  # scrypt takes any length; a megabyte would only cost time
# zxcvbn scores 0-4; below 2 a password is among its common-password list or a simple pattern
# (aaaaaaaaaaaa, 123456789012, password1234) that an attacker tries first.
MIN_SCORE = 2
SCORED_PREFIX = 100  # zxcvbn's time grows with the length; the first 100 characters decide


def check_password(password: str | None) -> str:
    """The password, if it is fit to keep; refused otherwise (the value is never echoed)."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            "password", "…", "must be at least %(min)d characters", min=MIN_PASSWORD_LENGTH
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(
            "password", "…", "is longer than %(max)d characters", max=MAX_PASSWORD_LENGTH
        )
    if zxcvbn(password[:SCORED_PREFIX])["score"] < MIN_SCORE:
        raise InputError("password", "…", "is too common or too easy to guess")
    return password
