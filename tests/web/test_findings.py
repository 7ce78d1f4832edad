"""The findings of issue 11, each tried again the way the attacker tried it, with real requests.
(Finding 1, another clinic's administrator, is in test_admin_scopes.py; finding 5, the
import's write lock, in tests/test_import_lock.py.)"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from surveillance.db.models import AuditEvent, LoginThrottle, PlannedExam
from surveillance.web.forms import safe_target

from .browsing import PASSWORD, Browser, errors, flashes

pytestmark = pytest.mark.thorough  # the security findings' request tables


def _login(app, email: str, password: str, *, forwarded_for: str | None = None, next=None):
    """A fresh browser's login through the form; behind a proxy when `forwarded_for`."""
    browser = Browser(app.test_client())
    browser.client.environ_base["REMOTE_ADDR"] = "10.0.0.1"  # the proxy, when there is one
    if forwarded_for:
        browser.client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    query = {"next": next} if next else None
    page = browser.get("/login", query_string=query)
    if page.status_code != 200:
        return page
    return browser.submit(page, "", email=email, password=password)


# ---- finding 2: the open redirect after login ---------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",  # the finding: a tab the browser drops, leaving //evil.example
        "/\n/evil.example",
        "/\\evil.example",  # a backslash the browser reads as a slash
        "//evil.example",
        "https://evil.example/",
        "/%09/evil.example",  # already encoded once more
    ],
)
def test_finding_2_login_never_redirects_to_another_host(app, world, target):
    answer = _login(app, world.a.nurse, PASSWORD, next=target)
    location = answer.headers.get("Location", "")
    where = urlsplit(location.replace("\t", "").replace("\n", "").replace("\\", "/"))
    assert not where.netloc and not where.scheme, location
    assert not location.lstrip("/\t\n\\").startswith("evil")


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/\t/evil.example", None),
        ("/\\evil.example", None),
        ("//evil.example", None),
        ("https://evil.example/", None),
        ("javascript:alert(1)", None),
        ("/patients/4?tab=plan", "/patients/4?tab=plan"),  # a path of ours is kept
    ],
)
def test_a_redirect_target_must_be_a_path_of_this_application(target, expected):
    assert safe_target(target) == expected


# ---- finding 3: a booking in year 9999 broke every calendar feed of the clinic --------------


@pytest.mark.parametrize("when", ["9999-12-31", "2999-01-01", "0001-01-01"])
def test_finding_3_a_far_booking_is_refused_and_the_feeds_keep_working(
    world, log_in, setup_for, db, when
):
    s = setup_for("a")
    feed = s.clinic_feed()
    nurse = log_in(world.a.nurse)
    exam = s.exam()
    before = db.snapshot(audit=False)
    answer = nurse.post(f"/exams/{exam.id}/book", {"date": when, "version": exam.version})
    assert answer.status_code == 400
    assert any("Dato" in e or "date" in e for e in errors(answer))
    assert db.snapshot(audit=False) == before
    assert nurse.get(f"/feeds/{feed.token}.ics").status_code == 200


def test_a_booking_may_lie_up_to_two_years_ahead_not_later(world, log_in, setup_for, db):
    s = setup_for("a")
    nurse = log_in(world.a.nurse)
    exam = s.exam()
    late = s.today + timedelta(days=2 * 365 + 1)
    refused = nurse.post(
        f"/exams/{exam.id}/book", {"date": late.isoformat(), "version": exam.version}
    )
    assert refused.status_code == 400
    assert db.get(PlannedExam, exam.id).state == "open"


# ---- finding 4: the throttle behind a reverse proxy -----------------------------------------


def test_finding_4_behind_a_proxy_one_clients_failures_do_not_lock_out_another(make_app, world):
    app = make_app(trusted_proxies=1)
    for n in range(25):  # past the per-address ceiling of 20
        _login(app, f"nobody{n}@test", "wrong password", forwarded_for="203.0.113.7")
    answer = _login(app, world.a.nurse, PASSWORD, forwarded_for="198.51.100.20")
    assert answer.status_code == 302
    locked = _login(app, world.a.admin, PASSWORD, forwarded_for="203.0.113.7")
    assert locked.status_code != 302  # the guessing address itself is held up


def test_finding_4_nobody_can_lock_a_known_account_from_elsewhere(make_app, world, db):
    app = make_app(trusted_proxies=1)
    for _ in range(10):
        _login(app, world.a.nurse, "a guess", forwarded_for="203.0.113.7")
    assert _login(app, world.a.nurse, PASSWORD, forwarded_for="203.0.113.7").status_code != 302
    assert _login(app, world.a.nurse, PASSWORD, forwarded_for="198.51.100.20").status_code == 302
    keys = db.scalars(sa.select(LoginThrottle.key))
    assert any("203.0.113.7" in k for k in keys) and not any("10.0.0.1" in k for k in keys)


def test_without_trusted_proxies_the_forwarded_header_is_ignored(make_app, world, db):
    app = make_app()
    _login(app, world.a.nurse, "a guess", forwarded_for="203.0.113.7")
    keys = db.scalars(sa.select(LoginThrottle.key))
    assert keys and all("203.0.113.7" not in k for k in keys)


def test_the_delay_grows_with_each_failure_after_the_free_ones(make_app, world, db):
    from tests.web.test_login import travel

    app = make_app(max_failures_per_account=2, lockout_minutes=15)
    minutes = []
    for _ in range(4):
        _login(app, world.a.nurse, "a guess")
        locked = _login(app, world.a.nurse, "a guess")
        minutes.append(flashes(locked)[0])
        travel(db, LoginThrottle, updated_at=timedelta(minutes=1), locked_until=timedelta(0))
    assert minutes[0].endswith("1 minutt.")
    assert [m.split(" om ")[1] for m in minutes[1:]] == [
        "2 minutter.",
        "4 minutter.",
        "8 minutter.",
    ]


# ---- finding 6: NUL bytes and huge e-mails at login -----------------------------------------


@pytest.mark.parametrize(
    "email, password",
    [
        ("nurse.a@test\x00", PASSWORD),  # NUL: PostgreSQL cannot store it
        ("x" * 300 + "@test", PASSWORD),  # longer than any address
        ("nurse.a@test", "riktig\x00hest"),
        ("nurse\u202e@test", PASSWORD),  # a right-to-left override
    ],
)
def test_finding_6_the_login_refuses_what_no_account_can_hold(app, world, db, email, password):
    before = db.snapshot()
    answer = _login(app, email, password)
    assert answer.status_code == 400
    assert db.snapshot() == before  # no audit row, no throttle row


def test_finding_6_a_4mb_email_is_neither_stored_nor_echoed(app, world, db):
    browser = Browser(app.test_client())
    email = "a" * (4 * 1024 * 1024) + "@test"
    answer = browser.post("/login", {"email": email, "password": PASSWORD})
    assert answer.status_code in (400, 413)
    assert len(answer.data) < 20_000
    assert db.count(AuditEvent, AuditEvent.action == "login.failed") == 0


# ---- finding 7: an edit without its version -------------------------------------------------


def test_finding_7_an_edit_without_its_version_is_refused(world, log_in, setup_for, db):
    s = setup_for("a")
    mine, theirs = log_in(world.a.nurse), log_in(world.a.nurse)
    exam = s.exam()
    first = {"date": s.day(7), "place": "Røntgen 1", "version": exam.version}
    assert theirs.post(f"/exams/{exam.id}/book", first).status_code == 302
    answer = mine.post(f"/exams/{exam.id}/book", {"date": s.day(9), "place": "Røntgen 2"})
    assert answer.status_code == 400
    booked = db.get(PlannedExam, exam.id)
    assert (booked.booked_date.isoformat(), booked.booked_place) == (s.day(7), "Røntgen 1")


# ---- finding 8: undocumented date formats; HSTS ---------------------------------------------


@pytest.mark.parametrize("typed", ["20251101", "2026-W52-1", "2025-11-1", "01.11.2025"])
def test_finding_8_only_the_documented_date_format_is_taken(world, log_in, setup_for, db, typed):
    s = setup_for("a")
    nurse = log_in(world.a.nurse)
    exam = s.exam()
    before = db.snapshot(audit=False)
    answer = nurse.post(
        f"/exams/{exam.id}/result", {"done_date": typed, "value": "2,0", "version": exam.version}
    )
    assert answer.status_code == 400
    assert any("ÅÅÅÅ-MM-DD" in e or "YYYY-MM-DD" in e for e in errors(answer))
    assert db.snapshot(audit=False) == before


def test_finding_8_hsts_when_the_dashboard_is_served_over_https(make_app):
    secure = make_app(base_url="https://oppfolging.example")
    assert "max-age=" in secure.test_client().get("/login").headers["Strict-Transport-Security"]
    plain = make_app()
    assert "Strict-Transport-Security" not in plain.test_client().get("/login").headers
