"""`surveillance export`: a clinic's FHIR resources as NDJSON files."""

from __future__ import annotations

from pathlib import Path

import click

from ..fhir.codes import Site
from ..fhir.export import export_bundle, export_clinic
from .base import Command, load_app


@click.command("export", cls=Command)
@click.option("--clinic", "clinic_code", required=True, help="The clinic to export.")
@click.option(
    "--pseudonymise",
    is_flag=True,
    help="No national ID, name or reference; birth year only; a new pseudonym per export.",
)
@click.option(
    "--bundle",
    is_flag=True,
    help="Also write bundle.json: a transaction Bundle of Patient + Procedure to import elsewhere.",
)
@click.argument("folder", type=click.Path(file_okay=False, writable=True))
@click.pass_context
def export(ctx, clinic_code: str, pseudonymise: bool, bundle: bool, folder: str) -> None:
    """Write a clinic's FHIR resources as NDJSON, one file per resource type, into FOLDER."""

    if bundle and pseudonymise:
        raise click.UsageError("--bundle carries identities: it cannot be --pseudonymise'd")
    app = load_app(ctx)
    site = Site.from_config(app.config)
    with app.session() as session:
        counts = export_clinic(
            session, app.context().actor, clinic_code, site, Path(folder), pseudonymise
        )
        if bundle:
            patients = export_bundle(
                session, app.context().actor, clinic_code, site, Path(folder) / "bundle.json"
            )
    for kind, lines in counts.items():
        click.echo(f"{kind}.ndjson\t{lines}")
    if bundle:
        click.echo(f"bundle.json\t{patients}")
