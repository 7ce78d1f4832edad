"""A nurse's day in a real browser: log in, work the list, register, re-plan, book, record."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from surveillance.clock import clinic_today
from tests.support.data import synthetic_id

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_login_shows_the_worklist_overdue_first(logged_in):
    page = logged_in
    assert int(page.locator("[data-count=overdue]").inner_text()) > 0
    rows = page.locator("table.worklist tbody tr")
    assert rows.count() > 0
    assert rows.first.get_attribute("class") == "overdue"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "worklist.png"))


def test_a_wrong_password_keeps_the_nurse_out(page):
    page.goto("/login")
    page.fill("input[name=email]", "sykepleier@demo.invalid")
    page.fill("input[name=password]", "not the password at all")
    page.click("form button.primary")
    assert "/login" in page.url
    assert page.locator(".flash.error").count() == 1


def test_register_a_patient_then_a_new_resection_replans(logged_in):
    page = logged_in
    page.click("a[href='/patients/new']")
    page.fill("input[name=national_id]", synthetic_id())
    page.fill("input[name=name]", "Åse Øvrebø <b>test</b>")
    first = clinic_today() - timedelta(days=400)
    page.fill("input[name=treatment_date]", first.isoformat())
    page.select_option("select[name=treatment_kind]", "resection")
    page.click("form button.primary")
    page.wait_for_url(re.compile(r"/patients/\d+$"))
    assert "Åse Øvrebø <b>test</b>" in page.locator("h1").inner_text()  # shown as text
    assert page.locator(".timeline .exam").count() == 16

    page.click("[data-testid=record-treatment] summary")
    form = page.locator("[data-testid=record-treatment] form")
    form.locator("input[name=date]").fill((clinic_today() - timedelta(days=3)).isoformat())
    form.locator("select[name=kind]").select_option("ablation")
    form.locator("button").click()
    page.wait_for_load_state()
    assert page.locator(".flash.info").count() == 1
    # The old plan's open exams stay in the timeline as cancelled; the new plan has 18.
    assert page.locator(".timeline .tag.cancelled").count() > 0
    assert page.locator(".timeline .tag.open").count() == 18


def open_patient_to_book(page) -> None:
    """The page of the first patient of the "to book" list."""
    page.goto("/?list=to_book")
    page.locator("table.worklist tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/patients/\d+$"))


def cea_actions(page):
    """The folded actions of each CEA test of the patient's plan."""
    return page.locator("[data-testid^=exam-actions-]").filter(
        has=page.locator("input[name=value]")
    )


def test_book_then_record_a_high_cea_flags_mdt_review(logged_in):
    page = logged_in
    open_patient_to_book(page)
    actions = cea_actions(page).first  # the CEA of the next control
    actions.locator("summary").click()
    booking = actions.locator("form[action$='/book']")
    booking.locator("input[name=time]").fill("09:15")
    booking.locator("input[name=place]").fill("Poliklinikken")
    booking.locator("button").click()
    page.wait_for_load_state()
    assert page.locator(".timeline .tag.booked").count() >= 1

    actions = cea_actions(page).first
    actions.locator("summary").click()
    result = actions.locator("form[action$='/result']")
    result.locator("input[name=value]").fill("7,5")
    result.locator("button").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=mdt-reasons]").count() == 1  # why, on the decision card
    assert page.locator("svg.chart circle.high").count() >= 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "patient.png"), full_page=True)


def test_switch_language(logged_in):
    page = logged_in
    page.click("button[name=lang][value=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    english = page.locator("h1").inner_text()
    page.click("button[name=lang][value=nb]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "nb"
    assert page.locator("h1").inner_text() != english


def test_the_quality_report_shows_the_quarters_and_no_patient(logged_in):
    page = logged_in
    page.click("a[href='/report']")
    assert page.locator("svg.chart rect.bar").count() > 0
    rows = page.locator("table tbody tr")
    assert rows.count() == page.locator("svg.chart rect.bar").count()
    assert not re.search(r"P-\d{4}|\d{11}", page.content())  # no reference, no national ID
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)


def test_a_refused_result_returns_to_its_field_with_the_message(logged_in):
    page = logged_in
    open_patient_to_book(page)
    actions = cea_actions(page).last  # far down the page
    actions.locator("summary").click()
    result = actions.locator("form[action$='/result']")
    result.locator("input[name=value]").fill("mye")
    result.locator("button").click()
    page.wait_for_load_state()
    field = page.locator(":focus")  # the field the refusal names (the value, or the day)
    assert field.get_attribute("aria-invalid") == "true"
    message = page.locator(f"#{field.get_attribute('aria-describedby')}")
    assert message.is_visible() and message.inner_text()
    form = page.locator("form[action$='/result']").filter(has=field)
    assert form.locator("input[name=value]").input_value() == "mye"  # as typed
    box, height = field.bounding_box(), page.viewport_size["height"]
    assert box and 0 <= box["y"] <= height  # in sight, not 1,000 px down


def test_print_shows_the_lists_without_menus_or_forms(logged_in):
    page = logged_in
    page.evaluate("window.print = () => { window.printed = true; }")
    page.get_by_role("button", name="Skriv ut").click()
    assert page.evaluate("window.printed") is True
    page.emulate_media(media="print")
    assert page.locator("header.top").is_hidden() and page.locator("form.filters").first.is_hidden()
    assert page.locator("table.worklist").is_visible()
    page.emulate_media(media="screen")
