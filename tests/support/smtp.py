"""A real SMTP server on loopback that can be told to misbehave, and the digests' bookkeeping."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Self

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from surveillance.config import Config, MailConfig
from surveillance.db import writing
from surveillance.db.models import PlannedExam
from surveillance.reminders.mail import SmtpBackend
from surveillance.services import record_booking, record_result, record_treatment

SENDER = "Oppfølging <oppfolging@sykehus.test>"
# Monday 1 June 2026, 06:30 in Oslo (summer time): the send time on TODAY of conftest.
# A worker configuration whose digest is due at once, whatever the day and hour.
ALWAYS_DUE = 'send_time = "00:00"\nweekdays_only = false\nskip_closed_days = false\n'
NOW = datetime(2026, 6, 1, 4, 30, tzinfo=UTC)
MESSAGE_ID = re.compile(r"<digest\.(\d{8})\.([A-Za-z0-9-]+)\.[0-9a-f]{16}@[^>]+>")


def free_port() -> int:
    """A port nobody listens on now (aiosmtpd cannot take port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    """A message the server accepted, with its envelope."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


@dataclass
class Handler:
    """aiosmtpd handler: answers DATA as scripted (one answer per message), then accepts.

    Answers: "250" accept; "4xx ..."/"5xx ..." refuse so; "drop" close the connection
    instead of answering; "stall" wait for `gate`, then refuse 451; "accept_then_stall"
    store the message (the server has it) but answer only after `gate`, too late;
    "hold" wait for `gate`, then accept. `entered` is set when a waiting answer begins.
    """

    script: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    refuse_recipients: dict[str, str] = field(default_factory=dict)
    entered: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        answer = self.script.pop(0) if self.script else "250"
        if answer == "drop":
            server.transport.close()
            return "421 closed"
        if answer in ("stall", "accept_then_stall", "hold"):
            if answer == "accept_then_stall":
                self._store(envelope)
            self.entered.set()
            while not self.gate.is_set():
                await asyncio.sleep(0.02)
            if answer != "hold":
                return "451 4.4.2 too late"
        if answer in ("250", "hold"):
            self._store(envelope)
            return "250 2.0.0 accepted"
        return answer

    def _store(self, envelope) -> None:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))


class SmtpServer:
    """A started aiosmtpd Controller on 127.0.0.1 and its handler."""

    def __init__(self, port: int | None = None, **server_kwargs):
        self.handler = Handler()
        self.port = port or free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **server_kwargs
        )

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.handler.gate.set()  # free a stalled handler before the loop stops
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def backend(self, **overrides) -> SmtpBackend:
        """Our SMTP backend pointed at this server, in plain text unless told otherwise."""
        values = {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "sender": SENDER,
            "timeout": 10.0,
        } | overrides
        return SmtpBackend(**values)


def smtp_config(port: int, **reminders) -> Config:
    """A configuration that sends to 127.0.0.1:port without TLS."""
    config = Config()
    mail = replace(
        MailConfig(),
        backend="smtp",
        host="127.0.0.1",
        port=port,
        security="none",
        sender=SENDER,
        timeout_seconds=10.0,
    )
    return replace(config, mail=mail, reminders=replace(config.reminders, **reminders))


def tally(received: list[Received], expected: set[tuple[str, date]]) -> dict[str, int]:
    """Digests lost, copies of one Message-ID, and different messages for one clinic-day."""
    keys, ids = Counter(), Counter(r.message_id for r in received)
    for message_id in ids:
        day, code = MESSAGE_ID.fullmatch(message_id).groups()
        keys[code, datetime.strptime(day, "%Y%m%d").date()] += 1
    return {
        "lost": len(expected - set(keys)),
        "same_id_copies": sum(n - 1 for n in ids.values()),
        "duplicates": sum(n - 1 for n in keys.values()),  # two Message-IDs for one clinic-day
        "unexpected": len(set(keys) - expected),
    }


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def client_context(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def authenticator(login: bytes, password: bytes):
    """An aiosmtpd authenticator that knows one account."""

    def check(server, session, envelope, mechanism, auth_data):
        known = (auth_data.login, auth_data.password) == (login, password)
        return AuthResult(success=known, handled=False)  # handled=False: aiosmtpd answers 535

    return check


RECIPIENTS = "sykepleier@klinikk.test, Leder@Klinikk.test"
NAMES = ("Kari Nordmann", "Ola Hansen", "Ingrid Berg", "Per Dahl", "Astrid Lie")


def give_work(session, ctx, create_patient, clinic, recipients: str = RECIPIENTS) -> list:
    """The clinic gets digest recipients and a patient on each list of the worklist on TODAY."""
    with writing(session):
        session.merge(clinic).digest_recipients = recipients
    patients = [create_patient(name=name) for name in NAMES]
    anchors = ("2025-01-15", "2025-12-20", "2025-12-10", "2025-11-25", "2025-11-20")
    for patient, anchor in zip(patients, anchors):
        record_treatment(session, ctx, patient.id, date=anchor, kind="resection")

    def first(patient, code):
        return session.scalars(
            sa.select(PlannedExam)
            .where(
                PlannedExam.patient_id == patient.id,
                PlannedExam.code == code,
                PlannedExam.state == "open",
            )
            .order_by(PlannedExam.due)
        ).first()

    # Ingrid: booked, then re-resected: the booking must be cancelled by hand.
    record_booking(session, ctx, first(patients[2], "ct_tap").id, date="2026-06-09")
    record_treatment(session, ctx, patients[2].id, date="2026-05-25", kind="resection")
    # Per: booked for a day now past, no result yet.
    record_booking(session, ctx, first(patients[3], "ct_tap").id, date="2026-05-28")
    # Astrid: a suspicious CT puts her on the MDT list.
    record_result(
        session, ctx, first(patients[4], "ct_tap").id, done_date="2026-05-21", result="suspicious"
    )
    return patients
