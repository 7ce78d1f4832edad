"""The clicks of a nurse's three core tasks, from the worklist, counted in a real browser.

Typing is not counted, nor the first load of the worklist. Before issue 12: 5, 3 and 3
clicks; after its first part: 3, 3, 3; clearing an MDT flag from its list now takes 1.
"""

from __future__ import annotations

import re

# Rows of the "to book" list these tests act on: its last ones, as the first rows belong to
# test_dashboard.py and test_safety.py (a booked patient leaves the list: rows below move up).
ROWS = (-1, -2)


class Clicks:
    """A page whose clicks are counted."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def click(self, locator) -> None:
        self.count += 1
        locator.click()
        self.page.wait_for_load_state()


def test_book_a_whole_control_in_three_clicks(logged_in):
    page, clicks = logged_in, Clicks(logged_in)
    page.goto("/?list=to_book")
    clicks.click(page.locator("table.worklist tbody tr a").nth(ROWS[0]))
    page.wait_for_url(re.compile(r"/patients/\d+$"))
    control = page.locator("details.control-booking").first
    clicks.click(control.locator("summary"))
    clicks.click(control.locator("button[type=submit]"))
    assert "bestilt" in page.locator(".flash").first.inner_text()
    print(f"book a control: {clicks.count} clicks")
    assert clicks.count == 3


def test_record_a_result_in_three_clicks(logged_in):
    page, clicks = logged_in, Clicks(logged_in)
    page.goto("/?list=to_book")
    clicks.click(page.locator("table.worklist tbody tr a").nth(ROWS[1]))
    page.wait_for_url(re.compile(r"/patients/\d+$"))
    actions = page.locator("[data-testid^=exam-actions-]").filter(
        has=page.locator("input[name=value]")
    )
    actions = actions.first
    clicks.click(actions.locator("summary"))
    result = actions.locator("form[action$='/result']")
    result.locator("input[name=value]").fill("2,5")  # typed: not a click
    clicks.click(result.locator("button"))
    assert page.locator(".flash").first.inner_text().strip()
    print(f"record a result: {clicks.count} clicks")
    assert clicks.count == 3


def test_clear_an_mdt_flag_in_one_click_from_its_list(logged_in):
    page, clicks = logged_in, Clicks(logged_in)
    page.goto("/?list=mdt_review")
    row = page.locator("#mdt-list tbody tr").first
    reference = row.locator("td a").first.inner_text()
    row.locator("input[name=note]").fill("Ingen tegn til residiv")  # typed: not a click
    clicks.click(row.locator("button[type=submit]"))
    page.wait_for_url(re.compile(r"list=mdt_review"))
    assert reference not in page.locator("#mdt-list").inner_text()
    print(f"clear an MDT flag: {clicks.count} click")
    assert clicks.count == 1
