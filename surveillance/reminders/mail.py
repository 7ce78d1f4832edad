"""Mail backends: an SMTP server (STARTTLS or SSL, login, timeouts), or .eml files for the demo."""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from ..config import MailConfig


class TemporaryFailure(Exception):
    """Try again later: a 4xx answer, a dropped connection, no server, a timeout."""


class PermanentFailure(Exception):
    """Refused for good (a 5xx answer): sending the same again will not help."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """The server took the message; these recipients it refused (address -> its answer)."""

    refused: dict[str, str] = field(default_factory=dict)


class Backend(Protocol):
    """Something that delivers a message to its recipients."""

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> Delivery:
        """Deliver, or raise TemporaryFailure or PermanentFailure."""


def make_backend(config: MailConfig) -> Backend:
    """The configured backend."""
    if config.backend == "smtp":
        return SmtpBackend(
            config.host,
            config.port,
            config.security,
            config.sender,
            config.username,
            config.password,
            config.timeout_seconds,
        )
    return FileBackend(Path(config.outbox_dir))


@dataclass(frozen=True)
class SmtpBackend:
    """An SMTP server; `context` verifies its certificate (the system's CAs by default)."""

    host: str
    port: int
    security: str  # "starttls", "ssl" or "none"
    sender: str
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    context: ssl.SSLContext | None = None

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> Delivery:
        """Deliver over one connection; the server's answer decides temporary or permanent."""
        try:
            with self._connect() as smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._context())
                if self.username:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(
                    message, envelope_address(self.sender), list(recipients)
                )
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refusal(exc.recipients) from None
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, _answer(exc.smtp_code, exc.smtp_error)) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentFailure(f"the server does not support it: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:  # dropped, refused, timed out, TLS
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        return Delivery({address: _answer(*answer) for address, answer in refused.items()})

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _context(self) -> ssl.SSLContext:
        return self.context or ssl.create_default_context()


def envelope_address(sender: str) -> str:
    """The bare address of a From value ("Name <a@b>" -> "a@b")."""
    return parseaddr(sender)[1] or sender


def _answer(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(text.split())}"


def _by_code(code: int, answer: str) -> Exception:
    return PermanentFailure(answer) if 500 <= code < 600 else TemporaryFailure(answer)


def _refusal(recipients: dict) -> Exception:
    answers = "; ".join(f"{address}: {_answer(*answer)}" for address, answer in recipients.items())
    temporary = any(code < 500 for code, _ in recipients.values())
    return (TemporaryFailure if temporary else PermanentFailure)(f"recipients refused: {answers}")


@dataclass(frozen=True)
class FileBackend:
    """Writes each message as an .eml file named by its Message-ID: a rerun overwrites it."""

    folder: Path

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> Delivery:
        """Write the message; a file system error is temporary."""
        name = re.sub(r"[^A-Za-z0-9.@_-]", "_", message["Message-ID"].strip("<> ")) + ".eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.folder / name, message.as_bytes())
        except OSError as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None
        return Delivery()


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader (or a crash) never sees half a message: write aside, then rename.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
