"""Protocols are TOML files shipped in the package; loaded and validated once."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import TypeGuard

from .model import ControlSpec, Protocol
from .vocabulary import PLAN_EXAMS, TREATMENT_KINDS

DEFAULT_PROTOCOL = "no-hdir-2025"


class ProtocolError(ValueError):
    """A protocol file that does not make sense, or a protocol code that does not exist."""


def available_protocols() -> tuple[str, ...]:
    """The codes of the protocols shipped in the package."""
    files = resources.files(__package__).joinpath("data").iterdir()
    return tuple(sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml")))


@cache
def load_protocol(code: str = DEFAULT_PROTOCOL) -> Protocol:
    """Load and validate the protocol `code`; raise ProtocolError naming what is wrong."""
    if code not in available_protocols():
        raise ProtocolError(f"protocol: unknown protocol {code!r}")
    text = resources.files(__package__).joinpath("data", f"{code}.toml").read_text("utf-8")
    return parse_protocol(tomllib.loads(text), source=f"{code}.toml")


def parse_protocol(data: dict, source: str = "protocol") -> Protocol:
    """Build a Protocol from parsed TOML, checking every field against the vocabulary."""
    known = {"code", "title", "anchoring_kinds", "ending_kinds", "controls"}
    if unknown := set(data) - known:
        raise ProtocolError(f"{source}: unknown keys {sorted(unknown)}")
    anchoring = tuple(_kinds(data, "anchoring_kinds", source))
    if not anchoring:
        raise ProtocolError(f"{source}: anchoring_kinds is empty")
    controls = tuple(_control(c, i, source) for i, c in enumerate(_tables(data, source)))
    if not controls:
        raise ProtocolError(f"{source}: no controls")
    protocol = Protocol(
        code=_text(data, "code", source),
        title=_text(data, "title", source),
        anchoring_kinds=anchoring,
        ending_kinds=frozenset(_kinds(data, "ending_kinds", source)),
        controls=controls,
    )
    protocol.schedules.update({kind: _schedule(controls, kind) for kind in anchoring})
    return protocol


def _schedule(controls: tuple[ControlSpec, ...], kind: str):
    by_month: dict[int, list[str]] = {}
    for control in controls:
        if control.only_after is None or kind in control.only_after:
            for month in control.months:
                by_month.setdefault(month, []).extend(control.exams)
    return tuple((m, tuple(sorted(set(by_month[m])))) for m in sorted(by_month))


def _tables(data: dict, source: str) -> list[dict]:
    controls = data.get("controls", [])
    if not isinstance(controls, list) or not all(isinstance(c, dict) for c in controls):
        raise ProtocolError(
            f"{source}: controls: {controls!r} is not a list of [[controls]] tables"
        )
    return controls


def _control(data: dict, index: int, source: str) -> ControlSpec:
    where = f"{source}: controls[{index}]"
    if unknown := set(data) - {"months", "exams", "only_after"}:
        raise ProtocolError(f"{where}: unknown keys {sorted(unknown)}")
    months = data.get("months")
    if not _list_of(months, int) or not all(0 < m <= 240 for m in months):
        raise ProtocolError(f"{where}.months: {months!r} is not a list of months 1-240")
    exams = data.get("exams")
    if not _list_of(exams, str) or not set(exams) <= PLAN_EXAMS:
        raise ProtocolError(f"{where}.exams: {exams!r} names an unknown exam code")
    only_after = _kinds(data, "only_after", where) if "only_after" in data else None
    return ControlSpec(
        tuple(months), tuple(exams), None if only_after is None else frozenset(only_after)
    )


def _kinds(data: dict, key: str, source: str) -> list[str]:
    kinds = data.get(key, [])
    if not isinstance(kinds, list) or not all(
        isinstance(k, str) and k in TREATMENT_KINDS for k in kinds
    ):
        raise ProtocolError(f"{source}: {key}: {kinds!r} names an unknown treatment kind")
    return kinds


def _list_of(values: object, kind: type) -> TypeGuard[list]:
    """A non-empty list whose items are all exactly of `kind`."""
    # type() and not isinstance(): TOML's true is a bool, and a bool is an int.
    return isinstance(values, list) and bool(values) and all(type(v) is kind for v in values)


def _text(data: dict, key: str, source: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{source}: {key} is missing")
    return value
