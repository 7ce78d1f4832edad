"""Every page of the dashboard through axe-core, as a nurse and as an administrator; phone width."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveillance.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

ADMIN = DEMO_ACCOUNTS[1][0]
NURSE = DEMO_ACCOUNTS[0][0]
# Every page a nurse reaches from the menu, each list of the worklist, and a patient.
NURSE_PAGES = [
    "/",
    "/?list=overdue",
    "/?list=to_book",
    "/?list=booked",
    "/?list=to_book&sort=-name",  # a column sorted (descending): its header says so
    "/?list=results_missing",
    "/?list=mdt_review",
    "/?list=booking_to_cancel",
    "/patients/new",
    "/import",
    "/feeds",
    "/report",
    "PATIENT",
    "SEARCH",
]
ADMIN_PAGES = ["/users", "/clinics", "/audit", "/digests", "/admin/tokens", "/", "PATIENT"]
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def log_in(page, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form button.primary")
    page.wait_for_url("**/")


def visit(page, where: str) -> None:
    """Open the page; PATIENT is the first patient of the worklist, SEARCH a name search."""
    if where == "PATIENT":
        page.goto("/")
        page.locator("table a[href^='/patients/']").first.click()
        page.wait_for_url("**/patients/*")
    elif where == "SEARCH":
        page.goto("/")
        page.fill("input[name=q]", "Hansen")
        page.press("input[name=q]", "Enter")
        page.wait_for_load_state()
    else:
        page.goto(where)
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")


def violations(page) -> list[str]:
    """What axe-core finds on the page, one line per rule: id, impact, first places."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}" for v in found]


@pytest.mark.parametrize("where", NURSE_PAGES)
def test_axe_finds_nothing_on_the_nurses_pages(page, where):
    log_in(page, NURSE)
    visit(page, where)
    assert violations(page) == []


@pytest.mark.parametrize("where", ADMIN_PAGES)
def test_axe_finds_nothing_on_the_administrators_pages(page, where):
    log_in(page, ADMIN)
    visit(page, where)
    assert violations(page) == []


def test_axe_finds_nothing_on_the_login_page(page):
    page.goto("/login")
    assert violations(page) == []


def sideways_scroll(page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("where", NURSE_PAGES)
def test_a_phone_shows_every_page_without_sideways_scroll(page, where):
    page.set_viewport_size(PHONE)
    log_in(page, NURSE)
    visit(page, where)
    assert sideways_scroll(page) == 0
    logout = page.get_by_role("button", name="Logg ut").bounding_box()
    assert logout and logout["x"] + logout["width"] <= PHONE["width"]
    if where == "/":
        page.screenshot(path=str(SCREENSHOTS / "worklist-phone.png"))


ACTION_NAMES = """[...document.querySelectorAll('button, summary')].map(
    el => (el.getAttribute('aria-label') || el.textContent).replace(/\\s+/g, ' ').trim())"""


@pytest.mark.parametrize("where", ["PATIENT", "/?list=booking_to_cancel", "/feeds"])
def test_every_action_has_a_name_of_its_own(page, where):
    log_in(page, NURSE)
    visit(page, where)
    names = page.evaluate(ACTION_NAMES)
    assert len(names) > 3
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(page):
    log_in(page, NURSE)
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.inner_text() == "Hopp til innholdet"
    skip.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
