"""`surveillance import FILE --clinic CODE [--dry-run]`: the CSV import from a terminal."""

from __future__ import annotations

import click

from .fhir.bundle import reader_for
from .services.imports import MAX_BYTES, ImportRefused, Preview, import_rows, preview_import


@click.command("import")
@click.argument("source", metavar="FILE", type=click.File("rb"))
@click.option("--clinic", "clinic_code", required=True, help="The clinic the patients join.")
@click.option("--dry-run", is_flag=True, help="Check the file, print the preview, write nothing.")
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Act as if today were this date (default: the clinic's today).",
)
@click.pass_context
def import_command(ctx, source, clinic_code: str, dry_run: bool, today) -> None:
    """Import patients from a CSV file or a FHIR transaction Bundle (Patient + Procedure), all
    or nothing; registered patients are skipped."""
    from .cli import _app  # the cli module registers this command: import it late

    app = _app(ctx.find_root(), today)
    data = source.read(MAX_BYTES + 1)
    service_ctx = app.context()
    with app.session() as session:
        preview = preview_import(session, service_ctx, clinic_code, data, reader_for(data))
        echo_preview(preview)
        if preview.problems:
            raise ImportRefused(preview)  # one line on standard error, status 2
        if dry_run:
            click.echo("dry run: nothing was written")
            return
        imported = import_rows(session, service_ctx, clinic_code, preview)
    click.echo(
        f"imported {imported} patient{'s' if imported != 1 else ''} into {clinic_code}, "
        f"{preview.count('registered')} already registered (skipped)"
    )


def echo_preview(preview: Preview) -> None:
    """Problems one per line (row, column, value, problem), skipped rows, then the counts."""
    for row in preview.rows:
        for p in row.problems:
            click.echo(f"row {p.row}\t{p.column or '-'}\t{p.value!r}\t{p.text}")
        if row.status == "registered":
            click.echo(f"row {row.number}\talready registered, skipped")
    if preview.ignored:
        click.echo(f"ignored columns: {', '.join(preview.ignored)}")
    click.echo(
        f"{len(preview.rows)} rows: {preview.count('new')} to import, "
        f"{preview.count('registered')} already registered, "
        f"{preview.count('problem')} with problems"
    )
