"""`surveillance preview`: the JSON contract of protocol.md, without a database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from surveillance.cli import main

CONSOLE_SCRIPT = Path(sys.executable).with_name("surveillance")


def exam(kind, month, due, working_day=None, coordinated=None, *, dated_from) -> dict:
    """One exam of the output; the working day defaults to the due date."""
    return {
        "kind": kind,
        "month": month,
        "due": due,
        "due_working_day": working_day or due,
        "from": dated_from,
        "extra": False,
        "coordinated_with": coordinated,
    }


def control(month, due, working_day=None, *, dated_from) -> list[dict]:
    """A control of the base programme: CEA and CT on the same day (sorted by code)."""
    return [
        exam("cea", month, due, working_day, dated_from=dated_from),
        exam("ct_tap", month, due, working_day, dated_from=dated_from),
    ]


def history(*treatments, **fields) -> dict:
    """A preview input with ("YYYY-MM-DD", kind) treatments."""
    return {"treatments": [{"date": d, "kind": k} for d, k in treatments], **fields}


@pytest.fixture
def database(tmp_path, monkeypatch) -> Path:
    """The SQLite file a command would create if it touched the database; it must not exist."""
    path = tmp_path / "surveillance.db"
    monkeypatch.setenv("SURVEILLANCE_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("SURVEILLANCE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # the default URL is relative: instance/surveillance.db
    return path


@pytest.fixture
def preview(database):
    """Run `surveillance preview -` on a dict or a text; check no database appeared."""

    def run(data, *args):
        text = data if isinstance(data, str) else json.dumps(data)
        result = CliRunner().invoke(
            main, ["preview", *(args or ["-"])], input=text, catch_exceptions=False
        )
        assert not database.exists()
        assert not (database.parent / "instance").exists()
        return result

    return run


def plan(preview, data) -> dict:
    """The printed plan of a valid input."""
    result = preview(data)
    assert (result.exit_code, result.stderr) == (0, "")
    return json.loads(result.stdout)


# --- The worked examples -------------------------------------------------------------------

EXAMPLE_1 = {
    "protocol": "no-hdir-2025",
    "anchor": {"date": "2025-01-15", "kind": "resection"},
    "exams": [
        *control(6, "2025-07-15", dated_from="2025-01-15"),
        *control(12, "2026-01-15", dated_from="2025-01-15"),
        *control(18, "2026-07-15", dated_from="2025-01-15"),
        *control(24, "2027-01-15", dated_from="2025-01-15"),
        *control(30, "2027-07-15", dated_from="2025-01-15"),
        *control(36, "2028-01-15", "2028-01-17", dated_from="2025-01-15"),  # a Saturday
        *control(48, "2029-01-15", dated_from="2025-01-15"),
        *control(60, "2030-01-15", dated_from="2025-01-15"),
    ],
}

EXAMPLE_2 = {
    "protocol": "no-hdir-2025",
    "anchor": {"date": "2025-03-31", "kind": "ablation"},
    "exams": [
        exam("ct_liver", 3, "2025-06-30", dated_from="2025-03-31"),
        *control(6, "2025-09-30", dated_from="2025-03-31"),
        exam("ct_liver", 9, "2025-12-31", dated_from="2025-03-31"),
        *control(12, "2026-03-31", dated_from="2025-03-31"),
        *control(18, "2026-09-30", dated_from="2025-03-31"),
        *control(24, "2027-03-31", dated_from="2025-03-31"),
        *control(30, "2027-09-30", dated_from="2025-03-31"),
        *control(36, "2028-03-31", dated_from="2025-03-31"),
        *control(
            48, "2029-03-31", "2029-04-03", dated_from="2025-03-31"
        ),  # Saturday, Easter Sunday, Easter Monday
        *control(60, "2030-03-31", "2030-04-01", dated_from="2025-03-31"),  # a Sunday
    ],
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # Example 1: a resection gives 8 controls of CT + CEA, 16 exams.
        (history(("2025-01-15", "resection")), EXAMPLE_1),
        # Example 2: an ablation adds the liver CTs at 3 and 9 months, 18 exams.
        (history(("2025-03-31", "ablation")), EXAMPLE_2),
    ],
)
def test_worked_examples_1_and_2(preview, data, expected):
    assert plan(preview, data) == expected
    assert len(expected["exams"]) == {"resection": 16, "ablation": 18}[expected["anchor"]["kind"]]


def test_worked_example_3_the_new_plan_starts_from_the_new_resection(preview):
    output = plan(preview, history(("2025-01-15", "resection"), ("2026-03-10", "resection")))
    assert output["anchor"] == {"date": "2026-03-10", "kind": "resection"}
    assert output["exams"][:2] == control(6, "2026-09-10", dated_from="2026-03-10")
    assert len(output["exams"]) == 16


def test_worked_example_4_maundy_thursday(preview):
    output = plan(preview, history(("2025-10-02", "resection")))
    assert output["exams"][:2] == control(6, "2026-04-02", "2026-04-07", dated_from="2025-10-02")


# --- The contract's example and the defaults -----------------------------------------------

CONTRACT_INPUT = {
    "candidate": True,
    "treatments": [{"date": "2025-01-15", "kind": "resection"}],
    "primary_followups": [{"date": "2025-07-01", "exams": ["ct_tap", "cea"]}],
    "protocol": "no-hdir-2025",
}


def test_contract_example(preview):
    output = plan(preview, CONTRACT_INPUT)
    assert output["protocol"] == "no-hdir-2025"
    assert output["anchor"] == {"date": "2025-01-15", "kind": "resection"}
    assert output["exams"][0] == {
        "kind": "cea",
        "month": 6,
        "due": "2025-07-15",
        "due_working_day": "2025-07-15",
        "from": "2025-01-15",
        "extra": False,
        "coordinated_with": "2025-07-01",
    }
    # The CT of the same control is fulfilled by the same primary control; the next is not.
    assert output["exams"][1]["coordinated_with"] == "2025-07-01"
    assert {e["coordinated_with"] for e in output["exams"][2:]} == {None}


def test_defaults_are_candidate_no_primary_controls_and_the_default_protocol(preview):
    bare = plan(preview, {"treatments": CONTRACT_INPUT["treatments"]})
    explicit = plan(preview, {**CONTRACT_INPUT, "primary_followups": []})
    assert bare == explicit
    assert bare["protocol"] == "no-hdir-2025"
    assert len(bare["exams"]) == 16


def test_the_other_protocol(preview):
    output = plan(preview, history(("2025-03-31", "ablation"), protocol="no-hdir-2019"))
    assert output["protocol"] == "no-hdir-2019"
    assert [(e["kind"], e["due"]) for e in output["exams"][:2]] == [
        ("cea", "2025-07-31"),
        ("ct_liver_lungs", "2025-07-31"),
    ]
    assert [e["month"] for e in output["exams"] if e["kind"] == "ct_liver_lungs"] == [
        4,
        8,
        12,
        18,
        24,
        30,
        36,
        42,
        48,
        54,
        60,
    ]
    assert {e["kind"] for e in output["exams"]} == {"cea", "ct_liver_lungs"}


def test_exams_sorted_by_due_then_code(preview):
    exams = plan(preview, history(("2025-03-31", "resection_with_ablation")))["exams"]
    assert [(e["due"], e["kind"]) for e in exams] == sorted((e["due"], e["kind"]) for e in exams)


@pytest.mark.parametrize(
    ("data", "protocol"),
    [
        # An empty object: no treatment, so no anchor.
        ({}, "no-hdir-2025"),
        # An empty list of treatments.
        (history(), "no-hdir-2025"),
        # Treatments that do not anchor (PVE, biopsy, SBRT).
        (
            history(("2025-01-15", "pve"), ("2025-02-15", "biopsy"), ("2025-03-15", "sbrt")),
            "no-hdir-2025",
        ),
        # Not a candidate for further treatment.
        (history(("2025-01-15", "resection"), candidate=False), "no-hdir-2025"),
        # A transplant after the resection ends this surveillance.
        (history(("2025-01-15", "resection"), ("2025-05-01", "transplant")), "no-hdir-2025"),
        # The protocol asked for is still named when there is no plan.
        (
            history(("2025-01-15", "resection"), candidate=False, protocol="no-hdir-2019"),
            "no-hdir-2019",
        ),
    ],
)
def test_no_plan(preview, data, protocol):
    assert plan(preview, data) == {"protocol": protocol, "anchor": None, "exams": []}


def test_reads_a_file_too(preview, tmp_path):
    source = tmp_path / "history.json"
    source.write_text(json.dumps(CONTRACT_INPUT), encoding="utf-8")
    result = preview("", str(source))
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout)["exams"][0]["coordinated_with"] == "2025-07-01"


def test_configured_settings_are_used(preview, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text(
        '[protocol]\nclosed_days = ["07-15"]\ncoordination_window_days = 10\n', encoding="utf-8"
    )
    monkeypatch.setenv("SURVEILLANCE_CONFIG", str(config))
    first = plan(preview, CONTRACT_INPUT)["exams"][0]
    # The clinic is closed on 15 July; the primary control 14 days before is outside 10 days.
    assert first == exam("cea", 6, "2025-07-15", "2025-07-16", dated_from="2025-01-15")


TREATMENT_V2 = {"date": "2025-01-15", "kind": "resection"}


# --- Version 2: with today ------------------------------------------------------------------

V2 = {
    "protocol": "no-hdir-2025",
    "candidate": True,
    "today": "2026-06-01",
    "treatments": [{"date": "2025-01-15", "kind": "resection"}],
    "primary_followups": [
        {
            "date": "2025-07-01",
            "exams": ["ct_tap", "cea"],
            "done": True,
            "results": {"ct_tap": "normal", "cea": 2.1},
        }
    ],
    "records": [
        {
            "exam": "cea",
            "due": "2026-01-15",
            "booked": "2026-01-12",
            "done": "2026-01-12",
            "value": 3.1,
        },
        {"exam": "ct_tap", "due": "2026-01-15", "missed": "2026-01-20"},
        {"exam": "ct_tap", "due": "2026-07-15", "cancelled": "2026-06-01", "reason": "..."},
    ],
    "measurements": [{"date": "2026-03-01", "cea": 4.2}],
    "decisions": [{"date": "2026-02-01", "decision": "no_recurrence"}],
}


def v2(**changes) -> dict:
    """The contract's v2 input with some keys replaced."""
    return {**V2, **changes}


def test_v2_contract_example(preview):
    output = plan(preview, V2)
    assert list(output) == ["protocol", "anchor", "status", "flags", "exams"]
    assert output["status"] == "active"
    # 2.1, 3.1, 4.2: rising; the decision of 2026-02-01 cleared nothing.
    assert output["flags"] == [{"flag": "mdt_review", "reason": "cea_rising", "date": "2026-03-01"}]
    assert output["exams"][0] == {
        "kind": "cea",
        "month": 6,
        "due": "2025-07-15",
        "due_working_day": "2025-07-15",
        "from": "2025-01-15",
        "extra": False,
        "coordinated_with": "2025-07-01",
        "state": "done",
        "list": None,
    }
    states = [(e["kind"], e["due"], e["state"], e["list"]) for e in output["exams"][1:6]]
    assert states == [
        ("ct_tap", "2025-07-15", "done", None),
        ("cea", "2026-01-15", "done", None),
        ("ct_tap", "2026-01-15", "missed", "overdue"),
        ("cea", "2026-07-15", "open", "upcoming"),
        ("ct_tap", "2026-07-15", "cancelled", None),
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # Worked example 6: a primary control planned 24 days ahead: both exams coordinated.
        (
            {
                "today": "2026-06-01",
                "treatments": [{"date": "2025-12-01", "kind": "resection"}],
                "primary_followups": [{"date": "2026-06-25", "exams": ["ct_tap", "cea"]}],
            },
            [("cea", "open", "coordinated"), ("ct_tap", "open", "coordinated")],
        ),
        # Worked example 6: done with a normal CT and CEA 7.2: both done.
        (
            {
                "today": "2026-06-28",
                "treatments": [{"date": "2025-12-01", "kind": "resection"}],
                "primary_followups": [
                    {
                        "date": "2026-06-25",
                        "exams": ["ct_tap", "cea"],
                        "done": True,
                        "results": {"ct_tap": "normal", "cea": 7.2},
                    }
                ],
            },
            [("cea", "done", None), ("ct_tap", "done", None)],
        ),
    ],
)
def test_v2_worked_example_6(preview, data, expected):
    output = plan(preview, data)
    assert [(e["kind"], e["state"], e["list"]) for e in output["exams"][:2]] == expected


def test_v2_worked_example_6_the_cea_reaches_the_mdt_list(preview):
    output = plan(
        preview,
        {
            "today": "2026-06-28",
            "treatments": [{"date": "2025-12-01", "kind": "resection"}],
            "primary_followups": [
                {
                    "date": "2026-06-25",
                    "exams": ["ct_tap", "cea"],
                    "done": True,
                    "results": {"cea": 7.2},
                }
            ],
        },
    )
    assert output["flags"] == [{"flag": "mdt_review", "reason": "cea_high", "date": "2026-06-25"}]
    assert [(e["kind"], e["state"], e["list"]) for e in output["exams"][:2]] == [
        ("cea", "done", None),
        ("ct_tap", "open", "results_missing"),
    ]


def test_v2_worked_example_5_the_kept_liver_ct_counts_from_the_ablation(preview):
    output = plan(preview, history(("2025-01-15", "ablation"), ("2025-06-02", "resection")))
    liver = [e for e in output["exams"] if e["kind"] == "ct_liver"]
    assert [(e["month"], e["due"], e["from"]) for e in liver] == [(9, "2025-10-15", "2025-01-15")]


def test_v2_an_extra_exam_is_printed(preview):
    output = plan(
        preview,
        v2(
            records=[
                {
                    "exam": "ct_tap",
                    "due": "2026-01-15",
                    "done": "2026-01-15",
                    "reading": "equivocal",
                }
            ],
            primary_followups=[],
            measurements=[],
            decisions=[],
        ),
    )
    extra = [e for e in output["exams"] if e["extra"]]
    assert extra == [
        {
            "kind": "ct_tap",
            "month": None,
            "due": "2026-03-12",
            "due_working_day": "2026-03-12",
            "from": "2026-01-15",
            "extra": True,
            "coordinated_with": None,
            "state": "open",
            "list": "overdue",
        }
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # No anchoring treatment: no plan, no status, no flags.
        (
            {"today": "2026-06-01", "treatments": [{"date": "2026-01-01", "kind": "pve"}]},
            {"protocol": "no-hdir-2025", "anchor": None, "status": None, "flags": [], "exams": []},
        ),
        # Not a candidate: ended with its reason.
        (
            {"today": "2026-06-01", "candidate": False, "treatments": [TREATMENT_V2]},
            {
                "protocol": "no-hdir-2025",
                "anchor": None,
                "status": "ended",
                "status_reason": "not_candidate",
                "flags": [],
                "exams": [],
            },
        ),
        # Transplanted after the anchor: ended, transplanted.
        (
            {
                "today": "2026-06-01",
                "treatments": [TREATMENT_V2, {"date": "2025-06-01", "kind": "transplant"}],
            },
            {
                "protocol": "no-hdir-2025",
                "anchor": None,
                "status": "ended",
                "status_reason": "transplanted",
                "flags": [],
                "exams": [],
            },
        ),
    ],
)
def test_v2_no_plan(preview, data, expected):
    assert plan(preview, data) == expected


def test_v2_cancel_booking_of_a_superseded_exam(preview):
    output = plan(
        preview,
        {
            "today": "2026-04-01",
            "treatments": [TREATMENT_V2, {"date": "2026-03-10", "kind": "resection"}],
            "records": [{"exam": "ct_tap", "due": "2026-07-15", "booked": "2026-07-10"}],
        },
    )
    assert output["flags"] == [{"flag": "cancel_booking", "exam": "ct_tap", "due": "2026-07-15"}]
    assert all(e["from"] == "2026-03-10" for e in output["exams"])


# --- Bad input -----------------------------------------------------------------------------

TREATMENT = {"date": "2025-01-15", "kind": "resection"}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        # Not JSON at all.
        ("{not json", ["input", "JSON"]),
        # Empty input.
        ("", ["input", "JSON"]),
        # JSON nested deeper than a parser will follow.
        ("[" * 100_000, ["input", "JSON"]),
        # JSON, but not an object.
        ("[1, 2]", ["input", "object", "array"]),
        # An impossible date.
        (history(("2025-02-30", "resection")), ["treatments[0].date", "2025-02-30"]),
        # A date without leading zeros.
        (history(("2025-2-3", "resection")), ["treatments[0].date", "2025-2-3"]),
        # A week date is ISO 8601 but not YYYY-MM-DD.
        (history(("2025-W03-1", "resection")), ["treatments[0].date", "2025-W03-1"]),
        # A date as a number.
        (
            {"treatments": [{"date": 20250115, "kind": "resection"}]},
            ["treatments[0].date", "20250115"],
        ),
        # A date as null is named as the user wrote it.
        ({"treatments": [{"date": None, "kind": "resection"}]}, ["treatments[0].date", "null"]),
        # A date so late that its plan runs off the calendar.
        (history(("9999-01-01", "resection")), ["treatments[0].date", "9999-01-01"]),
        # The second treatment is named by its index.
        (
            history(("2025-01-15", "resection"), ("2025-06-31", "ablation")),
            ["treatments[1].date", "2025-06-31"],
        ),
        # An unknown treatment kind.
        (history(("2025-01-15", "surgery")), ["treatments[0].kind", "surgery"]),
        # A kind that is not a string.
        (
            {"treatments": [{"date": "2025-01-15", "kind": ["resection"]}]},
            ["treatments[0].kind", "resection"],
        ),
        # A missing kind.
        ({"treatments": [{"date": "2025-01-15"}]}, ["treatments[0].kind", "missing"]),
        # A field the contract does not have, inside a treatment.
        ({"treatments": [{**TREATMENT, "side": "left"}]}, ["treatments[0].side", "unknown"]),
        # A field the contract does not have, at the top.
        ({**CONTRACT_INPUT, "patient": "P-1"}, ["patient", "unknown"]),
        # Treatments as an object rather than a list.
        ({"treatments": TREATMENT}, ["treatments", "resection"]),
        # A treatment as a bare string.
        ({"treatments": ["resection"]}, ["treatments[0]", "resection"]),
        # An unknown exam code of a primary control.
        (
            {
                "treatments": [TREATMENT],
                "primary_followups": [{"date": "2025-07-01", "exams": ["ct_head"]}],
            },
            ["primary_followups[0].exams", "ct_head"],
        ),
        # An exam code that is not a string.
        (
            {
                "treatments": [TREATMENT],
                "primary_followups": [{"date": "2025-07-01", "exams": [["cea"]]}],
            },
            ["primary_followups[0].exams", "cea"],
        ),
        # A primary control without exams.
        (
            {"treatments": [TREATMENT], "primary_followups": [{"date": "2025-07-01", "exams": []}]},
            ["primary_followups[0].exams", "[]"],
        ),
        # An impossible date of a primary control.
        (
            {
                "treatments": [TREATMENT],
                "primary_followups": [{"date": "2025-13-01", "exams": ["cea"]}],
            },
            ["primary_followups[0].date", "2025-13-01"],
        ),
        # An unknown protocol.
        ({**CONTRACT_INPUT, "protocol": "no-hdir-2030"}, ["protocol", "no-hdir-2030"]),
        # A protocol that is not a string.
        ({**CONTRACT_INPUT, "protocol": 2025}, ["protocol", "2025"]),
        # Candidate as a string.
        ({**CONTRACT_INPUT, "candidate": "yes"}, ["candidate", "yes"]),
        # Candidate as a number.
        ({**CONTRACT_INPUT, "candidate": 1}, ["candidate", "1"]),
        # v2: an impossible today.
        ({**V2, "today": "2026-02-30"}, ["today", "2026-02-30"]),
        # v2: an unknown exam code of a record.
        (v2(records=[{"exam": "mri", "due": "2026-01-15"}]), ["records[0].exam", "mri"]),
        # v2: an unknown reading.
        (
            v2(
                records=[
                    {"exam": "ct_tap", "due": "2026-01-15", "done": "2026-01-15", "reading": "odd"}
                ]
            ),
            ["records[0].reading", "odd"],
        ),
        # v2: a negative CEA.
        (
            v2(records=[{"exam": "cea", "due": "2026-01-15", "done": "2026-01-15", "value": -1}]),
            ["records[0].value", "-1"],
        ),
        # v2: a negative CEA measured outside a control.
        (v2(measurements=[{"date": "2026-03-01", "cea": -0.5}]), ["measurements[0].cea", "-0.5"]),
        # v2: done without its value.
        (
            v2(records=[{"exam": "cea", "due": "2026-01-15", "done": "2026-01-15"}]),
            ["records[0].value", "missing"],
        ),
        # v2: a CT done with a value instead of a reading.
        (
            v2(
                records=[
                    {"exam": "ct_tap", "due": "2026-01-15", "done": "2026-01-15", "value": 1.0}
                ]
            ),
            ["records[0].value", "reading"],
        ),
        # v2: a cancellation without its reason.
        (
            v2(records=[{"exam": "cea", "due": "2026-01-15", "cancelled": "2026-01-01"}]),
            ["records[0].reason"],
        ),
        # v2: two records for one exam.
        (
            v2(
                records=[
                    {"exam": "cea", "due": "2026-01-15"},
                    {"exam": "cea", "due": "2026-01-15", "booked": "2026-01-10"},
                ]
            ),
            ["records[1]", "cea", "2026-01-15"],
        ),
        # v2 (R12): a result before D - 42 days belongs to no control.
        (
            v2(records=[{"exam": "cea", "due": "2027-05-02", "done": "2026-03-01", "value": 2.0}]),
            ["records[0].done", "2026-03-01", "measurement"],
        ),
        # v2: a result dated after today.
        (
            v2(records=[{"exam": "cea", "due": "2026-07-15", "done": "2026-07-15", "value": 2.0}]),
            ["records[0].done", "2026-07-15", "after today"],
        ),
        # v2: a miss dated after today.
        (
            v2(records=[{"exam": "cea", "due": "2026-07-15", "missed": "2026-07-15"}]),
            ["records[0].missed", "after today"],
        ),
        # v2: a measurement dated after today.
        (
            v2(measurements=[{"date": "2026-07-01", "cea": 2.0}]),
            ["measurements[0].date", "2026-07-01"],
        ),
        # v2: a primary control done in the future.
        (
            v2(
                primary_followups=[
                    {"date": "2026-07-01", "exams": ["cea"], "done": True, "results": {"cea": 1.0}}
                ]
            ),
            ["primary_followups[0].date", "after today"],
        ),
        # v2: results on a primary control not done.
        (
            v2(
                primary_followups=[
                    {"date": "2026-05-01", "exams": ["cea"], "results": {"cea": 1.0}}
                ]
            ),
            ["primary_followups[0].results", "not done"],
        ),
        # v2 (R8): a code the protocol does not declare nor lets a primary control name.
        (
            v2(primary_followups=[{"date": "2026-05-01", "exams": ["ct_head"]}]),
            ["primary_followups[0].exams", "ct_head"],
        ),
        # v2: an unknown decision.
        (
            v2(decisions=[{"date": "2026-02-01", "decision": "wait"}]),
            ["decisions[0].decision", "wait"],
        ),
        # v2: a recheck without its exam.
        (
            v2(decisions=[{"date": "2026-02-01", "decision": "recheck", "due": "2026-03-01"}]),
            ["decisions[0].exam"],
        ),
        # v2: a measurement of a code that is not a value.
        (v2(measurements=[{"date": "2026-03-01", "ct_tap": 1.0}]), ["measurements[0].ct_tap"]),
    ],
)
def test_bad_input(preview, text, named):
    result = preview(text)
    assert result.exit_code == 2
    assert result.stdout == ""
    line = result.stderr
    assert line.endswith("\n") and line.count("\n") == 1, line
    for word in named:
        assert word in line


# --- A real process: exit codes and the two streams --------------------------------------


@pytest.fixture
def run_script(database):
    """Run the installed console script with bytes on standard input."""
    assert CONSOLE_SCRIPT.exists(), CONSOLE_SCRIPT

    def run(stdin: bytes, *args):
        done = subprocess.run(
            [str(CONSOLE_SCRIPT), "preview", *(args or ["-"])],
            check=False,
            input=stdin,
            capture_output=True,
            env=dict(os.environ),
            timeout=60,
        )
        assert not database.exists()
        return done

    return run


def test_process_prints_the_plan_on_stdout_only(run_script):
    done = run_script(json.dumps(CONTRACT_INPUT).encode())
    assert (done.returncode, done.stderr) == (0, b"")
    assert json.loads(done.stdout)["exams"][0]["coordinated_with"] == "2025-07-01"


def test_process_refuses_bad_input_with_status_2_and_one_line_on_stderr(run_script):
    done = run_script(json.dumps(history(("2025-02-30", "resection"))).encode())
    assert (done.returncode, done.stdout) == (2, b"")
    assert done.stderr.count(b"\n") == 1
    assert b"treatments[0].date" in done.stderr and b"2025-02-30" in done.stderr


def test_process_refuses_input_that_is_not_utf8(run_script):
    done = run_script(b'{"treatments": [{"date": "2025-01-15", "kind": "r\xe9section"}]}')
    assert (done.returncode, done.stdout) == (2, b"")
    assert done.stderr.count(b"\n") == 1
    assert b"input" in done.stderr and b"UTF-8" in done.stderr


def test_no_database_is_touched(run_script, database, tmp_path):
    done = run_script(json.dumps(CONTRACT_INPUT).encode())
    assert done.returncode == 0
    # Neither the configured database nor anything else (instance/, a key file) was written.
    assert not database.exists()
    assert list(tmp_path.iterdir()) == []
