"""The import page takes a FHIR transaction Bundle like a CSV file: preview, then confirm."""

from __future__ import annotations

import io

import sqlalchemy as sa

from surveillance.db.models import Patient
from tests.support.data import synthetic_id
from tests.test_fhir_bundle_import import bundle, patient, procedure
from tests.test_web_import import client, clinics, kept_token, make_app, norwegian_client, nurse

__all__ = ["client", "clinics", "make_app", "norwegian_client", "nurse"]  # the fixtures


def send(client, path: str, **data):
    return client.post(path, data=data, content_type="multipart/form-data")


def test_a_bundle_is_previewed_then_imported(client, session):
    number = synthetic_id()
    data = bundle(
        patient("urn:uuid:1", number, "Kari Nordmann"),
        procedure("urn:uuid:1", "2025-01-15", "resection"),
    )
    preview = send(client, "/import", file=(io.BytesIO(data), "bundle.json"), clinic="TEST")
    assert preview.status_code == 200 and "Kari Nordmann" in preview.text
    assert session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0  # a dry run
    done = client.post("/import/confirm", data={"token": kept_token(preview.text)})
    assert done.status_code == 302
    session.rollback()
    (imported,) = session.scalars(sa.select(Patient))
    assert imported.national_id == number and imported.treatments[0].kind == "resection"


def test_a_bundle_with_problems_is_shown_and_not_kept(client, session):
    data = bundle(
        patient("urn:uuid:1", "12345678901", "Ola"), procedure("urn:uuid:1", "2025-01-15", "x")
    )
    preview = send(client, "/import", file=(io.BytesIO(data), "bundle.json"), clinic="TEST")
    assert preview.status_code == 200
    assert "12345678901" in preview.text and 'name="token"' not in preview.text
    broken = send(client, "/import", file=(io.BytesIO(b"{oops"), "bundle.json"), clinic="TEST")
    assert broken.status_code == 400 and "not JSON" in broken.text
