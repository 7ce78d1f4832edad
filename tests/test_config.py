"""The configuration file: defaults, every section, and the refusals a user would meet."""

from __future__ import annotations

import re
from datetime import date

import pytest

from surveillance.config import (
    Config,
    ConfigError,
    DatabaseConfig,
    PatientsConfig,
    ProtocolConfig,
    WorklistConfig,
    load_config,
    parse_closed_days,
)
from surveillance.protocol import Settings

EVERY_KEY = """
[database]
url = "postgresql+psycopg://clinic@db/surveillance"

[patients]
accept_synthetic_ids = true
reference_prefix = "K-"

[protocol]
default = "no-hdir-2019"
timezone = "Europe/Stockholm"
cea_upper_limit = 4
coordination_window_days = 14
book_ahead_days = 60
overdue_after_days = 10
closed_days = ["12-24", "12-31", "2026-07-20"]

[worklist]
page_size = 25
"""


@pytest.fixture
def write_config(tmp_path):
    """Write a TOML configuration file and return its path."""

    def write(text: str):
        path = tmp_path / "config.toml"
        path.write_text(text, "utf-8")
        return path

    return write


def load(write_config, text: str, **environ) -> Config:
    return load_config(write_config(text), environ=environ)


def test_no_file_gives_the_defaults():
    config = load_config(environ={})
    assert config == Config()
    assert config.database.url == "sqlite:///instance/surveillance.db"
    assert config.patients.accept_synthetic_ids is False
    assert config.protocol.default == "no-hdir-2025"
    assert config.protocol.timezone == "Europe/Oslo"
    assert config.settings == Settings()
    assert config.worklist.page_size == 50


def test_an_empty_file_gives_the_defaults(write_config):
    assert load(write_config, "") == Config()


def test_every_section_is_read(write_config):
    config = load(write_config, EVERY_KEY)
    assert config.database == DatabaseConfig("postgresql+psycopg://clinic@db/surveillance")
    assert config.patients == PatientsConfig(accept_synthetic_ids=True, reference_prefix="K-")
    assert config.protocol == ProtocolConfig(
        default="no-hdir-2019",
        timezone="Europe/Stockholm",
        cea_upper_limit=4.0,
        coordination_window_days=14,
        book_ahead_days=60,
        overdue_after_days=10,
        closed_days=("12-24", "12-31", "2026-07-20"),
    )
    assert config.worklist == WorklistConfig(page_size=25)


def test_the_protocol_settings_come_from_the_file(write_config):
    settings = load(write_config, EVERY_KEY).settings
    assert settings == Settings(
        coordination_window_days=14,
        book_ahead_days=60,
        overdue_after_days=10,
        cea_upper_limit=4.0,
        closed_days=frozenset({date(2026, 7, 20)}),
        closed_annual=frozenset({(12, 24), (12, 31)}),
    )
    assert isinstance(settings.cea_upper_limit, float)


def test_a_section_may_set_only_some_keys(write_config):
    config = load(write_config, "[protocol]\nbook_ahead_days = 21\n")
    assert config.protocol == ProtocolConfig(book_ahead_days=21)
    assert config.database == DatabaseConfig()


@pytest.mark.parametrize(
    "text, message",
    [
        # a misspelt key in a known section is named with its section
        (
            "[patients]\naccept_synthetic_id = true\n",
            "unknown configuration key 'patients.accept_synthetic_id'",
        ),
        # a section the program does not have
        ("[colours]\nbackground = 'blue'\n", "unknown configuration key 'colours'"),
        # a key at the top level, outside any section
        ("page_size = 10\n", "unknown configuration key 'page_size'"),
        # a section written as a plain value
        ("database = 'sqlite:///x.db'\n", "database: expected a [database] table"),
    ],
)
def test_unknown_keys_and_sections_are_refused(write_config, text, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        load(write_config, text)


@pytest.mark.parametrize(
    "text, message",
    [
        # a number written as a string
        (
            "[protocol]\nbook_ahead_days = '42'\n",
            "protocol.book_ahead_days: '42' is not a valid int",
        ),
        # a bool is an int to Python, not to the clinic
        ("[worklist]\npage_size = true\n", "worklist.page_size: True is not a valid int"),
        # a fraction where whole days are meant
        (
            "[protocol]\noverdue_after_days = 30.5\n",
            "protocol.overdue_after_days: 30.5 is not a valid int",
        ),
        # 1 is not yes
        (
            "[patients]\naccept_synthetic_ids = 1\n",
            "patients.accept_synthetic_ids: 1 is not a valid bool",
        ),
        # a bool is not a number either where a float is meant
        (
            "[protocol]\ncea_upper_limit = false\n",
            "protocol.cea_upper_limit: False is not a valid float",
        ),
        # a string where a list of days is meant
        ("[protocol]\nclosed_days = '12-24'\n", "protocol.closed_days: '12-24' is not a valid"),
        # a list of dates must be strings: a TOML date is refused rather than guessed at
        ("[protocol]\nclosed_days = [2026-12-24]\n", "protocol.closed_days:"),
        # the database URL is text
        ("[database]\nurl = 5\n", "database.url: 5 is not a valid str"),
    ],
)
def test_wrong_types_are_refused(write_config, text, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        load(write_config, text)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[protocol]\ntimezone = 'Europe/Bergen'\n",
            "protocol.timezone: unknown time zone 'Europe/Bergen'",
        ),
        # a path, not a zone name
        ("[protocol]\ntimezone = '../etc/passwd'\n", "protocol.timezone: unknown time zone"),
        (
            "[protocol]\ndefault = 'no-hdir-1999'\n",
            "protocol.default: unknown protocol 'no-hdir-1999'",
        ),
        ("[protocol]\nbook_ahead_days = -1\n", "protocol.book_ahead_days: -1 must not be negative"),
        ("[worklist]\npage_size = 0\n", "worklist.page_size: 0 must be at least 1"),
        # a wait without bound would hang a node's threads when the database is away
        (
            "[database]\nstatement_timeout_seconds = 0\n",
            "database.statement_timeout_seconds: 0 must be at least 1",
        ),
    ],
)
def test_impossible_values_are_refused(write_config, text, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        load(write_config, text)


@pytest.mark.parametrize(
    "days, exact, annual",
    [
        # every year's Christmas Eve and New Year's Eve
        (("12-24", "12-31"), set(), {(12, 24), (12, 31)}),
        # one day only
        (("2026-07-20",), {date(2026, 7, 20)}, set()),
        # 29 February is a valid day every year it exists
        (("02-29",), set(), {(2, 29)}),
        # both kinds mixed
        (("12-24", "2027-05-18"), {date(2027, 5, 18)}, {(12, 24)}),
        ((), set(), set()),
    ],
)
def test_closed_days_are_parsed(days, exact, annual):
    assert parse_closed_days(days) == (frozenset(exact), frozenset(annual))


@pytest.mark.parametrize(
    "day",
    [
        "24-12",  # day and month swapped
        "12-32",  # no such day
        "02-30",  # no such day in any year
        "2026-02-29",  # not a leap year
        "12/24",  # slashes
        "2026-7-20",  # month without its leading zero
        "",  # nothing
        "christmas",  # words
    ],
)
def test_bad_closed_days_are_refused(write_config, day):
    with pytest.raises(
        ConfigError, match=f"^protocol.closed_days: '{re.escape(day)}' is not MM-DD or YYYY-MM-DD"
    ):
        load(write_config, f"[protocol]\nclosed_days = ['{day}']\n")


def test_the_environment_overrides_the_database_url(write_config):
    config = load(write_config, EVERY_KEY, SURVEILLANCE_DATABASE_URL="sqlite:///other.db")
    assert config.database.url == "sqlite:///other.db"
    assert config.worklist.page_size == 25  # the rest of the file still counts


def test_the_file_is_named_by_the_environment(write_config):
    path = write_config("[worklist]\npage_size = 7\n")
    assert load_config(environ={"SURVEILLANCE_CONFIG": str(path)}).worklist.page_size == 7


def test_an_explicit_path_wins_over_the_environment(write_config, tmp_path):
    path = write_config("[worklist]\npage_size = 7\n")
    missing = tmp_path / "missing.toml"
    assert load_config(path, environ={"SURVEILLANCE_CONFIG": str(missing)}).worklist.page_size == 7


def test_a_missing_file_is_named(tmp_path):
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=f"cannot read '{re.escape(str(missing))}'"):
        load_config(environ={"SURVEILLANCE_CONFIG": str(missing)})


def test_a_file_that_is_not_toml_is_refused(write_config):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write_config, "[protocol\nbook_ahead_days = 3\n")
