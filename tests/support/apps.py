"""The dashboards the tests make: one per test, all sharing the templates compiled once.

A test makes a fresh app (its own configuration and database), and a fresh app has a
fresh Jinja environment that parses and compiles every template it renders again: a
third of the web tests' time went there. The apps of a test run are made by the same
`create_app`, so their environments are alike (same extensions, gettext, autoescape) and
the compiled code of a template is the same in each; Jinja's bytecode cache hands it on.
Its key is the template's name and file and its check is the source's hash: an edited
template is compiled again.
"""

from __future__ import annotations

from types import CodeType

from flask import Flask
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket


class SharedBytecode(BytecodeCache):
    """Compiled templates kept in memory for the rest of the test process."""

    def __init__(self) -> None:
        self._code: dict[str, tuple[str, CodeType | None]] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        checksum, code = self._code.get(bucket.key, ("", None))
        if checksum == bucket.checksum:  # else the source changed: compiled again
            bucket.code = code

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = (bucket.checksum, bucket.code)


COMPILED_TEMPLATES = SharedBytecode()


def sharing_templates(app: Flask) -> Flask:
    """The app, its templates compiled once per test process rather than once per app."""
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    return app
