"""Configuration: one TOML file, loaded once into frozen dataclasses; unknown keys fail."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import get_type_hints

from .protocol import DEFAULT_PROTOCOL, Settings, available_protocols

CONFIG_ENV = "SURVEILLANCE_CONFIG"
DATABASE_URL_ENV = "SURVEILLANCE_DATABASE_URL"


class ConfigError(ValueError):
    """A configuration file with an unknown key, a wrong type or an impossible value."""


@dataclass(frozen=True)
class DatabaseConfig:
    """Where the data lives."""

    url: str = "sqlite:///instance/surveillance.db"


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
class Config:
    """The whole configuration."""

    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    patients: PatientsConfig = field(default_factory=PatientsConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    worklist: WorklistConfig = field(default_factory=WorklistConfig)

    @property
    def settings(self) -> Settings:
        """The protocol engine's view of the configuration."""
        p = self.protocol
        exact, annual = parse_closed_days(p.closed_days)
        return Settings(p.coordination_window_days, p.book_ahead_days, p.overdue_after_days,
                        p.cea_upper_limit, exact, annual)


def load_config(path: str | os.PathLike | None = None,
                environ: os.environ.__class__ | dict = os.environ) -> Config:
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
    _check(config)
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
    if kind == tuple[str, ...] and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if isinstance(kind, type) and isinstance(value, kind) and not (
        kind is int and isinstance(value, bool)
    ):
        return value
    raise ConfigError(f"{key}: {value!r} is not a valid {getattr(kind, '__name__', kind)}")


def _check(config: Config) -> None:
    p = config.protocol
    if p.default not in available_protocols():
        raise ConfigError(f"protocol.default: unknown protocol {p.default!r}")
    for key in ("coordination_window_days", "book_ahead_days", "overdue_after_days"):
        if getattr(p, key) < 0:
            raise ConfigError(f"protocol.{key}: {getattr(p, key)} must not be negative")
    if config.worklist.page_size < 1:
        raise ConfigError(f"worklist.page_size: {config.worklist.page_size} must be at least 1")
    try:
        from zoneinfo import ZoneInfo
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
            raise ConfigError(f"protocol.closed_days: {text!r} is not MM-DD or YYYY-MM-DD") from None
    return frozenset(exact), frozenset(annual)
