"""`surveillance tokens ...`: the FHIR API's tokens from the command line."""

from __future__ import annotations

import click

from ..fhir.tokens import create_api_token, list_api_tokens, revoke_api_token
from ..services.lookups import clinic_by_code
from .base import Group, load_app


@click.group(cls=Group)
def tokens() -> None:
    """API tokens: read-only keys of one clinic's FHIR API."""


@tokens.command("create")
@click.option("--clinic", "clinic_code", required=True, help="The clinic the token may read.")
@click.option("--label", default=None, help="A name for the token (the system that uses it).")
@click.pass_context
def create(ctx, clinic_code: str, label: str | None) -> None:
    """Make a token and print it, this once only."""
    app = load_app(ctx)
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
    app = load_app(ctx)
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
    app = load_app(ctx)
    with app.session() as session:
        revoke_api_token(session, app.context().actor, token_id)
    click.echo(f"API token {token_id} revoked")
