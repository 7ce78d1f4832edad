"""The quality report's lost-to-follow-up and time-to-decision figures from a real database,
against patients counted by hand (TODAY is 2026-06-01)."""

from __future__ import annotations

from click.testing import CliRunner

from surveillance.cli import main
from surveillance.quality.report import clinic_report, report_csv
from surveillance.services import record_decision, withdraw_decision
from surveillance.services.decisions import record_measurement


def test_lost_patients_and_decisions_per_quarter(session, ctx, clinic, treated_patient):
    # Lost: treated 2025-01-15, the controls of 2025-07-15 and 2026-01-15 never done ->
    # the engine's flag is dated 2026-01-15 (Q1).
    lost = treated_patient("2025-01-15")
    # Reviewed: treated 2025-10-01 (one control due before 2026-05-02: never lost).
    reviewed = treated_patient("2025-10-01")
    record_measurement(session, ctx, reviewed.id, date="2026-01-10", value="7,0")
    record_decision(session, ctx, reviewed.id, decision="no_recurrence", date="2026-01-30")
    record_measurement(session, ctx, reviewed.id, date="2026-04-02", value="8,0")
    record_decision(session, ctx, reviewed.id, decision="no_recurrence", date="2026-04-12")
    record_decision(session, ctx, reviewed.id, decision="no_recurrence", date="2026-05-01")
    other = treated_patient("2025-10-01")
    record_measurement(session, ctx, other.id, date="2026-02-01", value="6,0")
    record_decision(session, ctx, other.id, decision="no_recurrence", date="2026-02-15")
    # A withdrawn decision is no decision: the flag of 2026-03-01 is still waiting.
    record_measurement(session, ctx, other.id, date="2026-03-01", value="6,5")
    withdrawn = record_decision(session, ctx, other.id, decision="no_recurrence", date="2026-03-05")
    withdraw_decision(session, ctx, withdrawn.id, reason="recorded on the wrong patient")

    assert session.get(type(lost), lost.id).lost_to_follow_up
    found = {q.label: q for q in clinic_report(session, clinic.id, ctx.today, ctx.settings)}
    assert {label: q.lost for label, q in found.items() if q.lost} == {"2026-Q1": 1}
    # Q1: 20 days (reviewed) and 14 days (other) -> median 17; Q2: 10 days; the decision of
    # 2026-05-01 cleared nothing.
    q1, q2 = found["2026-Q1"], found["2026-Q2"]
    assert (q1.decisions, q1.median_decision_days) == (2, 17)
    assert (q2.decisions, q2.median_decision_days) == (1, 10)


def test_the_command_prints_the_same_figures(
    session, ctx, clinic, treated_patient, engine, monkeypatch
):
    treated_patient("2025-01-15")
    reviewed = treated_patient("2025-10-01")
    record_measurement(session, ctx, reviewed.id, date="2026-01-10", value="7,0")
    record_decision(session, ctx, reviewed.id, decision="no_recurrence", date="2026-01-30")
    monkeypatch.setenv(
        "SURVEILLANCE_DATABASE_URL", engine.url.render_as_string(hide_password=False)
    )
    figures = clinic_report(session, clinic.id, ctx.today, ctx.settings)
    args = ["report", "--clinic", clinic.code, "--today", str(ctx.today)]
    as_csv = CliRunner().invoke(main, [*args, "--csv"])
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.stdout == report_csv(figures)
    assert "2026-Q1,1,0,0.000,,2,0,0,1,1,20" in as_csv.stdout.splitlines()
    table = CliRunner().invoke(main, args)
    (q1,) = [line for line in table.stdout.splitlines() if line.startswith("2026-Q1")]
    assert q1.split()[-4:] == ["1", "1", "20", "d"]
