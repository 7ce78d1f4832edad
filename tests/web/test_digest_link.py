"""The daily digest's link opens the clinic's worklist on the dashboard, behind the login."""

from __future__ import annotations

from urllib.parse import urlsplit

from surveillance.reminders.digest import worklist_url


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_the_digest_link_opens_the_clinics_worklist(
    app, create_clinic, create_user, log_in, anonymous
):
    a, b = create_clinic("A"), create_clinic("B")
    nurse = log_in(create_user("nurse.a@test", clinics=("A", "B")))
    link = path_of(worklist_url(app.extensions["surveillance"].config.web.base_url, a))
    assert nurse.get(link).status_code == 200
    assert anonymous.get(link).status_code == 302  # to the login page: the e-mail proves nothing
    other = log_in(create_user("nurse.b@test", clinics=("B",)))
    assert other.get(path_of(worklist_url("http://x", b))).status_code == 200
    assert other.get(link).status_code == 404  # not one of this nurse's clinics
