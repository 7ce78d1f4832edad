"""The words shown for codes: kept per catalogue across requests, never across languages."""

from __future__ import annotations

from surveillance.protocol import set_protocol_folders
from surveillance.web import labels
from surveillance.web.labels import label

from .test_clinic_protocol import NAMES, OWN_PROTOCOL


def in_language(app, language: str):
    return app.test_request_context("/", headers={"Accept-Language": language})


def test_labels_are_in_each_requests_own_language_whatever_came_before(app):
    for _ in range(2):  # the words are kept by the process: alternate the languages
        with in_language(app, "nb"):
            assert label("resection") == "Leverreseksjon"
            assert label("ct_tap") == "CT thorax/abdomen/bekken"
        with in_language(app, "en"):
            assert label("resection") == "Liver resection"
            assert label("ct_tap") == "CT chest/abdomen/pelvis"


def test_labels_follow_the_protocol_files_read_anew(app, tmp_path):
    with in_language(app, "nb"):
        before = label("mri_liver")
    assert before != NAMES["nb"]
    (tmp_path / "protocols").mkdir()
    (tmp_path / "protocols" / "clinic-mri.toml").write_text(OWN_PROTOCOL, "utf-8")
    set_protocol_folders(tmp_path / "protocols")
    try:
        with in_language(app, "nb"):
            assert label("mri_liver") == NAMES["nb"]
    finally:
        set_protocol_folders()
    with in_language(app, "nb"):
        assert label("mri_liver") == before


def test_a_word_that_is_no_code_is_not_kept_past_its_request(app):
    typed = "Kari Nordmann 01019912345"
    with in_language(app, "nb"):
        assert label(typed) == typed
    assert not any(typed in words for _names, words in labels._WORDS.values())
