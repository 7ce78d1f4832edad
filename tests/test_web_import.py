"""The import pages with Flask's test client: upload, check, confirm; and what they refuse."""

from __future__ import annotations

import html
import io
import re
from dataclasses import replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from surveillance.clock import utcnow
from surveillance.config import load_config
from surveillance.db.models import Clinic, KeptUpload, Patient
from surveillance.errors import InputError
from surveillance.services import Actor, imports, register_patient
from surveillance.services.accounts import Admin, add_user
from surveillance.services.imports import BadFile
from surveillance.services.uploads import KEPT_PER_USER
from surveillance.web import create_app
from tests.support.apps import sharing_templates
from tests.support.data import synthetic_id
from tests.support.fhir import bundle, patient, procedure

PASSWORD = "correct horse battery"
HEADER = "fødselsnummer;navn;behandlingsdato;behandling;kontroller_utført_til"


def csv(*rows: str) -> bytes:
    return "\n".join([HEADER, *rows]).encode("utf-8") + b"\n"


def good_rows(count: int, name: str = "Kari Nordmann") -> list[str]:
    return [f"{synthetic_id()};{name};2025-01-15;reseksjon;2025-07-15" for _ in range(count)]


@pytest.fixture
def make_app(engine, tmp_path):
    """Dashboards on the test database, their uploads under tmp_path; engines disposed after."""
    made = []

    def make(**flask_config):
        base = load_config(environ={})
        config = replace(
            base,
            database=replace(base.database, url=engine.url.render_as_string(hide_password=False)),
            patients=replace(base.patients, accept_synthetic_ids=True),
            web=replace(base.web, secret_key="test" * 8, instance_dir=str(tmp_path)),
        )
        app = sharing_templates(create_app(config, {"TESTING": True, **flask_config}))
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["surveillance"].sessions.kw["bind"].dispose()


@pytest.fixture
def clinics(session):
    """The nurse's clinic TEST and someone else's, OTHER."""
    with session.begin():
        session.add_all(
            [Clinic(code="TEST", name="Testklinikken"), Clinic(code="OTHER", name="Annen klinikk")]
        )


@pytest.fixture
def nurse(session, clinics):
    """Make a nurse of some clinics; their e-mail."""

    def make(email: str = "nurse@test.no", clinic_codes=("TEST",)) -> str:
        add_user(
            session,
            Admin(Actor("admin@test")),
            email=email,
            password=PASSWORD,
            role="nurse",
            clinic_codes=list(clinic_codes),
        )
        return email

    return make


def log_in(client, email: str, csrf: bool = False) -> None:
    data = {"email": email, "password": PASSWORD}
    if csrf:
        data["csrf_token"] = csrf_token(client.get("/login").text)
    assert client.post("/login", data=data).status_code == 302


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]


def in_english(client):
    """The client asks for English: the tests of behaviour read the English messages."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def norwegian_client(make_app, nurse):
    """A test client logged in as a nurse of TEST, in the default language (bokmål); CSRF
    checks off: one test keeps them."""
    with make_app(WTF_CSRF_ENABLED=False).test_client() as client:
        log_in(client, nurse())
        yield client


@pytest.fixture
def client(norwegian_client):
    """The same nurse, reading English."""
    return in_english(norwegian_client)


def upload(client, data: bytes, **form):
    return client.post(
        "/import",
        data={"file": (io.BytesIO(data), "pasienter.csv"), **form},
        content_type="multipart/form-data",
    )


def kept_token(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page)[1]


def kept_files(session) -> list[KeptUpload]:
    """The files kept in the database between a preview and its confirmation."""
    session.rollback()
    session.expire_all()
    return list(session.scalars(sa.select(KeptUpload).order_by(KeptUpload.id)))


def patient_count(session) -> int:
    session.rollback()
    return session.scalar(sa.select(sa.func.count()).select_from(Patient))


def test_the_form_describes_the_columns(client):
    page = client.get("/import")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    assert "kontroller_utført_til" in page.text and "Kari Nordmann" in page.text


def test_the_examples_header_uses_only_names_the_page_lists(client):
    page = client.get("/import").text
    accepted = {
        name.strip()
        for cell in re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", page)
        for name in cell.split(",")
    }
    example = re.search(r"<pre>([^\n]*)", page)
    assert example, "the page shows an example"
    assert set(html.unescape(example[1]).split(";")) <= accepted


@pytest.mark.parametrize(
    "encoding, told",
    [
        ("cp1252", "Windows-1252"),  # Excel's plain "CSV", refused before
        ("utf-8-sig", "UTF-8 with byte order mark"),  # Excel's "CSV UTF-8"
    ],
)
def test_a_file_saved_by_excel_is_read_and_the_preview_says_how(client, session, encoding, told):
    data = csv("17856000362;Øystein Ås;15.01.2025;reseksjon;").decode().encode(encoding)
    page = upload(client, data)
    assert page.status_code == 200, page.text
    assert told in page.text and "Øystein Ås" in page.text
    client.post("/import/confirm", data={"token": kept_token(page.text)})
    assert patient_count(session) == 1
    assert 'name="clinic"' not in page.text  # one clinic: nothing to choose


def test_upload_preview_confirm_imports_the_patients(client, session, tmp_path):
    check = upload(client, csv(*good_rows(3)))
    assert check.status_code == 200
    assert re.search(r'data-count="new">3<', check.text)
    assert patient_count(session) == 0  # the check writes nothing
    [kept] = kept_files(session)
    assert (kept.filename, kept.clinic.code) == ("pasienter.csv", "TEST")
    hidden = set(re.findall(r'<input type="hidden" name="(\w+)"', check.text))
    assert hidden == {"csrf_token", "next", "token"}  # the file stays on the server
    done = client.post("/import/confirm", data={"token": kept_token(check.text)})
    assert done.status_code == 302 and done.location == "/"
    assert patient_count(session) == 3
    assert (
        session.scalars(sa.select(Patient.clinic_id)).all()
        == [session.scalar(sa.select(Clinic.id).where(Clinic.code == "TEST"))] * 3
    )
    assert kept_files(session) == []  # deleted after the import
    assert not (tmp_path / "imports").exists()  # nothing on this node's disk: any node confirms
    assert "3 patients imported into Testklinikken." in client.get("/").text


def test_a_second_confirm_imports_nothing_more(client, session, tmp_path):
    token = kept_token(upload(client, csv(*good_rows(2))).text)
    client.post("/import/confirm", data={"token": token})
    again = client.post("/import/confirm", data={"token": token})
    assert again.status_code == 302 and again.location == "/import"
    assert patient_count(session) == 2


def test_a_patient_registered_between_preview_and_confirm_is_skipped(client, session, ctx):
    rows = good_rows(2)
    token = kept_token(upload(client, csv(*rows)).text)
    register_patient(
        session,
        replace(ctx, today=date.today()),
        clinic_code="TEST",
        national_id=rows[0].split(";")[0],
        name="Registrert imens",
    )
    assert client.post("/import/confirm", data={"token": token}).status_code == 302
    assert patient_count(session) == 2
    assert "1 patient was already registered and skipped." in client.get("/").text


def test_an_import_stopped_midway_says_how_many_went_in_and_what_to_do(
    client, session, ctx, monkeypatch
):
    rows = good_rows(3)
    token = kept_token(upload(client, csv(*rows)).text)
    monkeypatch.setattr("surveillance.services.imports.IMPORT_CHUNK", 1)
    monkeypatch.setattr("surveillance.services.imports.CHUNK_PAUSE_SECONDS", 0)
    monkeypatch.setattr("surveillance.services.imports.next_chunk_size", lambda size, s: size)
    real_load = imports.load_patients

    def load_then_another_nurse_registers(*args):
        loaded = real_load(*args)
        if patient_count(session) == 1:  # meanwhile the third person is registered by hand
            today = replace(ctx, today=date.today())
            register_patient(
                session, today, clinic_code="TEST", national_id=rows[2][:11], name="Imens"
            )
        return loaded

    monkeypatch.setattr(imports, "load_patients", load_then_another_nurse_registers)
    page = client.post("/import/confirm", data={"token": token})
    assert page.status_code == 409
    text = html.unescape(page.text)
    assert "2 patients were imported into Testklinikken before the import stopped: row 4:" in text
    assert "Import the same file again to add the rest" in text
    assert "Nothing was imported" not in text
    assert patient_count(session) == 3  # two imported, one by hand: none half-written


def test_a_reupload_of_the_same_file_offers_nothing_to_import(client, session, tmp_path):
    data = csv(*good_rows(2))
    client.post("/import/confirm", data={"token": kept_token(upload(client, data).text)})
    again = upload(client, data)
    assert re.search(r'data-count="registered">2<', again.text)
    assert "already registered, skipped" in again.text and "/import/confirm" not in again.text
    assert kept_files(session) == []


def test_a_bad_file_shows_every_problem_and_imports_nothing(client, session, tmp_path):
    data = csv(
        *good_rows(2),
        f"{synthetic_id()};Per;2025-02-30;reseksjon;",
        f"{synthetic_id()};Ola;2025-01-15;cellegift;",
    )
    page = upload(client, data)
    assert page.status_code == 200
    assert re.search(r'data-count="problem">2<', page.text)
    assert (
        "is not a real date (no such day)" in page.text and "<mark>2025-02-30</mark>" in page.text
    )
    assert "is not a known treatment" in page.text and "<mark>cellegift</mark>" in page.text
    assert "/import/confirm" not in page.text and kept_files(session) == []
    assert patient_count(session) == 0


def test_problems_are_shown_with_their_values_filled_in(client):
    page = upload(
        client,
        csv(
            f"{synthetic_id()};{'K' * 201};2025-01-15;reseksjon;",
            "12345678901;Eva;2025-01-15;reseksjon;",
            f"{synthetic_id()};Per;2025-01-15;reseksjon;;x",
            f"{synthetic_id()};Ola;2025-01-15;reseksjon;;x;y",
        ),
    )
    assert re.search(r'data-count="problem">4<', page.text)
    assert "is longer than 200 characters" in page.text
    assert "is not a valid national ID (The number&#39;s checksum" in page.text
    assert "has 1 cell more than the header has columns" in page.text
    assert "has 2 cells more than the header has columns" in page.text
    assert "%(" not in page.text


def test_the_pages_speak_norwegian_by_default(norwegian_client, session):
    assert "Filen er tom." in upload(norwegian_client, b"").text
    page = upload(
        norwegian_client,
        csv(
            f"{synthetic_id()};Per;2025-02-30;reseksjon;",
            f"{synthetic_id()};{'K' * 201};2025-01-15;reseksjon;",
            f"{synthetic_id()};Ola;2025-01-15;reseksjon;;x",
        ),
    )
    assert "Problemer" in page.text and "er ikke en gyldig dato (dagen finnes ikke)" in page.text
    assert "er lengre enn 200 tegn" in page.text
    assert "har 1 celle mer enn overskriftsraden har kolonner" in page.text
    good = upload(norwegian_client, csv(*good_rows(2)))
    norwegian_client.post("/import/confirm", data={"token": kept_token(good.text)})
    assert "2 pasienter importert til Testklinikken." in norwegian_client.get("/").text


@pytest.mark.parametrize(
    "refusal, message",
    [
        (
            InputError("row 4: national_id", "17856000281", "is already registered"),
            "Ingenting ble importert: rad 4: Fødselsnummer: «17856000281» er allerede registrert",
        ),
        (
            BadFile("The file has more than %(max)d rows: split it.", max=20000),
            "Ingenting ble importert: Filen har mer enn 20000 rader: del den opp.",
        ),
    ],
)
def test_a_refusal_at_the_confirmation_is_told_in_the_readers_language(
    norwegian_client, monkeypatch, refusal, message
):
    token = kept_token(upload(norwegian_client, csv(*good_rows(1))).text)

    def refuse(*args):  # as if the file had changed meaning since the check
        raise refusal

    monkeypatch.setattr("surveillance.web.imports.import_csv", refuse)
    page = norwegian_client.post("/import/confirm", data={"token": token})
    assert page.status_code == 400 and message in page.text


@pytest.mark.parametrize(
    "data, message",
    [
        (b"f\x81dselsnummer;navn\n", "neither UTF-8 nor Windows-1252 text (byte 1, row 1)"),
        (b"", "The file is empty."),
        (csv().replace(b"behandling;", b""), "has no column behandling"),
    ],
)
def test_an_unreadable_file_is_refused_on_the_form(client, data, message):
    page = upload(client, data)
    assert page.status_code == 400 and message in page.text
    assert 'enctype="multipart/form-data"' in page.text


def test_a_nurse_cannot_import_into_another_clinic(client, session, tmp_path):
    assert upload(client, csv(*good_rows(1)), clinic="OTHER").status_code == 404
    assert upload(client, csv(*good_rows(1)), clinic="NOPE").status_code == 404
    assert kept_files(session) == [] and patient_count(session) == 0


def test_a_kept_file_is_bound_to_the_user_who_sent_it(make_app, nurse, client, session, tmp_path):
    token = kept_token(upload(client, csv(*good_rows(1))).text)
    with make_app(WTF_CSRF_ENABLED=False).test_client() as other:
        log_in(other, nurse("other@test.no", ["OTHER"]))
        refused = other.post("/import/confirm", data={"token": token})
        assert refused.status_code == 302 and refused.location == "/import"
    assert patient_count(session) == 0 and len(kept_files(session)) == 1  # still the sender's
    assert client.post("/import/confirm", data={"token": token}).status_code == 302
    assert patient_count(session) == 1


def test_a_kept_file_expires_after_a_day(client, session, tmp_path):
    token = kept_token(upload(client, csv(*good_rows(1))).text)
    [kept] = kept_files(session)
    assert kept.expires_at - kept.created_at == timedelta(hours=24)
    session.rollback()
    with session.begin():
        session.get(KeptUpload, kept.id).expires_at = utcnow() - timedelta(seconds=1)
    assert client.post("/import/confirm", data={"token": token}).location == "/import"
    assert kept_files(session) == [] and patient_count(session) == 0


def test_a_user_keeps_only_the_newest_files(client, session):
    tokens = [kept_token(upload(client, csv(*good_rows(1))).text) for _ in range(KEPT_PER_USER + 1)]
    assert len(kept_files(session)) == KEPT_PER_USER
    assert client.post("/import/confirm", data={"token": tokens[0]}).location == "/import"
    assert client.post("/import/confirm", data={"token": tokens[-1]}).location == "/"
    assert patient_count(session) == 1


def test_discard_forgets_the_kept_file(client, session, tmp_path):
    token = kept_token(upload(client, csv(*good_rows(1))).text)
    assert client.post("/import/discard", data={"token": token}).status_code == 302
    assert kept_files(session) == [] and patient_count(session) == 0


def test_a_nurse_of_several_clinics_chooses_one(make_app, nurse, session):
    with in_english(make_app(WTF_CSRF_ENABLED=False).test_client()) as client:
        log_in(client, nurse("both@test.no", ["TEST", "OTHER"]))
        assert 'name="clinic"' in client.get("/import").text
        none_chosen = upload(client, csv(*good_rows(1)))
        assert none_chosen.status_code == 400 and "Choose a clinic" in none_chosen.text
        page = upload(client, csv(*good_rows(1)), clinic="OTHER")
        client.post("/import/confirm", data={"token": kept_token(page.text)})
    other = session.scalar(sa.select(Clinic.id).where(Clinic.code == "OTHER"))
    assert session.scalars(sa.select(Patient.clinic_id)).all() == [other]


def test_names_with_markup_are_shown_as_text(client):
    page = upload(
        client,
        csv(
            *good_rows(1, name="<script>alert(1)</script>"),
            f"{synthetic_id()};Per;2025-01-15;<img src=x onerror=alert(2)>;",
        ),
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.text and "<img src=x" not in page.text


def test_the_pages_need_a_login_and_change_nothing_on_get(make_app, clinics, session, tmp_path):
    with make_app(WTF_CSRF_ENABLED=False).test_client() as anonymous:
        assert anonymous.get("/import").status_code == 302
        assert upload(anonymous, csv(*good_rows(1)), clinic="TEST").status_code == 302
        assert anonymous.get("/import/confirm").status_code == 405
    assert kept_files(session) == [] and patient_count(session) == 0


def test_the_import_form_is_refused_without_a_csrf_token(make_app, nurse, session, tmp_path):
    with in_english(make_app().test_client()) as client:
        log_in(client, nurse(), csrf=True)
        refused = upload(client, csv(*good_rows(1)))
        assert refused.status_code == 400 and "was not sent from this site" in refused.text
        assert kept_files(session) == []
        token = csrf_token(client.get("/import").text)
        page = upload(client, csv(*good_rows(1)), csrf_token=token)
        assert page.status_code == 200
        refused = client.post("/import/confirm", data={"token": kept_token(page.text)})
        assert refused.status_code == 400 and "was not sent from this site" in refused.text
        assert patient_count(session) == 0
        done = client.post(
            "/import/confirm",
            data={"token": kept_token(page.text), "csrf_token": csrf_token(page.text)},
        )
        assert done.status_code == 302 and patient_count(session) == 1


# A FHIR transaction Bundle takes the same way as a CSV file: check, then confirm.


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
