"""Protocols are TOML files (R16): shipped in the package, or a clinic's own in a folder."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TypeGuard

from .model import ControlSpec, ExamSpec, Protocol
from .states import ResultKind
from .vocabulary import TREATMENT_KINDS

DEFAULT_PROTOCOL = "no-hdir-2025"
PROTOCOL_FOLDER = "protocols"  # inside the instance folder: a clinic's own protocol files
# Folders searched besides the package's own data, set once at start (set_protocol_folders).
_folders: list[Path] = []


class ProtocolError(ValueError):
    """A protocol file that does not make sense, or a protocol code that does not exist."""


def set_protocol_folders(*folders: str | Path) -> None:
    """Also load protocol files from `folders` (a clinic's own; the package's win on a clash)."""
    wanted = [Path(f) for f in folders]
    if wanted != _folders:
        _folders[:] = wanted
        load_protocol.cache_clear()
        exam_names.cache_clear()


def _files() -> dict[str, object]:
    found: dict[str, object] = {}
    for folder in reversed(_folders):
        if folder.is_dir():
            found.update({f.stem: f for f in folder.glob("*.toml")})
    for f in resources.files(__package__).joinpath("data").iterdir():
        if f.name.endswith(".toml"):
            found[f.name.removesuffix(".toml")] = f
    return found


def available_protocols() -> tuple[str, ...]:
    """The codes of the protocols shipped in the package and in the added folders."""
    return tuple(sorted(_files()))


@cache
def exam_names(language: str) -> dict[str, str]:
    """Every exam code the protocol files declare, named in `language` ("nb" or "en") as its
    file names it (R16); a code two files declare takes the default protocol's name."""
    names: dict[str, str] = {}
    codes = sorted(available_protocols(), key=lambda code: code != DEFAULT_PROTOCOL)
    for code in codes:
        for exam in load_protocol(code).exams.values():
            names.setdefault(exam.code, exam.name_en if language == "en" else exam.name_nb)
    return names


@cache
def load_protocol(code: str = DEFAULT_PROTOCOL) -> Protocol:
    """Load and validate the protocol `code`; raise ProtocolError naming what is wrong."""
    files = _files()
    if code not in files:
        raise ProtocolError(f"protocol: unknown protocol {code!r}")
    text = files[code].read_text("utf-8")  # type: ignore[attr-defined]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{code}.toml: not valid TOML ({exc})") from None
    protocol = parse_protocol(data, source=f"{code}.toml")
    if protocol.code != code:
        raise ProtocolError(f"{code}.toml: code {protocol.code!r} differs from the file name")
    return protocol


def parse_protocol(data: dict, source: str = "protocol") -> Protocol:
    """Build a Protocol from parsed TOML, checking every field."""
    known = {"code", "title", "anchoring_kinds", "ending_kinds", "controls", "exams", "rules"}
    known.add("other_primary_exams")
    if unknown := set(data) - known:
        raise ProtocolError(f"{source}: unknown keys {sorted(unknown)}")
    anchoring = tuple(_kinds(data, "anchoring_kinds", source))
    if not anchoring:
        raise ProtocolError(f"{source}: anchoring_kinds is empty")
    exams = _exams(data.get("exams"), source)
    controls = tuple(_control(c, i, source, exams) for i, c in enumerate(_tables(data, source)))
    if not controls:
        raise ProtocolError(f"{source}: no controls")
    rules = _rules(data.get("rules", {}), source)
    protocol = Protocol(
        code=_text(data, "code", source),
        title=_text(data, "title", source),
        anchoring_kinds=anchoring,
        ending_kinds=frozenset(_kinds(data, "ending_kinds", source)),
        controls=controls,
        exams=exams,
        other_primary_exams=frozenset(_codes(data, "other_primary_exams", source)),
        **rules,
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


def _exams(data, source: str) -> dict[str, ExamSpec]:
    if not isinstance(data, dict) or not data:
        raise ProtocolError(f"{source}: exams: no [exams.<code>] tables")
    return {code: _exam(code, spec, f"{source}: exams.{code}") for code, spec in data.items()}


def _exam(code: str, data, where: str) -> ExamSpec:
    known = {"nb", "en", "result", "unit", "upper_limit", "trend"}
    if not isinstance(data, dict):
        raise ProtocolError(f"{where}: {data!r} is not a table")
    if unknown := set(data) - known:
        raise ProtocolError(f"{where}: unknown keys {sorted(unknown)}")
    result = data.get("result")
    if result not in tuple(ResultKind):
        raise ProtocolError(f"{where}.result: {result!r} is not 'reading' or 'value'")
    limit = data.get("upper_limit")
    if limit is not None and (type(limit) not in (int, float) or limit < 0):
        raise ProtocolError(f"{where}.upper_limit: {limit!r} is not a number")
    trend = _trend(data.get("trend"), f"{where}.trend")
    return ExamSpec(
        code, _text(data, "nb", where), _text(data, "en", where), ResultKind(result),
        data.get("unit", ""), None if limit is None else float(limit), **trend,
    )  # fmt: skip


def _trend(data, where: str) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict) or set(data) - {"rises", "factor", "min_rise"}:
        raise ProtocolError(f"{where}: {data!r} is not a table of rises, factor, min_rise")
    rises = data.get("rises", 2)
    if type(rises) is not int or rises < 1:
        raise ProtocolError(f"{where}.rises: {rises!r} is not a whole number from 1")
    numbers = {k: data.get(k, d) for k, d in (("factor", 1.3), ("min_rise", 1.0))}
    for key, value in numbers.items():
        if type(value) not in (int, float) or value < 0:
            raise ProtocolError(f"{where}.{key}: {value!r} is not a number")
    return {"trend_rises": rises, "trend_factor": numbers["factor"], "trend_min_rise": numbers["min_rise"]}  # fmt: skip


def _rules(data, source: str) -> dict:
    if not isinstance(data, dict) or (unknown := set(data) - {"extra_exam_days", "hold_days"}):
        raise ProtocolError(f"{source}: rules: unknown keys {sorted(unknown)}")
    for key, value in data.items():
        if type(value) is not int or value < 1:
            raise ProtocolError(f"{source}: rules.{key}: {value!r} is not a number of days")
    return dict(data)


def _tables(data: dict, source: str) -> list[dict]:
    controls = data.get("controls", [])
    if not isinstance(controls, list) or not all(isinstance(c, dict) for c in controls):
        raise ProtocolError(
            f"{source}: controls: {controls!r} is not a list of [[controls]] tables"
        )
    return controls


def _control(data: dict, index: int, source: str, exams: dict[str, ExamSpec]) -> ControlSpec:
    where = f"{source}: controls[{index}]"
    if unknown := set(data) - {"months", "exams", "only_after", "covered_by", "cover_days"}:
        raise ProtocolError(f"{where}: unknown keys {sorted(unknown)}")
    months = data.get("months") or []
    if not _list_of(months, int) or not all(0 < m <= 240 for m in months):
        raise ProtocolError(f"{where}.months: {months!r} is not a list of months 1-240")
    codes = data.get("exams") or []
    if not _list_of(codes, str) or not set(codes) <= set(exams):
        raise ProtocolError(f"{where}.exams: {codes!r} names an exam code not in [exams]")
    only_after = _kinds(data, "only_after", where) if "only_after" in data else None
    covered_by = data.get("covered_by")
    if covered_by is not None and covered_by not in exams:
        raise ProtocolError(f"{where}.covered_by: {covered_by!r} is not an exam code")
    cover_days = data.get("cover_days", 30)
    if type(cover_days) is not int or cover_days < 0:
        raise ProtocolError(f"{where}.cover_days: {cover_days!r} is not a number of days")
    return ControlSpec(
        tuple(months),
        tuple(codes),
        None if only_after is None else frozenset(only_after),
        covered_by,
        cover_days,
    )


def _kinds(data: dict, key: str, source: str) -> list[str]:
    kinds = data.get(key, [])
    if not isinstance(kinds, list) or not all(
        isinstance(k, str) and k in TREATMENT_KINDS for k in kinds
    ):
        raise ProtocolError(f"{source}: {key}: {kinds!r} names an unknown treatment kind")
    return kinds


def _codes(data: dict, key: str, source: str) -> list[str]:
    codes = data.get(key, [])
    if not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes):
        raise ProtocolError(f"{source}: {key}: {codes!r} is not a list of exam codes")
    return codes


def _list_of(values: object, kind: type) -> TypeGuard[list]:
    """A non-empty list whose items are all exactly of `kind`."""
    # type() and not isinstance(): TOML's true is a bool, and a bool is an int.
    return isinstance(values, list) and bool(values) and all(type(v) is kind for v in values)


def _text(data: dict, key: str, source: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{source}: {key} is missing")
    return value
