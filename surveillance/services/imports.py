"""CSV import of patients: read the file, check every row (a dry run), then load it; a file
with any bad row loads nothing, and a load stopped midway keeps its whole chunks."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import Patient
from ..errors import InputError, ServiceError
from .bulk import NewPatient, load_patients
from .context import Context
from .lookups import clinic_by_code
from .new_patient import check_identity, check_name, check_protocol, registered_ids
from .patients import END_STATUSES, end_surveillance
from .validate import parse_choice, parse_phone, parse_text

MAX_ROWS = 20_000
# Patients in an import's first write transaction (about 8,500 planned exams); later ones are
# sized to hold SQLite's write lock about CHUNK_SECONDS, far below its busy timeout of 10 s
# (bench/import_lock.py measures the longest hold at MAX_ROWS).
IMPORT_CHUNK = 500
MIN_CHUNK = 25
CHUNK_SECONDS = 0.5
# Between two chunks: SQLite's busy handler polls with sleeps, so a writer kept waiting (a
# nurse's save) would otherwise miss the moment the lock is free and wait for the next chunk.
CHUNK_PAUSE_SECONDS = 0.2
MAX_BYTES = 16 * 1024 * 1024  # the dashboard's uploads are smaller still (MAX_CONTENT_LENGTH)
UTF8, UTF8_BOM, WINDOWS_1252 = "utf-8", "utf-8-sig", "cp1252"


def N_(message: str) -> str:
    """Mark a message for the catalogue; the dashboard translates it when it shows it."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """Mark a message with a count (%(num)d) and its plural for the catalogue."""
    return singular, plural


# Header names as the import page shows them; _normalise folds case, æ/ø/å and spaces
# (so "Kontroller utført til" is kontroller_utført_til).
COLUMNS = {
    "national_id": (
        "fødselsnummer",
        "foedselsnummer",
        "fnr",
        "personnummer",
        "national_id",
        "id_number",
    ),
    "name": ("navn", "name", "pasientnavn", "patient_name"),
    "treatment_date": ("behandlingsdato", "dato", "treatment_date", "date"),
    "treatment_kind": ("behandling", "behandlingstype", "treatment_kind", "treatment", "kind"),
    "done_until": ("kontroller_utført_til", "utført_til", "done_until", "controls_done_until"),
    "protocol": ("protokoll", "protocol"),
    "phone": ("telefon", "telefonnummer", "mobil", "phone", "telephone"),
    "gp": ("fastlege", "gp", "general_practitioner"),
    # Surveillance already ended (a FHIR Bundle's patients carry it): R1's status and reason.
    "ended": ("avsluttet", "ended", "surveillance_ended"),
    "end_reason": ("avslutningsgrunn", "end_reason"),
}
REQUIRED = ("national_id", "name", "treatment_date", "treatment_kind")
HEADER_WORDS: dict[str, str] = {}  # filled below, once _normalise is defined

# The codes of protocol.md and the words nurses write for them (the dashboard's labels too).
KINDS = {
    "resection": ("resection", "reseksjon", "leverreseksjon", "liver_resection"),
    "ablation": (
        "ablation",
        "ablasjon",
        "rfa",
        "mwa",
        "ire",
        "ablasjon_rfa_mwa_ire",
        "ablation_rfa_mwa_ire",
    ),
    "resection_with_ablation": (
        "resection_with_ablation",
        "resection_ablation",
        "resection_and_ablation",
        "reseksjon_ablasjon",
        "reseksjon_og_ablasjon",
        "reseksjon_med_ablasjon",
    ),
    "pve": ("pve", "portvenembolisering", "portal_vein_embolisation", "portal_vein_embolization"),
    "biopsy": ("biopsy", "biopsi"),
    "sbrt": ("sbrt", "stereotaktisk_stralebehandling"),
}
KIND_WORDS = {word: code for code, words in KINDS.items() for word in words}
# A transplant ends this surveillance; the bulk loader would leave the patient active.
TRANSPLANT_WORDS = frozenset(
    {"transplant", "liver_transplant", "transplantasjon", "levertransplantasjon"}
)

_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a"})
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_NORWEGIAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")


Reader = Callable[[bytes], "Table"]


class BadFile(ServiceError):
    """The file as a whole cannot be read, so no row is checked."""

    def __init__(self, message: str, **params):
        self.message, self.params = message, params
        super().__init__(message % params if params else message)


class ImportRefused(ServiceError):
    """Some rows have problems: nothing was imported."""

    def __init__(self, check: FileCheck):
        self.check = check
        bad = check.count("problem")
        super().__init__(f"{bad} row{'s' if bad != 1 else ''} with problems; nothing was imported")


class ImportStopped(ServiceError):
    """A row was refused midway (registered meanwhile): the chunks before it stay imported."""

    def __init__(self, loaded: int, error: InputError):
        self.loaded, self.error = loaded, error
        super().__init__(
            f"{loaded} patient{'s' if loaded != 1 else ''} imported before the import stopped; "
            f"{error}; import the same file again to add the rest (registered patients are skipped)"
        )


class _Bad(Exception):
    """A cell's problem, on its way into a Problem."""

    def __init__(self, message: str, **params):
        self.message, self.params = message, params


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one cell (or, without a field, with the row)."""

    row: int
    field: str
    column: str  # the header as written in the file
    value: str
    message: str  # an English msgid with %(name)s placeholders
    params: dict = dataclasses.field(default_factory=dict)
    plural: str | None = None  # the message's plural: then params["num"] is the count

    @property
    def text(self) -> str:
        """The message in English, placeholders filled."""
        message = self.plural if self.plural and self.params["num"] != 1 else self.message
        return message % self.params if self.params else message


@dataclass(frozen=True, slots=True)
class Row:
    """One patient row: the cells as written, the values that parsed, and its problems."""

    number: int  # as a spreadsheet counts: the header is row 1
    cells: dict[str, str]
    values: dict[str, Any]  # each column's parsed value: a str, a date, ...

    problems: tuple[Problem, ...] = ()
    registered: bool = False

    @property
    def status(self) -> str:
        """ "problem", "registered" (skipped) or "new"."""
        return "problem" if self.problems else "registered" if self.registered else "new"

    @property
    def bad_fields(self) -> frozenset[str]:
        """The fields that have a problem."""
        return frozenset(p.field for p in self.problems)


@dataclass(frozen=True, slots=True)
class Table:
    """The file read: recognised columns (field -> header as written), ignored headers, rows."""

    columns: dict[str, str]
    ignored: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str], int], ...]  # number, cells by field, extra cells
    encoding: str = UTF8


@dataclass(frozen=True, slots=True)
class FileCheck:
    """The dry run: every row with its values and every problem."""

    columns: dict[str, str]
    ignored: tuple[str, ...]
    rows: tuple[Row, ...]
    encoding: str = UTF8  # how the file was read: UTF8, UTF8_BOM or WINDOWS_1252

    @property
    def problems(self) -> list[Problem]:
        """Every problem of every row, in file order."""
        return [p for row in self.rows for p in row.problems]

    def count(self, status: str) -> int:
        """How many rows have this status."""
        return sum(row.status == status for row in self.rows)

    @property
    def importable(self) -> bool:
        """No row has a problem and at least one is new."""
        return not self.problems and self.count("new") > 0


def read_table(data: bytes, max_rows: int = MAX_ROWS) -> Table:
    """Decode and split the file: UTF-8 (BOM or not) or Windows-1252, ";" or ","."""
    text, encoding = _decode(data)
    if not text.strip():
        raise BadFile(N_("The file is empty."))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader)
        columns, places, ignored = _columns(header)
        rows = _rows(reader, places, len(header), max_rows)
    except csv.Error as exc:
        raise BadFile(
            N_("Row %(row)d cannot be read: %(detail)s"), row=reader.line_num, detail=str(exc)
        ) from None
    if not rows:
        raise BadFile(N_("The file has no patient rows below the header."))
    return Table(columns, ignored, tuple(rows), encoding)


def _rows(reader, places: dict[str, int], width: int, max_rows: int) -> list:
    """The rows that are not blank, numbered as a spreadsheet numbers them (the header is 1)."""
    rows: list[tuple[int, dict[str, str], int]] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) == max_rows:
            raise BadFile(N_("The file has more than %(max)d rows: split it."), max=max_rows)
        extra = sum(bool(cell.strip()) for cell in cells[width:])
        rows.append((number, {name: _cell(cells, i) for name, i in places.items()}, extra))
    return rows


def _decode(data: bytes) -> tuple[str, str]:
    """The text and how it was read: UTF-8 (with or without BOM), else Windows-1252."""
    if len(data) > MAX_BYTES:
        raise BadFile(N_("The file is larger than %(megabytes)d MB."), megabytes=MAX_BYTES >> 20)
    if data.startswith(codecs.BOM_UTF8):
        return _utf8(data, len(codecs.BOM_UTF8)), UTF8_BOM
    try:
        return data.decode(UTF8), UTF8
    except UnicodeDecodeError:
        pass
    # Not UTF-8: what Excel's plain "CSV" writes on a Norwegian Windows. The five bytes
    # Windows-1252 leaves undefined mean it was neither.
    try:
        return data.decode(WINDOWS_1252), WINDOWS_1252
    except UnicodeDecodeError as exc:
        raise BadFile(
            N_(
                "The file is neither UTF-8 nor Windows-1252 text (byte %(byte)d, row %(row)d): "
                "save it from Excel as “CSV UTF-8”."
            ),
            byte=exc.start,
            row=data[: exc.start].count(b"\n") + 1,
        ) from None


def _utf8(data: bytes, bom: int) -> str:
    """The text after a UTF-8 BOM, which promises UTF-8: anything else is refused."""
    try:
        return data[bom:].decode(UTF8)
    except UnicodeDecodeError as exc:
        at = bom + exc.start
        raise BadFile(
            N_(
                "The file is not UTF-8 text (not UTF-8 at byte %(byte)d, row %(row)d): "
                "save it as “CSV UTF-8”."
            ),
            byte=at,
            row=data[:at].count(b"\n") + 1,
        ) from None


def _delimiter(text: str) -> str:
    header = text.partition("\n")[0]
    return ";" if header.count(";") > header.count(",") else ","


def _normalise(text: str) -> str:
    """Lower case, æ/ø/å folded, every run of other characters one "_"."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().casefold().translate(_FOLD)).strip("_")


HEADER_WORDS.update({_normalise(word): name for name, words in COLUMNS.items() for word in words})


def _columns(header: list[str]) -> tuple[dict[str, str], dict[str, int], tuple[str, ...]]:
    columns: dict[str, str] = {}
    places: dict[str, int] = {}
    ignored: list[str] = []
    for i, title in enumerate(header):
        name = HEADER_WORDS.get(_normalise(title))
        if name is None:
            if title.strip():
                ignored.append(title.strip())
        elif name in columns:
            raise BadFile(
                N_("The columns “%(first)s” and “%(second)s” mean the same thing."),
                first=columns[name],
                second=title.strip(),
            )
        else:
            columns[name], places[name] = title.strip(), i
    if missing := [name for name in REQUIRED if name not in columns]:
        raise BadFile(
            N_("The file has no column %(missing)s (the first row must name the columns)."),
            missing=", ".join(_column_names(m) for m in missing),
        )
    return columns, places, tuple(ignored)


def _column_names(name: str) -> str:
    return " / ".join(COLUMNS[name][:1] + (name,))


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def parse_day(text: str) -> date:
    """A date written YYYY-MM-DD or DD.MM.YYYY."""
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = match.groups()
    elif match := _NORWEGIAN_DATE.fullmatch(text):
        day, month, year = match.groups()
    else:
        raise _Bad(N_("is not a date (YYYY-MM-DD or DD.MM.YYYY)"))
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise _Bad(N_("is not a real date (no such day)")) from None


def parse_kind(text: str) -> str:
    """A treatment code from a code or a Norwegian or English word."""
    word = _normalise(text)
    if word in TRANSPLANT_WORDS:
        raise _Bad(N_("is a transplant, which ends this surveillance: register it by hand"))
    if word not in KIND_WORDS:
        raise _Bad(
            N_(
                "is not a known treatment (resection, ablation, resection_with_ablation, "
                "reseksjon, ablasjon, reseksjon + ablasjon, ...)"
            )
        )
    return KIND_WORDS[word]


def _treatment_date(text: str, birth: date | None, today: date) -> date:
    day = _not_future(parse_day(text), today)
    if birth is not None and day < birth:
        raise _Bad(N_("is before the birth date (%(birth)s)"), birth=birth.isoformat())
    return day


def _more_treatments(text: str, birth: date | None, today: date) -> tuple[tuple[date, str], ...]:
    """Further treatments, "date kind" separated by ";" (a FHIR Bundle's other Procedures)."""
    found = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        day, _space, kind = item.partition(" ")
        found.append((_treatment_date(day, birth, today), parse_kind(kind)))
    return tuple(found)


def _done_until(text: str, treated: date | None, today: date) -> date:
    day = _not_future(parse_day(text), today)
    if treated is not None and day < treated:
        raise _Bad(N_("is before the treatment date"))
    return day


def _not_future(day: date, today: date) -> date:
    if day > today:
        raise _Bad(N_("is in the future (today is %(today)s)"), today=today.isoformat())
    return day


class _RowCheck:
    """Collects one row's values and problems, field by field."""

    def __init__(self, number: int, cells: dict[str, str], columns: dict[str, str]):
        self.number, self.cells, self.columns = number, cells, columns
        self.values: dict[str, Any] = {}
        self.problems: list[Problem] = []

    def parse(self, name: str, parse: Callable[[str], object]):
        """The field's value, or None after noting its problem (or if it is empty and optional)."""
        if name not in self.columns:
            return None
        text = self.cells[name].strip()
        try:
            if not text and name in REQUIRED:
                raise _Bad(N_("is required"))
            self.values[name] = parse(text) if text else None
        except _Bad as bad:
            self.problem(name, bad.message, **bad.params)
        except InputError as exc:
            self.problem(name, exc.problem, **exc.params)
        return self.values.get(name)

    def problem(self, name: str, message: str, plural: str | None = None, **params) -> None:
        """Note a problem of the field `name` ("" for the whole row)."""
        self.problems.append(
            Problem(
                self.number,
                name,
                self.columns.get(name, ""),
                self.cells.get(name, ""),
                message,
                params,
                plural,
            )
        )


def check_row(
    number: int, cells: dict[str, str], columns: dict[str, str], ctx: Context, extra_cells: int = 0
) -> Row:
    """Parse and check one row on its own (duplicates and registrations come later)."""
    check = _RowCheck(number, cells, columns)
    identity = check.parse("national_id", lambda text: check_identity(ctx, text))
    if identity:
        check.values["national_id"], check.values["birth_date"] = identity
    check.parse("name", check_name)
    birth = check.values.get("birth_date")
    treated = check.parse("treatment_date", lambda text: _treatment_date(text, birth, ctx.today))
    check.parse("treatment_kind", parse_kind)
    check.parse("more_treatments", lambda text: _more_treatments(text, birth, ctx.today))
    check.parse("done_until", lambda text: _done_until(text, treated, ctx.today))
    check.parse("protocol", lambda text: check_protocol(ctx, text))
    check.parse("phone", lambda text: parse_phone("phone", text))
    check.parse("gp", lambda text: parse_text("gp", text, max_length=200, required=False))
    check.parse("ended", lambda text: parse_choice("ended", text, END_STATUSES))
    check.parse("end_reason", lambda text: parse_text("end_reason", text, max_length=2000))
    if extra_cells:
        check.problem(
            "",
            *N_plural(
                "has %(num)d cell more than the header has columns",
                "has %(num)d cells more than the header has columns",
            ),
            num=extra_cells,
        )
    return Row(number, cells, check.values, tuple(check.problems))


def check_table(
    table: Table, ctx: Context, registered: Callable[[list[str]], set[str]]
) -> FileCheck:
    """Check every row; rows of registered patients are skipped, duplicates in the file refused."""
    rows = [
        check_row(number, cells, table.columns, ctx, extra) for number, cells, extra in table.rows
    ]
    known = registered([row.values["national_id"] for row in rows if "national_id" in row.values])
    rows = [
        replace(row, registered=True, problems=())
        if row.values.get("national_id") in known
        else row
        for row in rows
    ]
    return FileCheck(
        table.columns,
        table.ignored,
        tuple(_refuse_duplicates(rows, table.columns)),
        table.encoding,
    )


def _refuse_duplicates(rows: list[Row], columns: dict[str, str]) -> list[Row]:
    seen: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if number := row.values.get("national_id"):
            seen[number].append(row.number)
    return [_with_duplicate(row, seen, columns) for row in rows]


def _with_duplicate(row: Row, seen: dict[str, list[int]], columns: dict[str, str]) -> Row:
    numbers = seen.get(row.values.get("national_id", ""), [])
    if len(numbers) < 2:
        return row
    others = ", ".join(str(n) for n in numbers if n != row.number)
    problem = Problem(
        row.number,
        "national_id",
        columns["national_id"],
        row.cells["national_id"],
        N_("appears more than once in the file (also row %(rows)s)"),
        {"rows": others},
    )
    return replace(row, problems=row.problems + (problem,))


def check_file(
    session: Session, ctx: Context, clinic_code: str, data: bytes, read: Reader = read_table
) -> FileCheck:
    """The dry run: read and check the file against the database; nothing is written.

    `read` turns the file into a table: CSV here, a FHIR Bundle in surveillance.fhir.
    """
    clinic_by_code(session, clinic_code)
    return check_table(read(data), ctx, lambda numbers: registered_ids(session, numbers))


def import_rows(session: Session, ctx: Context, clinic_code: str, check: FileCheck) -> int:
    """Load the new rows of a checked file; refused, with nothing loaded, if any row has a
    problem.

    The rows go in in chunks, a short transaction each: on SQLite one transaction of 20,000
    patients held the database's only write lock past the busy timeout and other nurses'
    saves failed. So a file is all or nothing only at its check: should the import stop
    midway (a crash, or a person of a later chunk registered meanwhile: ImportStopped says
    how many went in), each chunk is whole, the chunks before stay, and importing the file
    again adds the rest (registered patients are skipped).
    """
    if check.problems:
        raise ImportRefused(check)
    new = [row for row in check.rows if row.status == "new"]
    loaded, size = 0, IMPORT_CHUNK
    while loaded < len(new):
        if loaded:
            time.sleep(CHUNK_PAUSE_SECONDS)
        chunk = new[loaded : loaded + size]
        started = time.perf_counter()
        try:
            loaded += load_patients(session, ctx, clinic_code, [_new_patient(r) for r in chunk])
        except InputError as exc:
            error = _in_file_rows(exc, chunk)
            raise (ImportStopped(loaded, error) if loaded else error) from None
        _end_ended(session, ctx, chunk)
        size = next_chunk_size(size, time.perf_counter() - started)
    return loaded


def next_chunk_size(size: int, seconds: float) -> int:
    """Fewer patients per transaction when the last one took long (a busy machine), more
    when it was quick: each holds the write lock about CHUNK_SECONDS."""
    if seconds > CHUNK_SECONDS:
        return max(MIN_CHUNK, size // 2)
    if seconds < CHUNK_SECONDS / 4:
        return min(IMPORT_CHUNK * 4, size * 2)
    return size


def import_csv(
    session: Session, ctx: Context, clinic_code: str, data: bytes, read: Reader = read_table
) -> FileCheck:
    """Check the file afresh and import its new rows (chunk by chunk); return what was found."""
    check = check_file(session, ctx, clinic_code, data, read)
    import_rows(session, ctx, clinic_code, check)
    return check


def _new_patient(row: Row) -> NewPatient:
    values = row.values
    done = values.get("done_until")
    return NewPatient(
        values["national_id"],
        values["name"],
        treatments=((values["treatment_date"], values["treatment_kind"]),)
        + (values.get("more_treatments") or ()),
        # The loader counts exams due *before* its date as done; the file says "on or before".
        done_before=done + timedelta(days=1) if done else None,
        protocol=values.get("protocol"),
        phone=values.get("phone"),
        gp=values.get("gp"),
    )


def _end_ended(session: Session, ctx: Context, rows: list[Row]) -> None:
    """End the surveillance of the rows that say so, as a nurse would (R1: audited).

    After the chunk's load, in a transaction each: should the import stop between the two,
    the patient stays registered and active (importing again skips them): end them by hand.
    """
    ended = {r.values["national_id"]: r.values for r in rows if r.values.get("ended")}
    if not ended:
        return
    ids = dict(
        session.execute(
            sa.select(Patient.national_id, Patient.id).where(Patient.national_id.in_(list(ended)))
        ).all()
    )
    session.rollback()
    for number, values in ended.items():
        end_surveillance(
            session, ctx, ids[number], status=values["ended"], reason=values.get("end_reason")
        )


def _in_file_rows(exc: InputError, new: list[Row]) -> InputError:
    """The loader numbers the rows it was given; say the file's row instead."""
    match = re.fullmatch(r"row (\d+): (.*)", exc.field)
    if not match:
        return exc
    row = new[int(match[1]) - 1].number
    return InputError(f"row {row}: {match[2]}", exc.value, exc.problem, **exc.params)
