"""What a service refuses, said so a nurse can act on it."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal with a message for the user; nothing was changed."""


class InputError(ServiceError, ValueError):
    """Bad input: names the field and the value.

    `problem` is an English message of the translation catalogue with %(name)s
    placeholders filled from `params`: the dashboard shows it in the reader's language.
    """

    def __init__(self, field: str, value: object, problem: str, **params):
        self.field, self.value, self.problem, self.params = field, value, problem, params
        super().__init__(f"{field}: {value!r} {problem % params if params else problem}")


class NotFound(ServiceError, LookupError):
    """No such record (or not one of the user's clinics)."""


class Conflict(ServiceError):
    """Someone else changed the record first; their change is kept."""


class Busy(ServiceError):
    """The database stayed locked by another writer past the busy timeout; nothing was saved."""
