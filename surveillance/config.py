"""Configuration: one TOML file, loaded once into frozen dataclasses; unknown keys fail."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import get_type_hints
from zoneinfo import ZoneInfo

from .protocol import (
    DEFAULT_PROTOCOL,
    PROTOCOL_FOLDER,
    ProtocolError,
    Settings,
    available_protocols,
    load_protocol,
    set_protocol_folders,
)

CONFIG_ENV = "SURVEILLANCE_CONFIG"
DATABASE_URL_ENV = "SURVEILLANCE_DATABASE_URL"
SECRET_KEY_ENV = "SURVEILLANCE_SECRET_KEY"
SMTP_PASSWORD_ENV = "SURVEILLANCE_SMTP_PASSWORD"
# Set by `surveillance serve --worker` for its worker: the address the dashboard is served on.
BASE_URL_ENV = "SURVEILLANCE_BASE_URL"


class ConfigError(ValueError):
    """A configuration file with an unknown key, a wrong type or an impossible value."""


@dataclass(frozen=True)
class DatabaseConfig:
    """Where the data lives."""

    url: str = "sqlite:///instance/surveillance.db"
    connect_timeout_seconds: int = 5
    statement_timeout_seconds: int = 30
    pool_timeout_seconds: int = 10


@dataclass(frozen=True)
class PatientsConfig:
    """How patients are identified."""

    accept_synthetic_ids: bool = False
    reference_prefix: str = "P-"


@dataclass(frozen=True)
class ProtocolConfig:
    """The follow-up rules' configurable numbers (protocol.md R8-R11)."""

    default: str = DEFAULT_PROTOCOL
    timezone: str = "Europe/Oslo"
    cea_upper_limit: float = 5.0
    coordination_window_days: int = 30
    book_ahead_days: int = 42
    overdue_after_days: int = 30
    closed_days: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorklistConfig:
    """The worklist's pages."""

    page_size: int = 50


@dataclass(frozen=True)
class WebConfig:
    """The dashboard: its address, sessions and login throttling."""

    base_url: str = "http://127.0.0.1:5000"
    secret_key: str = ""  # empty: SURVEILLANCE_SECRET_KEY, else a key kept in instance/
    instance_dir: str = "instance"
    idle_timeout_minutes: int = 30
    absolute_timeout_hours: int = 12
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    lockout_minutes: int = 15
    max_upload_megabytes: int = 5
    default_language: str = "nb"
    api_requests_per_minute: int = 120  # per FHIR API token, counted in the database
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-* headers are true


@dataclass(frozen=True)
class MailConfig:
    """How e-mail leaves: .eml files in a folder (the demo), or an SMTP server."""

    backend: str = "file"  # "file" or "smtp"
    outbox_dir: str = "instance/outbox"
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"  # "starttls", "ssl" or "none"
    username: str = ""
    password: str = ""  # better from SURVEILLANCE_SMTP_PASSWORD
    timeout_seconds: float = 30.0
    sender: str = "surveillance@localhost"


@dataclass(frozen=True)
class RemindersConfig:
    """The daily digest and the worker that sends it."""

    send_time: str = "06:30"  # the clinic's time (protocol.timezone)
    weekdays_only: bool = True
    skip_closed_days: bool = True  # public holidays and protocol.closed_days
    send_when_empty: bool = False
    language: str = "nb"
    misfire_grace_hours: int = 10
    retry_first_minutes: int = 5
    retry_max_minutes: int = 60
    max_attempts: int = 10
    check_every_minutes: int = 5
    lock_check_seconds: int = 5


@dataclass(frozen=True)
class FeedsConfig:
    """The calendar feeds: their window, how often clients refresh, and the words they show."""

    refresh_interval: str = "PT6H"  # an RFC 5545 duration
    days_back: int = 90
    days_ahead: int = 400
    cancelled_days: int = 60
    event_minutes: int = 30
    language: str = "nb"
    # Serialised events kept in memory per process (about 1 kB each): above a feed's events,
    # else every rebuild of it reads its events back from the database (100,000 patients in
    # one clinic: about 200,000 events).
    cached_events: int = 500_000

    def __post_init__(self) -> None:
        duration = r"P(\d+W|\d+D|(\d+D)?T(?=\d)(\d+H)?(\d+M)?(\d+S)?)"
        if not re.fullmatch(duration, self.refresh_interval):
            raise ConfigError(
                f"feeds.refresh_interval: {self.refresh_interval!r} is not a "
                "duration such as PT6H or P1D"
            )
        if self.language not in ("nb", "en"):
            raise ConfigError(f"feeds.language: {self.language!r} is not one of nb, en")
        least = {
            "days_back": 0,
            "days_ahead": 1,
            "cancelled_days": 0,
            "event_minutes": 1,
            "cached_events": 1,
        }
        for key, minimum in least.items():
            if getattr(self, key) < minimum:
                raise ConfigError(f"feeds.{key}: {getattr(self, key)} must be at least {minimum}")


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    patients: PatientsConfig = field(default_factory=PatientsConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    worklist: WorklistConfig = field(default_factory=WorklistConfig)
    web: WebConfig = field(default_factory=WebConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)

    @property
    def settings(self) -> Settings:
        """The protocol engine's view of the configuration."""
        p = self.protocol
        exact, annual = parse_closed_days(p.closed_days)
        return Settings(
            p.coordination_window_days,
            p.book_ahead_days,
            p.overdue_after_days,
            p.cea_upper_limit,
            exact,
            annual,
        )


def load_config(
    path: str | os.PathLike | None = None, environ: Mapping[str, str] = os.environ
) -> Config:
    """Read the file named by `path` or SURVEILLANCE_CONFIG; the environment overrides the URL."""
    path = path or environ.get(CONFIG_ENV)
    config = Config()
    if path:
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(f"{CONFIG_ENV}: cannot read {str(path)!r}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        config = _build(Config, data, "")
    if url := environ.get(DATABASE_URL_ENV):
        config = replace(config, database=replace(config.database, url=url))
    if key := environ.get(SECRET_KEY_ENV):
        config = replace(config, web=replace(config.web, secret_key=key))
    if password := environ.get(SMTP_PASSWORD_ENV):
        config = replace(config, mail=replace(config.mail, password=password))
    if base_url := environ.get(BASE_URL_ENV):
        config = replace(config, web=replace(config.web, base_url=base_url))
    # R16: a clinic's own protocol files live in the instance folder, loaded like ours.
    set_protocol_folders(Path(config.web.instance_dir) / PROTOCOL_FOLDER)
    _check(config)
    _check_delivery(config.mail, config.reminders)
    return config


def _build(cls, data: dict, prefix: str):
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    if unknown := sorted(set(data) - names):
        raise ConfigError(f"unknown configuration key {prefix + unknown[0]!r}")
    values = {}
    for name, value in data.items():
        key, kind = prefix + name, hints[name]
        if isinstance(kind, type) and hasattr(kind, "__dataclass_fields__"):
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: expected a [{key}] table")
            values[name] = _build(kind, value, key + ".")
        else:
            values[name] = _coerce(key, kind, value)
    return cls(**values)


def _coerce(key: str, kind, value):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (
        kind == tuple[str, ...]
        and isinstance(value, list)
        and all(isinstance(v, str) for v in value)
    ):
        return tuple(value)
    if (
        isinstance(kind, type)
        and isinstance(value, kind)
        and not (kind is int and isinstance(value, bool))
    ):
        return value
    raise ConfigError(f"{key}: {value!r} is not a valid {getattr(kind, '__name__', kind)}")


def _check(config: Config) -> None:
    p = config.protocol
    for code in available_protocols():
        try:
            load_protocol(code)
        except ProtocolError as exc:
            raise ConfigError(str(exc)) from None
    if p.default not in available_protocols():
        raise ConfigError(f"protocol.default: unknown protocol {p.default!r}")
    for key in ("coordination_window_days", "book_ahead_days", "overdue_after_days"):
        if getattr(p, key) < 0:
            raise ConfigError(f"protocol.{key}: {getattr(p, key)} must not be negative")
    for key in ("connect_timeout_seconds", "statement_timeout_seconds", "pool_timeout_seconds"):
        if getattr(config.database, key) < 1:
            raise ConfigError(f"database.{key}: {getattr(config.database, key)} must be at least 1")
    if config.worklist.page_size < 1:
        raise ConfigError(f"worklist.page_size: {config.worklist.page_size} must be at least 1")
    if not 0 <= config.web.trusted_proxies <= 5:
        raise ConfigError(f"web.trusted_proxies: {config.web.trusted_proxies} must be 0 to 5")
    try:
        ZoneInfo(p.timezone)
    except (KeyError, ValueError):
        raise ConfigError(f"protocol.timezone: unknown time zone {p.timezone!r}") from None
    parse_closed_days(p.closed_days)


def parse_closed_days(days: tuple[str, ...]) -> tuple[frozenset[date], frozenset[tuple[int, int]]]:
    """Split "YYYY-MM-DD" (one day) from "MM-DD" (every year) in protocol.closed_days."""
    exact, annual = set(), set()
    for text in days:
        try:
            if len(text) == 5:
                day = date.fromisoformat(f"2000-{text}")  # a leap year admits 02-29
                annual.add((day.month, day.day))
            else:
                exact.add(date.fromisoformat(text))
        except ValueError:
            raise ConfigError(
                f"protocol.closed_days: {text!r} is not MM-DD or YYYY-MM-DD"
            ) from None
    return frozenset(exact), frozenset(annual)


def _check_delivery(mail: MailConfig, reminders: RemindersConfig) -> None:
    choices = (
        ("mail.backend", mail.backend, ("file", "smtp")),
        ("mail.security", mail.security, ("starttls", "ssl", "none")),
        ("reminders.language", reminders.language, ("nb", "en")),
    )
    for key, value, allowed in choices:
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
    if not 0 < mail.port < 65536 or mail.timeout_seconds <= 0 or "@" not in mail.sender:
        raise ConfigError(
            "mail: port must be 1-65535, timeout_seconds positive, sender an e-mail address"
        )
    parse_send_time(reminders.send_time)
    for key in (
        "misfire_grace_hours",
        "retry_first_minutes",
        "retry_max_minutes",
        "max_attempts",
        "check_every_minutes",
        "lock_check_seconds",
    ):
        if getattr(reminders, key) < 1:
            raise ConfigError(f"reminders.{key}: {getattr(reminders, key)} must be at least 1")


def parse_send_time(text: str) -> tuple[int, int]:
    """The hour and minute of reminders.send_time ("06:30")."""
    hour, _, minute = text.partition(":")
    if not (
        hour.isdigit()
        and minute.isdigit()
        and len(minute) == 2
        and int(hour) < 24
        and int(minute) < 60
    ):
        raise ConfigError(f"reminders.send_time: {text!r} is not HH:MM")
    return int(hour), int(minute)
