"""`surveillance report`: the same figures as the page, in a terminal or as CSV."""

from __future__ import annotations

from click.testing import CliRunner

from surveillance.cli import main
from surveillance.demo import load_demo
from surveillance.quality.report import clinic_report, report_csv
from surveillance.services.patients import clinic_by_code
from tests.support.data import TODAY


def test_report_prints_the_clinics_quarters(engine, session, ctx, monkeypatch):
    load_demo(session, ctx, 30, 2025)
    session.commit()
    monkeypatch.setenv(
        "SURVEILLANCE_DATABASE_URL", engine.url.render_as_string(hide_password=False)
    )
    figures = clinic_report(session, clinic_by_code(session, "DEMO").id, TODAY, ctx.settings)
    assert sum(q.controls for q in figures) > 0
    as_csv = CliRunner().invoke(
        main, ["report", "--clinic", "DEMO", "--today", str(TODAY), "--csv"]
    )
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.stdout == report_csv(figures)
    table = CliRunner().invoke(main, ["report", "--clinic", "DEMO", "--today", str(TODAY)])
    assert table.exit_code == 0 and all(q.label in table.stdout for q in figures)
    refused = CliRunner().invoke(main, ["report", "--clinic", "NOPE"])
    assert refused.exit_code == 2 and "NOPE" in refused.stderr
