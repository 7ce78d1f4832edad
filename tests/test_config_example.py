"""config.example.toml documents every key with its default."""

import tomllib
from dataclasses import fields, is_dataclass
from pathlib import Path

from surveillance.config import Config, load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def _keys(cls, prefix=""):
    for f in fields(cls):
        default = f.default_factory() if callable(f.default_factory) else f.default
        if is_dataclass(default):
            yield from _keys(type(default), f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", default


def _flatten(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_example_lists_every_key_with_its_default():
    documented = dict(_flatten(tomllib.loads(EXAMPLE.read_text("utf-8"))))
    for key, default in _keys(Config):
        assert key in documented, f"{key} is missing from config.example.toml"
        value = documented[key]
        assert (tuple(value) if isinstance(value, list) else value) == default, key


def test_example_loads_as_a_configuration():
    assert load_config(EXAMPLE, environ={}) == Config()
