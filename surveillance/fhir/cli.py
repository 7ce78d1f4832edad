"""`surveillance tokens ...`: the FHIR API's tokens from the command line."""

from __future__ import annotations

import click


@click.group()
def tokens() -> None:
    """API tokens: read-only keys of one clinic's FHIR API."""


@tokens.command("create")
@click.option("--clinic", "clinic_code", required=True, help="The clinic the token may read.")
@click.option("--label", default=None, help="A name for the token (the system that uses it).")
@click.pass_context
def create(ctx, clinic_code: str, label: str | None) -> None:
    """Make a token and print it, this once only."""
    from ..cli import _app
    from ..services.patients import clinic_by_code
    from .tokens import create_api_token

    app = _app(ctx.find_root())
    with app.session() as session:
        clinic_id = clinic_by_code(session, clinic_code).id
        new = create_api_token(session, app.context().actor, clinic_id, label)
    click.echo(new.token)
    click.echo(
        f"API token {new.id} for {new.clinic_code}: shown only this once; send it as "
        "'Authorization: Bearer <token>'",
        err=True,
    )


@tokens.command("list")
@click.pass_context
def list_command(ctx) -> None:
    """Every token: id, clinic, name, created, revoked or active."""
    from ..cli import _app
    from .tokens import list_api_tokens

    app = _app(ctx.find_root())
    with app.session() as session:
        for t in list_api_tokens(session):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            click.echo(
                f"{t.id:>5}  {t.clinic.code:<16} {t.label or '-':<24} "
                f"{t.created_at:%Y-%m-%d} {t.created_by:<24} {state}"
            )


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def revoke(ctx, token_id: int) -> None:
    """Revoke a token: its requests are refused from now on."""
    from ..cli import _app
    from .tokens import revoke_api_token

    app = _app(ctx.find_root())
    with app.session() as session:
        revoke_api_token(session, app.context().actor, token_id)
    click.echo(f"API token {token_id} revoked")


@click.command("export")
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
    from pathlib import Path

    from ..cli import _app
    from .codes import Site
    from .export import export_bundle, export_clinic

    if bundle and pseudonymise:
        raise click.UsageError("--bundle carries identities: it cannot be --pseudonymise'd")
    app = _app(ctx.find_root())
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


def register(main: click.Group) -> None:
    """Add this module's commands to `surveillance`."""
    main.add_command(tokens)
    main.add_command(export)
