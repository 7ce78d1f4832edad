"""`surveillance backup` and `restore`: a round trip gives back every row of every table; for
PostgreSQL the command says which tool to use; and the account commands of the CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests import test_cli
from tests.test_cli import PASSWORD, TODAY, ok, refused, run

pytestmark = pytest.mark.thorough  # backups through the CLI's processes

# The command line's fixtures: a configured SQLite file, or any database URL.
write_config, use_database, sqlite_url = (
    test_cli.write_config,
    test_cli.use_database,
    test_cli.sqlite_url,
)


def every_table(path: Path) -> dict[str, list]:
    """Every row of every table of the SQLite file, the schema's own tables included."""
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = {name: sorted(conn.execute(f'SELECT * FROM "{name}"'), key=repr) for name in names}
    conn.close()
    return rows


@pytest.fixture
def demo_file(sqlite_url) -> Path:
    ok("demo", "--today", TODAY, "--patients", "30")
    return Path(sqlite_url.removeprefix("sqlite:///"))


def test_a_backup_restored_gives_back_every_row_of_every_table(demo_file, tmp_path):
    before = every_table(demo_file)
    assert len(before) > 10 and sum(map(len, before.values())) > 300
    copy = tmp_path / "backups" / "kopi.db"
    assert ok("backup", str(copy)).startswith(f"backup written to {copy}")
    ok("users", "add", "ny@demo.invalid", "--role", "nurse", "--clinic", "DEMO", input=PASSWORD)
    with sqlite3.connect(demo_file) as conn:
        conn.execute("DELETE FROM audit_events")
    conn.close()
    assert every_table(demo_file) != before
    assert ok("restore", str(copy), "--yes") == f"database restored from {copy}\n"
    assert every_table(demo_file) == before


def test_a_backup_never_overwrites_a_file(demo_file, tmp_path):
    existing = tmp_path / "old.db"
    existing.write_bytes(b"an older backup")
    assert "exists already" in refused("backup", str(existing))
    assert existing.read_bytes() == b"an older backup"


def test_restore_refuses_what_is_not_a_backup_and_changes_nothing(demo_file, tmp_path):
    before = every_table(demo_file)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert "is not a backup" in refused("restore", str(junk), "--yes")
    assert every_table(demo_file) == before


def test_for_postgresql_backup_prints_the_pg_dump_command(use_database, tmp_path):
    use_database("postgresql+psycopg://clinic:s3cret@db.internal:5432/surveillance")
    result = run("backup", str(tmp_path / "x.dump"))
    assert result.exit_code == 1
    assert result.stdout.startswith("pg_dump --format=custom --file ")
    assert "postgresql://clinic@db.internal:5432/surveillance" in result.stdout
    assert "s3cret" not in result.output and "+psycopg" not in result.stdout
    assert not (tmp_path / "x.dump").exists()


def test_the_cli_edits_an_account_and_resets_its_password(demo_file):
    import sqlalchemy as sa

    from surveillance.db.models import AuditEvent, User
    from surveillance.services.accounts import password_matches
    from tests.test_cli import query

    url = f"sqlite:///{demo_file}"
    ok("users", "edit", "sykepleier@demo.invalid", "--name", "Kari Sykepleier", "--role", "admin")
    out = ok("users", "password", "sykepleier@demo.invalid", input="et nytt langt passord 42\n")
    assert "new password" in out
    engine = sa.create_engine(url)
    with sa.orm.Session(engine) as session:
        user = session.scalars(sa.select(User).where(User.email == "sykepleier@demo.invalid")).one()
        assert (user.name, user.role, [c.code for c in user.clinics]) == (
            "Kari Sykepleier",
            "admin",
            ["DEMO"],
        )
        assert password_matches(user, "et nytt langt passord 42")
    engine.dispose()
    actions = [a for (a,) in query(url, sa.select(AuditEvent.action))]
    assert "user.edit" in actions and "user.password_reset" in actions


def test_the_cli_refuses_a_common_password(demo_file):
    line = refused("users", "password", "sykepleier@demo.invalid", input="password1234\n")
    assert "too common" in line
