"""Issue 9 in a real browser: primary controls, their results, corrections and holds."""

from __future__ import annotations

import re
from datetime import date, timedelta

from .conftest import today


def open_patient(page, row: int) -> str:
    """Open the patient of a row of the "to book" list; return the patient page's path."""
    page.goto("/?list=to_book")
    page.locator("table.worklist tbody tr a").nth(row).click()
    page.wait_for_url(re.compile(r"/patients/\d+$"))
    return page.url


def reference(page) -> str:
    return page.locator("h1").inner_text().split(" · ")[0]


def patient_due_near_today(page) -> tuple[str, str]:
    """A patient of the "to book" list whose control is due within 30 days of today."""
    page.goto("/?list=to_book")
    rows = page.locator("table.worklist tbody tr")
    for i in range(6, rows.count()):  # rows 0-5 belong to the other browser tests
        due = rows.nth(i).locator("td").nth(5).locator("time").get_attribute("datetime")
        if abs((date.fromisoformat(due) - today()).days) <= 30:
            return rows.nth(i).locator("a").get_attribute("href"), due
    raise AssertionError("the demo has no control due within 30 days of today")


def test_a_planned_primary_control_keeps_the_exams_listed_then_its_cea_flags(logged_in):
    page = logged_in
    path, _due = patient_due_near_today(page)
    page.goto(path)
    ref = reference(page)
    primary = page.locator("#primary")
    primary.locator(":scope > details.action > summary").click()
    form = primary.locator("form[action$='/primary-controls']")
    form.locator("input[name=date]").fill(today().isoformat())  # planned for today
    form.locator("input[value=ct_tap]").check()
    form.locator("input[value=cea]").check()
    form.locator("button").click()
    page.wait_for_load_state()

    page.goto("/?list=coordinated")
    listed = page.locator("table.worklist tbody tr", has_text=ref)
    assert listed.count() >= 1  # the exams stay on the worklist, listed "coordinated"

    page.goto(path)
    control = page.locator("[data-testid^=primary-]").last
    control.locator("summary").click()
    results = control.locator("form[action$='/result']")
    results.locator("select[name=result-ct_tap]").select_option("normal")
    results.locator("input[name=result-cea]").fill("8,1")
    results.locator("button").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=mdt-flag]").count() == 1
    assert "CEA 8,1 µg/L over grensen 5" in page.locator("[data-testid=mdt-reasons]").inner_text()


def correct_cea(page, exam_id: str, value: str, reason: str) -> None:
    details = page.locator(f"[data-testid=exam-correct-{exam_id}]")
    details.locator("summary").click()
    form = details.locator("form[action$='/correct']")
    form.locator("input[name=value]").fill(value)
    form.locator("input[name=reason]").fill(reason)
    form.locator("button").click()
    page.wait_for_load_state()


def test_a_recorded_result_is_corrected_and_the_flag_follows(logged_in):
    page = logged_in
    open_patient(page, 4)
    actions = (
        page.locator("[data-testid^=exam-actions-]")
        .filter(has=page.locator("input[name=value]"))
        .first
    )
    exam_id = actions.get_attribute("data-testid").removeprefix("exam-actions-")
    actions.locator("summary").click()
    result = actions.locator("form[action$='/result']")
    result.locator("input[name=value]").fill("75")
    result.locator("button").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=mdt-flag]").count() == 1

    correct_cea(page, exam_id, "7,5", "Komma falt ut")
    assert "7,5" in page.locator("[data-testid=mdt-reasons]").inner_text()
    correct_cea(page, exam_id, "2,5", "Feil pasient sitt svar")
    # The value is no longer over the limit (a rising series may still flag the patient).
    reasons = page.locator("[data-testid=mdt-reasons]")
    assert reasons.count() == 0 or "over grensen" not in reasons.inner_text()


def record_decision(page, decision: str, day: str) -> None:
    card = page.locator("#decision")
    details = card.locator("[data-testid=record-decision]")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    form = card.locator("form[action$='/decisions']")
    form.locator("select[name=decision]").select_option(decision)
    form.locator("input[name=date]").fill(day)
    form.locator("button").click()
    page.wait_for_load_state()


def test_a_patient_put_on_hold_then_the_hold_lapses(logged_in):
    page = logged_in
    open_patient(page, 5)
    record_decision(page, "treatment_planned", today().isoformat())
    assert "På vent" in page.locator(".identity").inner_text()
    assert page.locator(".timeline .tag.open").count() > 0

    # The same decision taken 91 days ago: with no treatment since, the hold has lapsed.
    page.locator("[data-testid=decisions] li").first.locator("summary").click()
    withdraw = page.locator("[data-testid=decisions] li").first.locator("form")
    withdraw.locator("input[name=reason]").fill("Feil dato")
    withdraw.locator("button").click()
    page.wait_for_load_state()
    record_decision(page, "treatment_planned", (today() - timedelta(days=91)).isoformat())
    assert "På vent" not in page.locator(".identity").inner_text()
    assert "Pausen utløp" in page.locator("[data-testid=mdt-reasons]").inner_text()
