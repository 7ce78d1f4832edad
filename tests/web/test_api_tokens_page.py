"""The administrators' API token page: a token for their own clinic only, shown once, revocable."""

from __future__ import annotations

import re

from surveillance.db.models import ApiToken
from surveillance.fhir.tokens import create_api_token, find_token
from surveillance.services import Actor

from .browsing import visible_text

TOKEN = re.compile(r'value="([A-Za-z0-9_-]{43})"')


def test_an_administrator_makes_a_token_that_reads_the_api(world, log_in, app, db):
    admin = log_in(world.a.admin)
    page = admin.get("/admin/tokens")
    answer = admin.submit(page, "/admin/tokens", clinic=str(world.a.clinic_id), label="DIPS")
    assert answer.status_code == 201
    (token,) = TOKEN.findall(answer.text)
    read = app.test_client().get(
        f"/fhir/Patient/{world.a.patient_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert read.status_code == 200
    listing = admin.get("/admin/tokens")
    assert token not in listing.text and "DIPS" in visible_text(listing)


def test_no_token_for_another_clinic(world, log_in, db):
    admin = log_in(world.a.admin)
    before = db.snapshot()
    answer = admin.post("/admin/tokens", {"clinic": str(world.b.clinic_id), "label": "x"})
    # in bokmål, naming the field and the value
    assert answer.status_code == 400
    assert f"«{world.b.clinic_id}» er ikke en av dine klinikker" in visible_text(answer)
    assert db.snapshot() == before


def test_another_clinics_token_cannot_be_seen_or_revoked(world, log_in, session, db):
    theirs = create_api_token(session, Actor("setup@test"), world.b.clinic_id, "Their EPJ")
    admin = log_in(world.a.admin)
    assert "Their EPJ" not in admin.get("/admin/tokens").text
    before = db.snapshot()
    assert admin.post(f"/admin/tokens/{theirs.id}/revoke", {}).status_code == 404
    assert db.snapshot() == before
    assert find_token(session, theirs.token) is not None


def test_a_revoked_token_is_refused_at_once(world, log_in, app, session, db):
    ours = create_api_token(session, Actor("setup@test"), world.a.clinic_id)
    headers = {"Authorization": f"Bearer {ours.token}"}
    path = f"/fhir/Patient/{world.a.patient_id}"
    assert app.test_client().get(path, headers=headers).status_code == 200
    admin = log_in(world.a.admin)
    assert admin.post(f"/admin/tokens/{ours.id}/revoke", {}).status_code == 302
    assert db.get(ApiToken, ours.id).revoked_at is not None
    assert app.test_client().get(path, headers=headers).status_code == 401
