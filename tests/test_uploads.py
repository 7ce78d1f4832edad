"""Kept uploads in the database: bound to their user, claimed once, expiring, size-limited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveillance.clock import utcnow
from surveillance.db.models import KeptUpload
from surveillance.errors import InputError
from surveillance.services import Actor
from surveillance.services.accounts import Admin, add_user
from surveillance.services.uploads import KEEP, Upload, claim_upload, keep_upload

LIMIT = 1024


@pytest.fixture
def user(session, clinic):
    return add_user(
        session,
        Admin(Actor("admin")),
        email="nurse@test.no",
        password="correct horse battery",
        role="nurse",
        clinic_codes=[clinic.code],
    )


def kept(session) -> int:
    session.rollback()
    return session.scalar(sa.select(sa.func.count()).select_from(KeptUpload))


def test_a_kept_file_is_claimed_once_by_its_user(session, user):
    upload = Upload(user.id, "TEST", "pasienter.csv", b"a;b\n")
    token = keep_upload(session, upload, utcnow(), LIMIT)
    assert claim_upload(session, user.id + 1, token, utcnow()) is None  # someone else's
    assert claim_upload(session, user.id, token, utcnow()) == upload
    assert claim_upload(session, user.id, token, utcnow()) is None  # gone: imported once
    assert kept(session) == 0


def test_an_expired_file_is_swept_by_the_next_keep(session, user):
    now = utcnow()
    old = keep_upload(session, Upload(user.id, "TEST", "old.csv", b"x"), now, LIMIT)
    later = now + KEEP + timedelta(seconds=1)
    keep_upload(session, Upload(user.id, "TEST", "new.csv", b"y"), later, LIMIT)
    assert kept(session) == 1
    assert claim_upload(session, user.id, old, later) is None


def test_a_file_over_the_limit_is_refused_naming_it_and_not_kept(session, user):
    big = Upload(user.id, "TEST", "stor.csv", b"x" * (LIMIT + 1))
    with pytest.raises(InputError) as refused:
        keep_upload(session, big, utcnow(), LIMIT)
    assert (refused.value.field, refused.value.value) == ("file", "stor.csv")
    assert kept(session) == 0
