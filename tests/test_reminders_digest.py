"""The digest as words and as a MIME message: pure, no database, no server."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from surveillance.cli.reminders import readable
from surveillance.config import Config, ConfigError, RemindersConfig, load_config
from surveillance.errors import InputError
from surveillance.reminders.digest import (
    WAITING,
    DigestContent,
    Line,
    compose,
    has_news,
    render,
    signed,
    worklist_url,
)
from surveillance.reminders.mail import FileBackend, envelope_address
from surveillance.reminders.outbox import MESSAGE_ID, backoff, new_message_id
from surveillance.reminders.recipients import parse_addresses

SNAPSHOTS = Path(__file__).parent / "snapshots"
MONDAY = date(2026, 11, 30)
COUNTS = {
    "to_book": 12,
    "overdue": 5,
    "results_missing": 3,
    "mdt_review": 2,
    "booking_to_cancel": 1,
    "lost_to_follow_up": 2,
    "booked": 9,
    "coordinated": 4,
    "on_hold": 1,
}
BEFORE = {
    "to_book": 10,
    "overdue": 5,
    "results_missing": 4,
    "mdt_review": 2,
    "booking_to_cancel": 0,
    "lost_to_follow_up": 1,
    "booked": 7,
    "coordinated": 3,
    "on_hold": 1,
}


def content(**overrides) -> DigestContent:
    values = dict(
        clinic_code="DEMO",
        clinic_name="Demoklinikken",
        day=MONDAY,
        counts=COUNTS,
        url=worklist_url("https://oppfolging.sykehus.test/", 7),
        previous_day=MONDAY - timedelta(days=3),
        previous_counts=BEFORE,
    )
    return DigestContent(**(values | overrides))


def test_the_lines_in_the_order_a_nurse_works_with_their_change():
    assert content().lines() == (
        Line("to_book", 12, "+2"),
        Line("overdue", 5, "0"),
        Line("results_missing", 3, "-1"),
        Line("mdt_review", 2, "0"),
        Line("booking_to_cancel", 1, "+1"),
        Line("lost_to_follow_up", 2, "+1"),
    )
    # Below them, for information: the controls that wait for someone else.
    assert content().lines(WAITING) == (Line("coordinated", 4, "+1"), Line("on_hold", 1, "0"))


def test_no_change_is_shown_without_an_earlier_digest():
    assert {line.change for line in content(previous_counts=None).lines()} == {None}


@pytest.mark.parametrize(
    "counts, news",
    [
        ({}, False),  # nothing at all
        ({"booked": 4}, False),  # booked exams need no action today
        ({"coordinated": 3, "on_hold": 1}, False),  # nor those waiting for someone else
        ({"booking_to_cancel": 1}, True),  # one appointment to cancel is news
        (dict.fromkeys(COUNTS, 0) | {"overdue": 1}, True),
    ],
)
def test_has_news(counts, news):
    assert has_news(counts) is news


@pytest.mark.parametrize("number, shown", [(3, "+3"), (0, "0"), (-2, "-2")])
def test_signed(number, shown):
    assert signed(number) == shown


NB_TEXT = """\
Arbeidsliste for Demoklinikken
mandag 30. november 2026

Å bestille:                  12  (+2)
Forsinket:                    5  (0)
Bestilt, mangler svar:        3  (-1)
Til MDT-vurdering:            2  (0)
Time å avbestille:            1  (+1)
Tapt for oppfølging:          2  (+1)

Venter på andre (til orientering):
Koordinert:                   4  (+1)
På vent:                      1  (0)

I parentes: endringen siden fredag 27. november 2026.

Åpne arbeidslisten:
https://oppfolging.sykehus.test/?clinic=7

-- 
Denne e-posten inneholder bare antall, ingen pasientopplysninger.
Du får den som mottaker av den daglige oversikten for Demoklinikken.
"""

EN_TEXT = """\
Worklist for Demoklinikken
Monday, November 30, 2026

To book:                     12  (+2)
Overdue:                      5  (0)
Booked, no result:            3  (-1)
Needs MDT review:             2  (0)
Booking to cancel:            1  (+1)
Lost to follow-up:            2  (+1)

Waiting for someone else (for your information):
Coordinated:                  4  (+1)
On hold:                      1  (0)

In brackets: the change since Friday, November 27, 2026.

Open the worklist:
https://oppfolging.sykehus.test/?clinic=7

-- 
This e-mail holds counts only, no patient information.
You get it as a recipient of the daily digest of Demoklinikken.
"""


@pytest.mark.parametrize(
    "language, subject, text",
    [
        ("nb", "[DEMO] Arbeidsliste 30.11.2026: 12 å bestille, 5 forsinket", NB_TEXT),
        ("en", "[DEMO] Worklist 11/30/2026: 12 to book, 5 overdue", EN_TEXT),
    ],
)
def test_the_text_part_snapshot(language, subject, text):
    rendered = render(content(), language)
    assert rendered.subject == subject
    assert rendered.text == text


def test_the_html_part_snapshot():
    html = render(content(), "nb").html
    snapshot = SNAPSHOTS / "digest_nb.html"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(html, "utf-8")
    assert html == snapshot.read_text("utf-8")


def test_since_yesterday_and_the_opted_in_references():
    text = render(
        content(
            previous_day=MONDAY - timedelta(days=1),
            references={"to_book": [f"P-{n:04d}" for n in range(1, 16)]},
        ),
        "nb",
    ).text
    assert "I parentes: endringen siden i går." in text
    assert (
        "Å bestille:                  12  (+2)\n"
        "    P-0001, P-0002, P-0003, P-0004, P-0005, P-0006, P-0007, P-0008, P-0009,\n"
        "    P-0010, P-0011, P-0012, P-0013, P-0014, P-0015\n"
    ) in text
    assert "Ikke videresend den." in text


def test_nothing_to_do_says_so():
    text = render(content(counts={}, previous_counts=None), "nb").text
    assert "Ingenting å gjøre i dag." in text and "I parentes" not in text


def test_the_html_escapes_what_it_is_given():
    html = render(content(clinic_name="Lever & <galle>"), "nb").html
    assert "Lever &amp; &lt;galle&gt;" in html and "<galle>" not in html


def message(**overrides):
    values = dict(
        sender="Oppfølging <oppfolging@sykehus.test>",
        recipients=["a@sykehus.test", "b@sykehus.test"],
        message_id="<digest.20261130.DEMO.0123456789abcdef@sykehus.test>",
        date=datetime(2026, 11, 30, 6, 30, tzinfo=timezone(timedelta(hours=1))),
        language="nb",
    )
    return compose(render(content(), "nb"), **(values | overrides))


def test_the_message_has_our_key_as_message_id_and_two_alternative_parts():
    parsed = message_from_bytes(message().as_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == "<digest.20261130.DEMO.0123456789abcdef@sykehus.test>"
    assert parsed["To"] == "a@sykehus.test, b@sykehus.test"
    assert parsed["From"] == "Oppfølging <oppfolging@sykehus.test>"
    assert parsed["Date"] == "Mon, 30 Nov 2026 06:30:00 +0100"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Content-Language"] == "nb"
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert {p["Content-Transfer-Encoding"] for p in parts} == {"quoted-printable"}
    assert parts[0].get_content().replace("\r\n", "\n") == NB_TEXT
    assert message().as_bytes().isascii()  # 7-bit: any relay carries it


def test_a_readable_print_shows_headers_and_both_parts_decoded():
    shown = readable(message())
    assert shown.startswith("Subject: [DEMO] Arbeidsliste 30.11.2026: 12 å bestille")
    assert "\n--- text/plain ---\nArbeidsliste for Demoklinikken\n" in shown
    assert "\n--- text/html ---\n<!DOCTYPE html>" in shown


def test_the_file_backend_writes_one_file_per_message_id(tmp_path):
    backend = FileBackend(tmp_path / "outbox")
    backend.send(message(), ["a@sykehus.test"])
    backend.send(message(), ["a@sykehus.test"])  # a resend overwrites
    [written] = (tmp_path / "outbox").iterdir()
    assert written.name == "digest.20261130.DEMO.0123456789abcdef@sykehus.test.eml"
    assert message_from_bytes(written.read_bytes())["Subject"]


@pytest.mark.parametrize(
    "sender, domain",
    [
        ("Oppfølging <oppfolging@sykehus.test>", "sykehus.test"),
        ("oppfolging@sykehus.test", "sykehus.test"),
    ],
)
def test_message_ids_are_unique_and_name_clinic_and_day(sender, domain):
    first, second = (new_message_id("HUS 1", MONDAY, sender) for _ in range(2))
    assert first != second
    assert MESSAGE_ID.fullmatch(first)
    assert first.startswith("<digest.20261130.HUS-1.") and first.endswith(f"@{domain}>")


@pytest.mark.parametrize(
    "attempts, minutes",
    [
        (1, 5),
        (2, 10),
        (3, 20),
        (4, 40),  # doubling from retry_first_minutes...
        (5, 60),
        (30, 60),  # ...up to retry_max_minutes
    ],
)
def test_backoff(attempts, minutes):
    assert backoff(attempts, RemindersConfig()) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    "text, addresses",
    [
        ("", []),
        ("a@x.no", ["a@x.no"]),
        ("A@X.no, b@y.no;c@z.no\nd@w.no", ["a@x.no", "b@y.no", "c@z.no", "d@w.no"]),
        ("a@x.no, A@x.no", ["a@x.no"]),  # each once
        ("root@localhost", ["root@localhost"]),
    ],
)
def test_parse_addresses(text, addresses):
    assert parse_addresses(text) == addresses


@pytest.mark.parametrize("text", ["nurse", "a@b", "Kari <a@x.no>", "a@@x.no"])
def test_parse_addresses_refuses(text):
    with pytest.raises(InputError, match="is not an e-mail address"):
        parse_addresses(text)


def test_envelope_address():
    assert envelope_address("Oppfølging <oppfolging@sykehus.test>") == "oppfolging@sykehus.test"


# --- configuration


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_mail_and_reminders_sections(tmp_path):
    config = load_config(
        write(
            tmp_path,
            '[mail]\nbackend = "smtp"\nhost = "smtp.sykehus.test"\n'
            'port = 465\nsecurity = "ssl"\ntimeout_seconds = 10\n'
            '[reminders]\nsend_time = "07:15"\nlanguage = "en"\n',
        ),
        environ={},
    )
    assert (config.mail.backend, config.mail.port, config.mail.timeout_seconds) == (
        "smtp",
        465,
        10.0,
    )
    assert (config.reminders.send_time, config.reminders.language) == ("07:15", "en")


def test_defaults_need_no_file():
    config = load_config(environ={})
    assert config.mail.backend == "file" and config.mail.outbox_dir == "instance/outbox"
    assert config.reminders == RemindersConfig()
    assert config.reminders.send_time == "06:30" and not config.reminders.send_when_empty


def test_the_smtp_password_may_come_from_the_environment(tmp_path):
    config = load_config(
        write(tmp_path, '[mail]\npassword = "in-the-file"\n'),
        environ={"SURVEILLANCE_SMTP_PASSWORD": "from-env"},
    )
    assert config.mail.password == "from-env"


@pytest.mark.parametrize(
    "text, error",
    [
        ('[mail]\nhots = "x"\n', "unknown configuration key 'mail.hots'"),
        ('[reminders]\nsend_at = "06:30"\n', "unknown configuration key 'reminders.send_at'"),
        ('[mail]\nbackend = "sendmail"\n', "mail.backend: 'sendmail' is not one of file, smtp"),
        ('[mail]\nsecurity = "tls"\n', "mail.security: 'tls' is not one of starttls, ssl, none"),
        ("[mail]\nport = 0\n", "mail: port must be 1-65535"),
        ('[mail]\nsender = "nobody"\n', "sender an e-mail address"),
        ('[reminders]\nsend_time = "6.30"\n', "reminders.send_time: '6.30' is not HH:MM"),
        ('[reminders]\nsend_time = "24:00"\n', "reminders.send_time: '24:00' is not HH:MM"),
        ('[reminders]\nlanguage = "nn"\n', "reminders.language: 'nn' is not one of nb, en"),
        ("[reminders]\nmax_attempts = 0\n", "reminders.max_attempts: 0 must be at least 1"),
        (
            '[reminders]\nweekdays_only = "yes"\n',
            "reminders.weekdays_only: 'yes' is not a valid bool",
        ),
    ],
)
def test_bad_settings_fail_at_start(tmp_path, text, error):
    with pytest.raises(ConfigError, match=error.replace(".", r"\.").replace("(", r"\(")):
        load_config(write(tmp_path, text), environ={})


def test_reminders_config_is_frozen():
    with pytest.raises(AttributeError):
        Config().reminders.send_time = "07:00"
    assert replace(Config().reminders, send_time="07:00").send_time == "07:00"
