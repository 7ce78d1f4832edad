"""The CSV import: reading the file, the dry run, all or nothing, re-imports and the command."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from surveillance.cli import main
from surveillance.db.models import AuditEvent, LiverTreatment, Patient, PlannedExam
from surveillance.errors import InputError
from surveillance.services import worklist
from surveillance.services.imports import (
    MAX_ROWS,
    BadFile,
    ImportRefused,
    check_file,
    check_table,
    import_csv,
    import_rows,
    read_table,
)
from tests.support.data import TODAY, synthetic_id

HEADER = "fødselsnummer;navn;behandlingsdato;behandling;kontroller_utført_til"


def csv(*rows: str, header: str = HEADER, bom: bool = False, sep: str = ";") -> bytes:
    """A file: the header and the rows (written with ";"), in UTF-8."""
    text = "\n".join([header, *rows]).replace(";", sep) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def dry_run(data: bytes, ctx, registered=()):
    """The dry run without a database: `registered` are the IDs already in it."""
    return check_table(read_table(data), ctx, lambda numbers: set(numbers) & set(registered))


def problems(check) -> set[tuple[int, str, str]]:
    """(row, column, English problem) of every problem."""
    return {(p.row, p.column, p.text) for p in check.problems}


def counts(session) -> dict[str, int]:
    """Rows of every table an import writes."""
    session.rollback()
    return {
        m.__name__: session.scalar(sa.select(sa.func.count()).select_from(m))
        for m in (Patient, LiverTreatment, PlannedExam, AuditEvent)
    }


# -- reading the file ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bom, sep, header",
    [
        (True, ";", HEADER),  # Excel's "CSV UTF-8": BOM and semicolons
        (False, ";", HEADER),  # no BOM
        (False, ",", HEADER),  # commas
        (True, ",", "national_id;name;treatment_date;treatment_kind;done_until"),  # English names
        (
            False,
            ";",
            "Fodselsnummer;Navn;Behandlingsdato;Behandling;Kontroller utført til",
        ),  # capitals, spaces
        (False, ";", "fnr;pasientnavn;dato;behandlingstype;utfort_til"),  # short Norwegian names
    ],
)
def test_the_file_is_read_whatever_its_dialect(ctx, bom, sep, header):
    number = synthetic_id()
    check = dry_run(
        csv(
            f"{number};Kari Nordmann;2025-01-15;reseksjon;2025-07-15",
            header=header,
            bom=bom,
            sep=sep,
        ),
        ctx,
    )
    assert not check.problems
    [row] = check.rows
    assert row.number == 2 and row.status == "new"
    assert row.values == {
        "national_id": number,
        "birth_date": date(1960, 5, 17),
        "name": "Kari Nordmann",
        "treatment_date": date(2025, 1, 15),
        "treatment_kind": "resection",
        "done_until": date(2025, 7, 15),
    }


@pytest.mark.parametrize(
    "name",
    [
        "Ærlig Øystein Åsen",  # capitals
        "Kjærsti Bølgen-Håløy",  # lower case in the middle
        "Nordmann, Kari",  # a delimiter inside quotes (below)
    ],
)
def test_norwegian_names_are_kept_exactly(ctx, name):
    data = csv(f'{synthetic_id()};"{name}";2025-01-15;resection;', sep=",")
    assert dry_run(data, ctx).rows[0].values["name"] == name


@pytest.mark.parametrize("text", ["2025-01-15", "15.01.2025", "15.1.2025"])
def test_both_date_formats(ctx, text):
    check = dry_run(csv(f"{synthetic_id()};Kari;{text};reseksjon;"), ctx)
    assert check.rows[0].values["treatment_date"] == date(2025, 1, 15)


@pytest.mark.parametrize(
    "text, code",
    [
        ("resection", "resection"),
        ("reseksjon", "resection"),
        ("Leverreseksjon", "resection"),
        ("ablation", "ablation"),
        ("ABLASJON", "ablation"),
        ("Ablasjon (RFA/MWA/IRE)", "ablation"),
        ("resection_with_ablation", "resection_with_ablation"),
        ("Reseksjon + ablasjon", "resection_with_ablation"),  # the dashboard's label
        ("pve", "pve"),
        ("biopsi", "biopsy"),  # history only: no plan
    ],
)
def test_treatment_codes_and_norwegian_words(ctx, text, code):
    check = dry_run(csv(f"{synthetic_id()};Kari;2025-01-15;{text};"), ctx)
    assert check.rows[0].values["treatment_kind"] == code


def test_other_columns_are_listed_as_ignored(ctx):
    data = csv(
        f"{synthetic_id()};Kari;2025-01-15;reseksjon;;Ring først", header=HEADER + ";Kommentar"
    )
    check = dry_run(data, ctx)
    assert check.ignored == ("Kommentar",) and not check.problems


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf\r\n\r\n", "The file is empty."),
        (csv(), "The file has no patient rows below the header."),
        (
            csv(f"{synthetic_id()};Kari;2025-01-15", header="fnr;navn;dato"),
            "The file has no column behandling / treatment_kind (the first row must name the columns).",
        ),
        (
            csv("x;y", header="navn;kommentar"),
            (
                "The file has no column fødselsnummer / national_id, behandlingsdato / treatment_date, "
                "behandling / treatment_kind (the first row must name the columns)."
            ),
        ),
        (
            csv("1;2;3;4;5", header="fnr;navn;dato;behandling;national_id"),
            "The columns “fnr” and “national_id” mean the same thing.",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(data, message):
    with pytest.raises(BadFile) as refused:
        read_table(data)
    assert str(refused.value) == message


def test_a_file_with_a_utf8_bom_that_is_not_utf8_is_refused_with_the_byte():
    data = "\ufeff".encode() + csv("17856000281;Kari;2025-01-15;reseksjon;")
    data += "17856000362;Øystein;2025-01-15;reseksjon;\n".encode("cp1252")
    at = data.index(b"\xd8")
    with pytest.raises(BadFile, match=f"not UTF-8 at byte {at}, row 3\\)"):
        read_table(data)


@pytest.mark.parametrize(
    "data, encoding",
    [
        (csv("17856000362;Øystein Ås;2025-01-15;reseksjon;"), "utf-8"),  # UTF-8, no BOM
        (b"\xef\xbb\xbf" + csv("17856000362;Øystein Ås;2025-01-15;reseksjon;"), "utf-8-sig"),
        # Excel's plain "CSV" on a Norwegian Windows: Windows-1252, header included
        (csv("17856000362;Øystein Ås;2025-01-15;reseksjon;").decode().encode("cp1252"), "cp1252"),
    ],
)
def test_utf8_and_windows_1252_files_are_read_and_say_how(data, encoding):
    table = read_table(data)
    assert table.encoding == encoding
    assert [cells["name"] for _, cells, _ in table.rows] == ["Øystein Ås"]
    assert table.columns["done_until"] == "kontroller_utført_til"


def test_a_file_neither_utf8_nor_windows_1252_is_refused_with_the_byte():
    data = csv("17856000281;Kari;2025-01-15;reseksjon;") + b"17856000362;\x81;2025-01-15;x;\n"
    at = data.index(b"\x81")
    with pytest.raises(
        BadFile, match=f"neither UTF-8 nor Windows-1252 text \\(byte {at}, row 3\\)"
    ):
        read_table(data)


def test_too_many_rows_are_refused():
    row = "17856000281;Kari;2025-01-15;reseksjon;"
    read_table(csv(*[row] * MAX_ROWS))  # the limit itself is fine
    with pytest.raises(BadFile, match="more than 20000 rows"):
        read_table(csv(*[row] * (MAX_ROWS + 1)))


# -- the dry run -----------------------------------------------------------------------------


def test_the_dry_run_lists_every_bad_row_and_column(ctx):
    good, twice = synthetic_id(), synthetic_id()
    data = csv(
        f"{good};Kari;2025-01-15;reseksjon;",
        f"{synthetic_id()};Per;2025-02-30;reseksjon;",  # row 3: no such day
        f"{synthetic_id()};Ola;2025-01-15;kjemoterapi;",  # row 4: not a liver treatment
        "12345678901;Eva;2025-01-15;reseksjon;",  # row 5: no valid national ID
        f"{synthetic_id()};Siri;2026-06-02;reseksjon;",  # row 6: tomorrow
        f"{synthetic_id()};Nils;1960-05-16;ablasjon;",  # row 7: the day before birth
        f"{twice};Anne;2025-01-15;reseksjon;",  # rows 8 and 9: the same person twice
        f"{twice};Anne;2025-01-15;reseksjon;",
        f"{synthetic_id()};;15/01/2025;;2026-07-01",  # row 10: four problems in one row
        f"{synthetic_id()};Liv;2025-01-15;reseksjon;2024-12-31",  # row 11: done before treated
        f"{synthetic_id()};Tor;2025-01-15;transplantasjon;;x",  # row 12: transplant, extra cell
        f"{synthetic_id()};{'K' * 201};2025-01-15;reseksjon;;x;y",  # row 13: long name, 2 extra
    )
    check = dry_run(data, ctx)
    found = problems(check)
    [(_, _, id_problem)] = [p for p in found if p[0] == 5]
    assert id_problem.startswith("is not a valid national ID (")  # python-stdnum says why
    assert "%(" not in id_problem
    assert found - {(5, "fødselsnummer", id_problem)} == {
        (3, "behandlingsdato", "is not a real date (no such day)"),
        (
            4,
            "behandling",
            (
                "is not a known treatment (resection, ablation, resection_with_ablation, "
                "reseksjon, ablasjon, reseksjon + ablasjon, ...)"
            ),
        ),
        (6, "behandlingsdato", "is in the future (today is 2026-06-01)"),
        (7, "behandlingsdato", "is before the birth date (1960-05-17)"),
        (8, "fødselsnummer", "appears more than once in the file (also row 9)"),
        (9, "fødselsnummer", "appears more than once in the file (also row 8)"),
        (10, "navn", "is required"),
        (10, "behandlingsdato", "is not a date (YYYY-MM-DD or DD.MM.YYYY)"),
        (10, "behandling", "is required"),
        (10, "kontroller_utført_til", "is in the future (today is 2026-06-01)"),
        (11, "kontroller_utført_til", "is before the treatment date"),
        (12, "behandling", "is a transplant, which ends this surveillance: register it by hand"),
        (12, "", "has 1 cell more than the header has columns"),
        (13, "navn", "is longer than 200 characters"),
        (13, "", "has 2 cells more than the header has columns"),
    }
    assert [r.status for r in check.rows] == ["new"] + ["problem"] * 11
    bad = {p.row: p.value for p in check.problems if p.column == "behandlingsdato"}
    assert bad[3] == "2025-02-30" and bad[10] == "15/01/2025"  # the value as written


def test_synthetic_ids_are_refused_unless_configured(ctx):
    from dataclasses import replace

    check = dry_run(
        csv(f"{synthetic_id()};Kari;2025-01-15;reseksjon;"),
        replace(ctx, accept_synthetic_ids=False),
    )
    assert [p.field for p in check.problems] == ["national_id"]


def test_registered_patients_are_skipped_not_refused(ctx):
    known, new = synthetic_id(), synthetic_id()
    check = dry_run(
        csv(f"{known};Kari;2025-01-15;reseksjon;", f"{new};Per;2025-01-15;reseksjon;"),
        ctx,
        registered=[known],
    )
    assert [r.status for r in check.rows] == ["registered", "new"]
    assert check.importable and not check.problems


# -- against the database --------------------------------------------------------------------


def test_the_dry_run_writes_nothing_and_sees_registered_patients(
    session, ctx, clinic, create_patient
):
    known = create_patient(name="Kari Nordmann").national_id
    before = counts(session)
    check = check_file(
        session,
        ctx,
        clinic.code,
        csv(
            f"{known};Kari Nordmann;2025-01-15;reseksjon;",
            f"{synthetic_id()};Per;2025-01-15;ablasjon;",
        ),
    )
    assert [r.status for r in check.rows] == ["registered", "new"]
    assert counts(session) == before


def test_the_import_loads_patients_treatments_and_plans_with_one_audit_event(session, ctx, clinic):
    first, second = synthetic_id(), synthetic_id()
    check = import_csv(
        session,
        ctx,
        clinic.code,
        csv(f"{first};Åse Ødegård;2025-01-15;reseksjon;", f"{second};Per Ås;31.03.2025;ablasjon;"),
    )
    assert check.count("new") == 2
    patients = {p.national_id: p for p in session.scalars(sa.select(Patient))}
    assert patients[first].name == "Åse Ødegård" and patients[first].clinic_id == clinic.id
    assert [(t.date, t.kind) for t in patients[second].treatments] == [
        (date(2025, 3, 31), "ablation")
    ]
    assert len(patients[first].exams) == 16 and len(patients[second].exams) == 18  # protocol.md
    [event] = session.scalars(sa.select(AuditEvent))
    assert (event.action, event.details["patients"]) == ("patient.bulk_load", 2)


def test_one_bad_row_imports_nothing(session, ctx, clinic):
    before = counts(session)
    data = csv(
        *[f"{synthetic_id()};Kari;2025-01-15;reseksjon;" for _ in range(5)],
        f"{synthetic_id()};Per;2025-02-30;reseksjon;",
    )
    with pytest.raises(ImportRefused, match="1 row with problems; nothing was imported") as refused:
        import_csv(session, ctx, clinic.code, data)
    assert [p.row for p in refused.value.check.problems] == [7]
    assert counts(session) == before


def test_a_reimport_of_the_same_file_creates_no_duplicates(session, ctx, clinic):
    data = csv(*[f"{synthetic_id()};Kari;2025-01-15;reseksjon;" for _ in range(3)])
    import_csv(session, ctx, clinic.code, data)
    after_first = counts(session)
    again = import_csv(session, ctx, clinic.code, data)
    assert (again.count("new"), again.count("registered")) == (0, 3)
    assert counts(session) == after_first


def test_a_file_with_new_rows_added_imports_only_those(session, ctx, clinic):
    rows = [f"{synthetic_id()};Kari;2025-01-15;reseksjon;" for _ in range(3)]
    import_csv(session, ctx, clinic.code, csv(*rows[:2]))
    again = import_csv(session, ctx, clinic.code, csv(*rows))
    assert [r.status for r in again.rows] == ["registered", "registered", "new"]
    assert counts(session)["Patient"] == 3


def test_done_until_marks_the_controls_done_so_nothing_is_falsely_overdue(session, ctx, clinic):
    # Resected 2024-01-15: controls due 2024-07-15, 2025-01-15, 2025-07-15, 2026-01-15, 2026-07-15...
    followed, unknown = synthetic_id(), synthetic_id()
    import_csv(
        session,
        ctx,
        clinic.code,
        csv(
            f"{followed};I oppfølging;2024-01-15;reseksjon;15.01.2026",
            f"{unknown};Uten historikk;2024-01-15;reseksjon;",
        ),
    )
    patient = session.scalar(sa.select(Patient).where(Patient.national_id == followed))
    states = {(e.due, e.state) for e in patient.exams if e.code == "ct_tap"}
    assert (date(2026, 1, 15), "done") in states  # "on or before": the day itself counts
    assert (date(2026, 7, 15), "open") in states
    overdue = worklist(session, ctx, [clinic.id], category="overdue", page_size=100).items
    assert {item.name for item in overdue} == {"Uten historikk"}


def test_a_patient_registered_between_preview_and_import_refuses_it_naming_the_file_row(
    session, ctx, clinic, create_patient
):
    rows = [synthetic_id() for _ in range(3)]
    check = check_file(
        session, ctx, clinic.code, csv(*[f"{n};Kari;2025-01-15;reseksjon;" for n in rows])
    )
    create_patient(national_id=rows[2])
    before = counts(session)
    with pytest.raises(InputError, match=r"^row 4: national_id"):
        import_rows(session, ctx, clinic.code, check)
    assert counts(session) == before


def test_an_unknown_clinic_is_refused(session, ctx, clinic):
    with pytest.raises(InputError, match="clinic"):
        check_file(session, ctx, "NOPE", csv(f"{synthetic_id()};Kari;2025-01-15;reseksjon;"))


# -- the command -----------------------------------------------------------------------------


@pytest.fixture
def command(engine, tmp_path, monkeypatch):
    """Run `surveillance import` against the test database; the result keeps stdout and stderr."""
    config = tmp_path / "config.toml"
    config.write_text("[patients]\naccept_synthetic_ids = true\n", "utf-8")
    monkeypatch.setenv("SURVEILLANCE_CONFIG", str(config))
    monkeypatch.setenv(
        "SURVEILLANCE_DATABASE_URL", engine.url.render_as_string(hide_password=False)
    )

    def run(data: bytes, *options: str):
        path = tmp_path / "pasienter.csv"
        path.write_bytes(data)
        return CliRunner().invoke(
            main, ["import", str(path), "--clinic", "TEST", "--today", TODAY.isoformat(), *options]
        )

    return run


def test_the_command_imports_and_then_skips(session, clinic, command):
    data = csv(*[f"{synthetic_id()};Kari;2025-01-15;reseksjon;" for _ in range(2)])
    dry = command(data, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[-2:] == [
        "2 rows: 2 to import, 0 already registered, 0 with problems",
        "dry run: nothing was written",
    ]
    assert counts(session)["Patient"] == 0
    done = command(data)
    assert done.exit_code == 0, done.output
    assert (
        done.stdout.splitlines()[-1]
        == "imported 2 patients into TEST, 0 already registered (skipped)"
    )
    again = command(data)
    assert again.stdout.splitlines() == [
        "row 2\talready registered, skipped",
        "row 3\talready registered, skipped",
        "2 rows: 0 to import, 2 already registered, 0 with problems",
        "imported 0 patients into TEST, 2 already registered (skipped)",
    ]
    assert counts(session)["Patient"] == 2


@pytest.mark.parametrize("options", [(), ("--dry-run",)])
def test_the_command_prints_every_problem_and_exits_2(session, clinic, command, options):
    result = command(
        csv(
            f"{synthetic_id()};Kari;2025-02-30;reseksjon;",
            f"{synthetic_id()};Per;2025-01-15;cellegift;",
        ),
        *options,
    )
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "row 2\tbehandlingsdato\t'2025-02-30'\tis not a real date (no such day)",
        (
            "row 3\tbehandling\t'cellegift'\tis not a known treatment (resection, ablation, "
            "resection_with_ablation, reseksjon, ablasjon, reseksjon + ablasjon, ...)"
        ),
        "2 rows: 0 to import, 0 already registered, 2 with problems",
    ]
    assert result.stderr == "error: 2 rows with problems; nothing was imported\n"
    assert counts(session)["Patient"] == 0


def test_the_command_refuses_an_unreadable_file_in_one_line(session, clinic, command):
    result = command(b"f\x81dselsnummer;navn\n")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(
        "error: The file is neither UTF-8 nor Windows-1252 text (byte 1, row 1)"
    )
