"""Two `surveillance serve` nodes, separate instance folders, one PostgreSQL: every multi-step
flow works with its steps alternating between the nodes, as a load balancer may send them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveillance.clock import clinic_today
from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.models import Clinic, Patient, PlannedExam
from surveillance.feeds.store import create_clinic_feed
from surveillance.services import Actor, Context, register_patient
from tests.support.data import synthetic_id
from tests.support.nodes import EMAIL, Client, Node, node_config, prepare_database

pytestmark = pytest.mark.thorough  # two server processes

HEADER = "fødselsnummer;navn;behandlingsdato;behandling;kontroller_utført_til"


@pytest.fixture(scope="module")
def url(fresh_database):
    """A PostgreSQL database with a clinic and its nurse (the shared server; nothing restarts)."""
    url = fresh_database("postgresql")
    prepare_database(url)
    return url


@pytest.fixture(scope="module")
def nodes(url, tmp_path_factory):
    """Node A and node B: the same database and secret key, each its own instance folder."""
    started = []
    try:
        for name in ("a", "b"):
            folder = tmp_path_factory.mktemp(f"node-{name}")
            started.append(Node(node_config(folder, url)).start())
        yield started
    finally:
        for node in started:
            node.stop()


@pytest.fixture
def db(url):
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def nurse(nodes):
    """A nurse logged in through node A."""
    a, _ = nodes
    client = Client(a.port)
    client.log_in()
    return client


def test_a_login_on_one_node_is_a_login_on_the_other_and_so_is_a_logout(nodes, nurse):
    a, b = nodes
    status, page, _ = nurse.on(b.port).request("GET", "/")
    assert status == 200 and EMAIL in page
    status, _, headers = nurse.post_form("/logout", page)
    assert status == 302
    status, _, headers = nurse.on(a.port).request("GET", "/")
    assert status == 302 and headers["location"].startswith("/login")


def test_an_import_previewed_on_one_node_is_confirmed_on_the_other(nodes, nurse, db):
    a, b = nodes
    rows = [f"{synthetic_id()};Kari Nordmann;2025-01-15;reseksjon;2025-07-15" for _ in range(3)]
    data = "\n".join([HEADER, *rows]).encode() + b"\n"
    _, form, _ = nurse.on(a.port).request("GET", "/import")
    status, preview, _ = nurse.post_file("/import", form, "pasienter.csv", data)
    assert status == 200
    token = re.search(r'name="token" value="([^"]+)"', preview)[1]
    status, _, headers = nurse.on(b.port).post_form("/import/confirm", preview, token=token)
    assert status == 302 and headers["location"] == "/"  # not "/import": the file was found
    _, page, _ = nurse.on(a.port).request("GET", "/")
    assert "3 pasienter importert" in page  # the message travels in the shared session cookie
    numbers = [row.split(";")[0] for row in rows]
    assert db.scalar(sa.select(sa.func.count()).where(Patient.national_id.in_(numbers))) == 3
    again = nurse.on(b.port).post_form("/import/confirm", preview, token=token)
    assert again[2]["location"] == "/import"  # claimed once, whichever node asks


@pytest.fixture
def exam(db) -> PlannedExam:
    """An open exam of a patient of the clinic, treated a month ago (by the real clock)."""
    today = clinic_today()
    ctx = Context(Actor("test"), today, accept_synthetic_ids=True)
    patient = register_patient(
        db,
        ctx,
        clinic_code="TEST",
        national_id=synthetic_id(),
        name="Ola Hansen",
        treatment_date=today - timedelta(days=30),
        treatment_kind="ablation",
    )
    return db.scalars(
        sa.select(PlannedExam)
        .where(PlannedExam.patient_id == patient.id, PlannedExam.state == "open")
        .order_by(PlannedExam.due)
    ).first()


def test_an_edit_saved_on_one_node_makes_the_same_form_stale_on_the_other(nodes, nurse, exam):
    a, b = nodes
    _, page, _ = nurse.on(a.port).request("GET", f"/patients/{exam.patient_id}")
    assert f'name="version" value="{exam.version}"' in page
    booking = {"version": str(exam.version), "date": exam.due_working_day.isoformat()}
    status, _, _ = nurse.on(b.port).post_form(f"/exams/{exam.id}/book", page, **booking)
    assert status == 302
    stale = nurse.on(a.port).post_form(f"/exams/{exam.id}/book", page, **booking)
    assert stale[0] == 409 and "endret av noen andre" in stale[1]


def test_a_feed_has_one_etag_whichever_node_serves_it(nodes, db, exam):
    a, b = nodes
    clinic_id = db.scalar(sa.select(Clinic.id).where(Clinic.code == "TEST"))
    path = create_clinic_feed(db, Actor("test"), clinic_id).path
    status, _, first = Client(a.port).request("GET", path)
    assert status == 200
    unchanged = Client(b.port).request("GET", path, headers={"If-None-Match": first["etag"]})
    assert unchanged[0] == 304 and unchanged[2]["etag"] == first["etag"]
    nurse = Client(b.port)
    nurse.log_in()
    _, page, _ = nurse.request("GET", f"/patients/{exam.patient_id}")
    booking = {"version": str(exam.version), "date": exam.due_working_day.isoformat()}
    assert nurse.on(a.port).post_form(f"/exams/{exam.id}/book", page, **booking)[0] == 302
    status, _, changed = Client(b.port).request(
        "GET", path, headers={"If-None-Match": first["etag"]}
    )
    assert status == 200 and changed["etag"] != first["etag"]
    again = Client(a.port).request("GET", path, headers={"If-None-Match": changed["etag"]})
    assert again[0] == 304
