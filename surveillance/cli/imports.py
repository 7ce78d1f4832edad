"""`surveillance import FILE --clinic CODE [--dry-run]`: the CSV import from a terminal."""

from __future__ import annotations

import click

from ..fhir.bundle import reader_for
from ..services.imports import MAX_BYTES, FileCheck, ImportRefused, check_file, import_rows
from .base import Command, load_app, today_option


@click.command("import", cls=Command)
@click.argument("source", metavar="FILE", type=click.File("rb"))
@click.option("--clinic", "clinic_code", required=True, help="The clinic the patients join.")
@click.option("--dry-run", is_flag=True, help="Check the file, print the preview, write nothing.")
@today_option
@click.pass_context
def import_command(ctx, source, clinic_code: str, dry_run: bool, today) -> None:
    """Import patients from a CSV file or a FHIR transaction Bundle (Patient + Procedure), all
    or nothing; registered patients are skipped."""
    app = load_app(ctx, today)
    data = source.read(MAX_BYTES + 1)
    service_ctx = app.context()
    with app.session() as session:
        check = check_file(session, service_ctx, clinic_code, data, reader_for(data))
        echo_check(check)
        if check.problems:
            raise ImportRefused(check)  # one line on standard error, status 2
        if dry_run:
            click.echo("dry run: nothing was written")
            return
        imported = import_rows(session, service_ctx, clinic_code, check)
    click.echo(
        f"imported {imported} patient{'s' if imported != 1 else ''} into {clinic_code}, "
        f"{check.count('registered')} already registered (skipped)"
    )


def echo_check(check: FileCheck) -> None:
    """Problems one per line (row, column, value, problem), skipped rows, then the counts."""
    for row in check.rows:
        for p in row.problems:
            click.echo(f"row {p.row}\t{p.column or '-'}\t{p.value!r}\t{p.text}")
        if row.status == "registered":
            click.echo(f"row {row.number}\talready registered, skipped")
    if check.ignored:
        click.echo(f"ignored columns: {', '.join(check.ignored)}")
    click.echo(
        f"{len(check.rows)} rows: {check.count('new')} to import, "
        f"{check.count('registered')} already registered, "
        f"{check.count('problem')} with problems"
    )
