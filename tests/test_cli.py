"""The `surveillance` command, as a nurse or an administrator would run it."""

from __future__ import annotations

import re

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from surveillance.cli import COMMANDS, main
from surveillance.cli.base import Command, Group
from surveillance.db import make_engine
from surveillance.db.models import AuditEvent, Clinic, Patient, User
from surveillance.services.accounts import password_matches
from surveillance.services.worklist import CATEGORIES, LISTS

pytestmark = pytest.mark.thorough  # every command end to end

TODAY = "2026-06-01"
PASSWORD = "correct horse battery"
DEMO_PATIENTS = 120  # the demo's default


def run(*args: str, input: str | None = None):
    """Run the command; the result keeps stdout and stderr apart."""
    return CliRunner().invoke(main, list(args), input=input)


def ok(*args: str, input: str | None = None) -> str:
    """Run the command, check it succeeded, and return what it printed."""
    result = run(*args, input=input)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def refused(*args: str, input: str | None = None) -> str:
    """Run the command, check it was refused in one line and status 2; return the line."""
    result = run(*args, input=input)
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def query(url: str, statement):
    """Rows of a query on the database at `url`."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(statement).all()
    finally:
        engine.dispose()


def count(url: str, model) -> int:
    return query(url, sa.select(sa.func.count()).select_from(model))[0][0]


def worklist_counts(stdout: str) -> dict[str, int]:
    """The counts line of `surveillance worklist`: "overdue: 11  results_missing: 10 ..."."""
    line = stdout.splitlines()[1]
    return {name: int(n) for name, n in re.findall(r"(\w+): (\d+)", line)}


def worklist_categories(stdout: str) -> list[str]:
    """The list each printed row belongs to, in the printed order."""
    return [line.split()[0] for line in stdout.splitlines()[2:-1]]


@pytest.fixture
def write_config(tmp_path):
    """Write the configuration file; its path."""

    def write(text: str = "[patients]\naccept_synthetic_ids = true\n"):
        path = tmp_path / "config.toml"
        path.write_text(text, "utf-8")
        return path

    return write


@pytest.fixture
def use_database(monkeypatch, write_config):
    """Point the command at a configuration file and a database URL (as the environment would)."""

    def use(url: str, config_text: str | None = None) -> str:
        path = write_config() if config_text is None else write_config(config_text)
        monkeypatch.setenv("SURVEILLANCE_CONFIG", str(path))
        monkeypatch.setenv("SURVEILLANCE_DATABASE_URL", url)
        return url

    return use


@pytest.fixture
def sqlite_url(tmp_path, use_database) -> str:
    """A new SQLite file in tmp_path, configured for the command."""
    return use_database(f"sqlite:///{tmp_path}/surveillance.db")


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    """A SQLite database with the demo loaded as of TODAY, shared by this module's tests."""
    folder = tmp_path_factory.mktemp("demo")
    config = folder / "config.toml"
    config.write_text("[patients]\naccept_synthetic_ids = true\n", "utf-8")
    url = f"sqlite:///{folder}/demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SURVEILLANCE_CONFIG", str(config))
        mp.setenv("SURVEILLANCE_DATABASE_URL", url)
        assert ok("demo", "--today", TODAY) == "DEMO\n"
    return url


@pytest.fixture
def demo(demo_url, use_database) -> str:
    """The demo database, configured for the command."""
    return use_database(demo_url)


def test_db_upgrade_makes_the_schema(sqlite_url):
    assert ok("db", "upgrade") == "database is up to date\n"
    assert count(sqlite_url, Clinic) == 0
    assert ok("db", "upgrade") == "database is up to date\n"


def test_init_makes_the_clinic_and_its_administrator(sqlite_url):
    out = ok(
        "init",
        "--clinic",
        "C",
        "--clinic-name",
        "Kirurgisk poliklinikk",
        "--admin",
        "Admin@Example.no",
        input=PASSWORD + "\n",
    )
    assert out == "clinic C and administrator Admin@Example.no are ready\n"
    assert query(sqlite_url, sa.select(Clinic.code, Clinic.name)) == [
        ("C", "Kirurgisk poliklinikk")
    ]
    engine = make_engine(sqlite_url)
    try:
        with sa.orm.Session(engine) as session:
            user = session.scalars(sa.select(User)).one()
            assert (user.email, user.role, [c.code for c in user.clinics]) == (
                "admin@example.no",
                "install_admin",  # the administrator made from the command line
                ["C"],
            )
            assert password_matches(user, PASSWORD)
            assert PASSWORD not in user.password_hash
    finally:
        engine.dispose()
    actions = query(sqlite_url, sa.select(AuditEvent.action).order_by(AuditEvent.id))
    assert actions == [("clinic.add",), ("user.add",)]


def test_init_refuses_a_short_password_and_writes_nothing(sqlite_url):
    line = refused(
        "init", "--clinic", "C", "--clinic-name", "N", "--admin", "a@example.no", input="short\n"
    )
    assert "password" in line and "12 characters" in line
    assert "short" not in line
    ok("db", "upgrade")
    assert count(sqlite_url, Clinic) == 0
    assert count(sqlite_url, User) == 0


def test_init_refuses_a_second_account_with_the_same_email(sqlite_url):
    args = ("init", "--clinic", "C", "--clinic-name", "N", "--admin", "a@example.no")
    ok(*args, input=PASSWORD + "\n")
    line = refused(*args, input=PASSWORD + "\n")
    assert line == "error: email: 'a@example.no' already has an account"
    assert count(sqlite_url, User) == 1


def test_demo_prints_its_clinic_and_loads_once(demo):
    before = count(demo, Patient)
    assert before == DEMO_PATIENTS
    result = run("demo", "--today", TODAY)
    assert result.exit_code == 0
    assert result.stdout == "DEMO\n"
    assert "allerede lastet inn" in result.stderr
    assert count(demo, Patient) == before


def test_demo_says_what_it_loaded_in_bokmal(sqlite_url):
    result = run("demo", "--patients", "12", "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert result.stdout == "DEMO\n"
    assert "12 demopasienter lastet inn i klinikk DEMO\n" in result.stderr


def test_demo_gives_every_patient_a_national_id_of_their_own(sqlite_url):
    # Seed 196 drew the same number twice by its 79th patient before the demo kept track.
    result = run("demo", "--patients", "100", "--seed", "196", "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert count(sqlite_url, Patient) == 100


def test_a_demo_that_fails_leaves_nothing_behind(tmp_path, sqlite_url):
    first = query(load_small_demo(tmp_path), sa.select(Patient.national_id, Patient.name))[0]
    ok("init", "--clinic", "OUS", "--clinic-name", "Oslo", "--admin", "a@x.invalid", input=PASSWORD)
    (tmp_path / "one.csv").write_text(
        f"fødselsnummer;navn;behandlingsdato;behandling\n{first[0]};{first[1]};2026-01-05;ablasjon\n"
    )
    ok("import", str(tmp_path / "one.csv"), "--clinic", "OUS")
    result = run("demo", "--patients", "3", "--today", TODAY)
    assert result.exit_code != 0  # the demo's first number is taken
    assert query(sqlite_url, sa.select(Clinic.code)) == [("OUS",)]
    assert count(sqlite_url, User) == 1 and count(sqlite_url, Patient) == 1


def load_small_demo(tmp_path) -> str:
    """A demo of three patients in a database of its own; its URL."""
    url = f"sqlite:///{tmp_path}/other.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SURVEILLANCE_DATABASE_URL", url)
        ok("demo", "--patients", "3", "--today", TODAY)
    return url


def test_demo_needs_synthetic_ids_accepted(tmp_path, use_database):
    use_database(f"sqlite:///{tmp_path}/s.db", config_text="")
    line = refused("demo")
    assert "patients.accept_synthetic_ids" in line


def test_the_demo_fills_every_list(demo):
    counts = worklist_counts(ok("worklist", "--clinic", "DEMO", "--today", TODAY))
    assert set(counts) == set(LISTS)
    assert all(n > 0 for n in counts.values()), counts


def test_the_worklist_prints_counts_then_rows_overdue_first(demo):
    out = ok("worklist", "--clinic", "DEMO", "--today", TODAY)
    lines = out.splitlines()
    assert lines[0] == f"Demoklinikken, leverkirurgisk poliklinikk (DEMO), {TODAY}"
    categories = worklist_categories(out)
    counts = worklist_counts(out)
    assert categories[0] == "overdue"
    assert categories == sorted(categories, key=CATEGORIES.index)
    total = sum(counts[c] for c in CATEGORIES)
    assert len(categories) == min(total, 50)  # the first page of the default page size
    pages = -(-total // 50)
    assert lines[-1] == f"page 1 of {pages}, {total} controls"
    assert all(re.search(r"\bP-\d{4}\b", line) for line in lines[2:-1])


def test_the_worklist_shows_one_list(demo):
    out = ok("worklist", "--clinic", "DEMO", "--list", "booked", "--today", TODAY)
    assert set(worklist_categories(out)) == {"booked"}


def test_an_unknown_clinic_is_named(demo):
    line = refused("worklist", "--clinic", "NOPE")
    assert "'NOPE'" in line and "clinic" in line


def test_patient_show_prints_the_plan_and_is_audited(demo):
    views = sa.select(AuditEvent.actor, AuditEvent.patient_id).where(
        AuditEvent.action == "patient.view"
    )
    before = query(demo, views)
    out = ok("patient", "show", "P-0001", "--today", TODAY)
    lines = out.splitlines()
    assert lines[0].startswith("P-0001  ")
    assert any(line.startswith("treatment  ") for line in lines)
    exams = [line for line in lines if line.startswith("exam  ")]
    assert len(exams) >= 8
    assert "None" not in out
    patient_id = query(demo, sa.select(Patient.id).where(Patient.local_number == 1))[0][0]
    after = query(demo, views)
    assert len(after) == len(before) + 1
    actor, viewed = after[-1]
    assert viewed == patient_id and actor.startswith("cli:")


@pytest.mark.parametrize(
    "reference, message",
    [
        ("X-1", "reference: 'X-1' is not a local reference like P-0042"),  # not a reference at all
        ("P-9999", "no patient with reference P-9999"),  # a reference nobody has
    ],
)
def test_patient_show_refuses_a_bad_reference(demo, reference, message):
    assert refused("patient", "show", reference) == f"error: {message}"


def test_an_unknown_configuration_key_is_named(tmp_path, use_database):
    use_database(
        f"sqlite:///{tmp_path}/s.db", config_text="[patients]\naccept_synthetic_id = true\n"
    )
    assert (
        refused("db", "upgrade")
        == "error: unknown configuration key 'patients.accept_synthetic_id'"
    )
    assert (
        refused("preview", "-", input="{}")
        == "error: unknown configuration key 'patients.accept_synthetic_id'"
    )


def test_the_environment_overrides_the_files_database(tmp_path, monkeypatch, write_config):
    in_file, in_env = tmp_path / "file.db", tmp_path / "env.db"
    config = write_config(f'[database]\nurl = "sqlite:///{in_file}"\n')
    monkeypatch.setenv("SURVEILLANCE_CONFIG", str(config))
    monkeypatch.setenv("SURVEILLANCE_DATABASE_URL", f"sqlite:///{in_env}")
    ok("db", "upgrade")
    assert in_env.exists() and not in_file.exists()
    monkeypatch.delenv("SURVEILLANCE_DATABASE_URL")
    ok("db", "upgrade")
    assert in_file.exists()


def test_an_unreachable_database_is_one_line(use_database):
    use_database("postgresql+psycopg://nobody@127.0.0.1:1/surveillance")
    assert refused("db", "upgrade").startswith("error: database: ")


@pytest.mark.postgres
def test_the_main_flow_on_postgresql(fresh_database, use_database):
    url = use_database(fresh_database("postgresql"))
    assert ok("db", "upgrade") == "database is up to date\n"
    ok(
        "init",
        "--clinic",
        "C",
        "--clinic-name",
        "N",
        "--admin",
        "a@example.no",
        input=PASSWORD + "\n",
    )
    refused(
        "init", "--clinic", "D", "--clinic-name", "N", "--admin", "b@example.no", input="short\n"
    )
    assert ok("demo", "--today", TODAY) == "DEMO\n"
    assert ok("demo", "--today", TODAY) == "DEMO\n"
    assert count(url, Patient) == DEMO_PATIENTS
    out = ok("worklist", "--clinic", "DEMO", "--today", TODAY)
    assert all(n > 0 for n in worklist_counts(out).values())
    assert worklist_categories(out)[0] == "overdue"
    refused("worklist", "--clinic", "NOPE")
    assert ok("patient", "show", "P-0001", "--today", TODAY).startswith("P-0001  ")
    assert query(url, sa.select(AuditEvent.action).where(AuditEvent.action == "patient.view")) == [
        ("patient.view",)
    ]
    assert query(url, sa.select(Clinic.code).order_by(Clinic.code)) == [("C",), ("DEMO",)]


# -- the command package ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listing_says_what_each_command_says_of_itself(name):
    """`surveillance --help` lists commands without importing them: their help must agree."""
    command = main.get_command(click.Context(main), name)
    assert command is not None and command.name == name
    assert COMMANDS[name][1] == command.get_short_help_str()


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"preview"}))  # preview reads no database
def test_every_command_refuses_in_one_line(name):
    """A command made without the base's classes would print a traceback for a refusal."""
    command = main.get_command(click.Context(main), name)
    assert isinstance(command, Command | Group)


def test_help_lists_every_command():
    listed = ok("--help")
    for name in COMMANDS:
        assert re.search(rf"^  {name}\s", listed, re.MULTILINE), name
