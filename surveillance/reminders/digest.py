"""The digest's content: counts by action and their change, rendered to a MIME message.

Pure: no database, no clock. By default it carries no patient identity at all: no name,
no national ID, no local reference, no exam name (an e-mail is not a safe channel for
health data); a clinic may opt in to local references.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from urllib.parse import urlencode

from babel.dates import format_date, format_skeleton
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..i18n import translations
from ..resources import shipped_dir

# The worklist's lists a nurse acts on, in the order of the e-mail ("booked" needs no action).
# Lost to follow-up (R14): someone must reach the patient.
ACTIONS = (
    "to_book",
    "overdue",
    "results_missing",
    "mdt_review",
    "booking_to_cancel",
    "lost_to_follow_up",
)
# Controls that wait for someone else, counted below the actions so that none is out of
# sight: coordinated ones for the primary-tumour control (R8), those on hold for the MDT's
# treatment (R13). They are no news on their own.
WAITING = ("coordinated", "on_hold")


@dataclass(frozen=True, slots=True)
class Line:
    """One list of the digest: its count, the change since the last digest, references."""

    action: str
    count: int
    change: str | None  # "+2", "-1", "0"; None without an earlier digest
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DigestContent:
    """What one clinic's digest of one day says."""

    clinic_code: str
    clinic_name: str
    day: date
    counts: Mapping[str, int]
    url: str
    previous_day: date | None = None
    previous_counts: Mapping[str, int] | None = None
    references: Mapping[str, Sequence[str]] | None = None

    def lines(self, lists: tuple[str, ...] = ACTIONS) -> tuple[Line, ...]:
        """The lists in the e-mail's order: those to act on, or `lists`."""
        return tuple(
            Line(
                action,
                self.counts.get(action, 0),
                self._change(action),
                tuple((self.references or {}).get(action, ())),
            )
            for action in lists
        )

    def _change(self, action: str) -> str | None:
        if self.previous_counts is None:
            return None
        return signed(self.counts.get(action, 0) - self.previous_counts.get(action, 0))


@dataclass(frozen=True, slots=True)
class Rendered:
    """A digest as words: the subject, the plain text and the HTML."""

    subject: str
    text: str
    html: str


def has_news(counts: Mapping[str, int]) -> bool:
    """Whether any list needs a nurse's action: otherwise there is nothing to say."""
    return any(counts.get(action, 0) for action in ACTIONS)


def signed(number: int) -> str:
    """A change as shown: +2, -1, 0."""
    return f"{number:+d}" if number else "0"


def worklist_url(base_url: str, clinic_id: int) -> str:
    """The dashboard's worklist (its home page) filtered to one clinic."""
    return f"{base_url.rstrip('/')}/?{urlencode({'clinic': clinic_id})}"


def render(digest: DigestContent, language: str) -> Rendered:
    """The digest in a language, from templates/email/."""
    env = _environment(language)
    values = _values(digest, language)
    subject = " ".join(env.get_template("email/digest_subject.txt").render(values).split())
    values["subject"] = subject
    return Rendered(
        subject,
        env.get_template("email/digest.txt").render(values),
        env.get_template("email/digest.html").render(values),
    )


def _values(digest: DigestContent, language: str) -> dict:
    previous = digest.previous_day if digest.previous_counts is not None else None
    return {
        "language": language,
        "clinic_code": digest.clinic_code,
        "clinic_name": digest.clinic_name,
        "counts": {action: digest.counts.get(action, 0) for action in ACTIONS + WAITING},
        "lines": digest.lines(),
        "waiting": digest.lines(WAITING),
        "day_long": format_date(digest.day, "full", locale=language),
        "day_short": format_skeleton("yMd", digest.day, locale=language),
        "since_yesterday": previous == digest.day - timedelta(days=1),
        "since_label": previous and format_date(previous, "full", locale=language),
        "url": digest.url,
        "with_references": digest.references is not None,
        "empty": not has_news(digest.counts),
    }


@lru_cache(maxsize=4)
def _environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(shipped_dir("templates")),
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # The i18n extension adds this method to the environment it is installed in.
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def compose(
    rendered: Rendered,
    *,
    sender: str,
    recipients: Sequence[str],
    message_id: str,
    date: datetime,
    language: str,
) -> EmailMessage:
    """The MIME message: plain text and HTML alternatives, our key as its Message-ID."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    # RFC 3834: no vacation auto-replies to a robot.
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable: 7-bit safe through any relay, whatever the line lengths.
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    message["Content-Language"] = language  # after set_content, which clears Content-*
    return message
