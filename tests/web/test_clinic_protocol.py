"""R16: a clinic's own protocol file names its exams on the pages, in nb and en."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from surveillance.config import Config
from surveillance.feeds.render import FeedSettings
from surveillance.protocol import set_protocol_folders
from surveillance.services import register_patient
from tests.support.data import synthetic_id
from tests.test_protocol_engine import CLINIC_PROTOCOL

from .browsing import visible_text

# The clinic names its MRI its own way: no catalogue holds these names.
NAMES = {"nb": "MR lever med Primovist", "en": "liver MRI with Primovist"}
OWN_PROTOCOL = CLINIC_PROTOCOL.replace('nb = "MR lever"', f'nb = "{NAMES["nb"]}"').replace(
    'en = "liver MRI"', f'en = "{NAMES["en"]}"'
)


@pytest.fixture
def clinic_protocol(tmp_path):
    """clinic-mri.toml in the instance folder (tmp_path, as make_app configures it)."""
    (tmp_path / "protocols").mkdir()
    (tmp_path / "protocols" / "clinic-mri.toml").write_text(OWN_PROTOCOL, "utf-8")
    set_protocol_folders(tmp_path / "protocols")
    yield
    set_protocol_folders()


@pytest.fixture
def mri_patient(clinic_protocol, world, session):
    """Ablated 80 days ago under clinic-mri: the 3-month liver MRI is to book now."""
    ctx = world.ctx
    return register_patient(
        session,
        ctx,
        clinic_code="A",
        national_id=synthetic_id(),
        name="Liv Magnetisk",
        treatment_date=ctx.today - timedelta(days=80),
        treatment_kind="ablation",
        protocol="clinic-mri",
    )


@pytest.mark.parametrize("language", ["nb", "en"])
def test_a_clinics_own_exam_is_named_as_its_protocol_file_names_it(
    world, log_in, mri_patient, language
):
    nurse = log_in(world.a.nurse)
    nurse.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    name = NAMES[language]
    worklist = visible_text(nurse.get("/?category=to_book"))
    assert "Liv Magnetisk" in worklist and name in worklist
    assert "mri_liver" not in worklist
    patient_page = visible_text(nurse.get(f"/patients/{mri_patient.id}"))
    assert name in patient_page and "mri_liver" not in patient_page
    spreadsheet = nurse.get("/export.csv?list=to_book").get_data(as_text=True)
    assert name in spreadsheet and "mri_liver" not in spreadsheet


@pytest.mark.parametrize("language", ["nb", "en"])
def test_a_feed_that_shows_exam_names_names_the_clinics_own_exam(clinic_protocol, language):
    config = Config()
    config = replace(config, feeds=replace(config.feeds, language=language))
    words = FeedSettings.from_config(config).events.words
    assert words.exams["mri_liver"] == NAMES[language]
    assert words.exams["ct_tap"] == {"nb": "CT thorax/abdomen/bekken", "en": "CT chest/abdomen/pelvis"}[language]  # fmt: skip


def test_the_feeds_text_changes_with_the_protocol_files_names(tmp_path):
    before = FeedSettings.from_config(Config()).fingerprint
    (tmp_path / "protocols").mkdir()
    (tmp_path / "protocols" / "clinic-mri.toml").write_text(OWN_PROTOCOL, "utf-8")
    set_protocol_folders(tmp_path / "protocols")
    try:
        assert FeedSettings.from_config(Config()).fingerprint != before
    finally:
        set_protocol_folders()
