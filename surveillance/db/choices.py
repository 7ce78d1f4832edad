"""The closed sets of words the database stores outside the protocol's: roles, digest states,
feed owners. StrEnums: each member is its word, so rows, forms and templates read as before."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What an account may do: a nurse works the lists, a clinic administrator also their
    clinics' accounts and setup, an installation administrator every clinic."""

    NURSE = "nurse"
    ADMIN = "admin"
    INSTALL_ADMIN = "install_admin"  # made from the command line


class DigestState(StrEnum):
    """Where a clinic's digest of a day stands in the outbox."""

    PENDING = "pending"  # to send, now or at next_attempt_at
    SENT = "sent"
    FAILED = "failed"  # given up on; `reminders send --retry-failed` tries again
    SKIPPED = "skipped"  # nothing worth sending that day


class FeedKind(StrEnum):
    """Whose controls a calendar feed holds."""

    CLINIC = "clinic"
    USER = "user"  # the controls of the user's clinics
