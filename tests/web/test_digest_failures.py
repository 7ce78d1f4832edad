"""Permanent mail failures reach the administrators on the dashboard (issue 4)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from surveillance.clock import clinic_today, utcnow
from surveillance.db.models import Digest

from .browsing import flashes, visible_text


def _failed_digest(session, clinic_id: int, day) -> None:
    with session.begin():
        session.add(
            Digest(
                clinic_id=clinic_id,
                day=day,
                message_id=f"<t.{day}@test>",
                state="failed",
                attempts=1,
                counts={},
                created_at=utcnow(),
                last_error="550 5.1.1 mailbox unavailable",
            )
        )


def test_an_admin_sees_a_failed_email_and_sends_it_again(world, log_in, session, db):
    today = clinic_today()
    _failed_digest(session, world.a.clinic_id, today)
    admin, nurse = log_in(world.a.admin), log_in(world.a.nurse)
    assert "/admin/digests" in admin.get("/").text  # the warning on the worklist
    assert "/admin/digests" not in nurse.get("/").text
    page = admin.get("/admin/digests")
    assert "550 5.1.1 mailbox unavailable" in visible_text(page)
    answer = admin.submit(page, "/admin/digests/retry")
    assert flashes(admin.get(answer.location)) == [
        "1 e-post sendes på nytt i løpet av noen minutter."
    ]
    state = session.scalar(sa.select(Digest.state).where(Digest.day == today))
    assert state == "pending"  # the worker sends it on its next round
    assert db.events("digest.retry")


def test_an_old_failure_is_shown_but_not_sent_again(world, log_in, session):
    day = clinic_today() - timedelta(days=3)
    _failed_digest(session, world.a.clinic_id, day)
    admin = log_in(world.a.admin)
    page = admin.get("/admin/digests")
    assert "550 5.1.1" in visible_text(page)
    assert "/admin/digests/retry" not in page.text  # yesterday's counts are no use today
