"""The `surveillance` command: one module per command group, each imported when it runs.

The listing below names each command's module without importing it (click's LazyGroup
pattern), so `surveillance --help` and `surveillance preview` start without SQLAlchemy,
Alembic and Flask: 0.09 s instead of 0.5-0.7 s for either on the development
machine (`time surveillance --help`). tests/test_cli.py holds each short help below equal
to the command's own docstring, and each command to the one-line refusals of cli/base.py.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# A new command is one line: its name, the module:object that holds it, its short help.
COMMANDS: dict[str, tuple[str, str]] = {
    "backup": (
        "surveillance.cli.backup:backup_command",
        "Copy the SQLite database to FILE while the...",
    ),
    "db": ("surveillance.cli.db:db", "The database schema."),
    "demo": ("surveillance.cli.demo:demo", "Load synthetic demo patients once and..."),
    "export": (
        "surveillance.cli.export:export",
        "Write a clinic's FHIR resources as NDJSON,...",
    ),
    "feeds": ("surveillance.cli.feeds:feeds", "Calendar feeds (iCal subscriptions by..."),
    "import": (
        "surveillance.cli.imports:import_command",
        "Import patients from a CSV file or a FHIR...",
    ),
    "init": ("surveillance.cli.db:init", "Create the database, the first clinic and..."),
    "patient": ("surveillance.cli.worklist:patient", "One patient."),
    "preview": ("surveillance.cli.preview:preview", "Print the plan for one patient's history..."),
    "restore": (
        "surveillance.cli.backup:restore_command",
        "Replace the database's content with the...",
    ),
    "report": (
        "surveillance.cli.report:report",
        "Per quarter: controls in their window,...",
    ),
    "reminders": ("surveillance.cli.reminders:reminders", "The daily digest e-mails."),
    "serve": ("surveillance.cli.serve:serve", "Serve the dashboard with waitress; with..."),
    "tokens": (
        "surveillance.cli.tokens:tokens",
        "API tokens: read-only keys of one clinic's...",
    ),
    "users": ("surveillance.cli.users:users", "Accounts of the dashboard."),
    "worker": ("surveillance.cli.reminders:worker", "Run the scheduler that sends the daily..."),
    "worklist": ("surveillance.cli.worklist:worklist", "Print a clinic's worklist: overdue first."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name when one of them runs."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, name = self.lazy[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command), self.lazy[cmd_name]
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, short) for name, (_, short) in sorted(self.lazy.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(package_name="surveillance")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Follow-up of patients treated for colorectal liver metastases."""
    ctx.obj = None
