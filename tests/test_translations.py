"""The catalogue: every .po compiles, the committed .mo files match, bokmål covers the e-mails."""

from __future__ import annotations

from io import BytesIO

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from surveillance.i18n import LANGUAGES, TRANSLATIONS_DIR, translations
from surveillance.resources import shipped_dir


def catalogue(language: str):
    with open(TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as file:
        return read_po(file, locale=language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_compiles_without_errors(language):
    po = catalogue(language)
    assert [(m.id, errors) for m, errors in po.check()] == []  # placeholders match, etc.
    write_mo(BytesIO(), po)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_file_matches_its_po_file(language):
    # If this fails: pybabel compile -d surveillance/translations
    fresh = BytesIO()
    write_mo(fresh, catalogue(language))
    fresh.seek(0)
    with open(TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.mo", "rb") as file:
        assert Translations(file)._catalog == Translations(fresh)._catalog


def email_messages() -> set[str]:
    found = extract_from_dir(
        shipped_dir("templates") / "email",
        method_map=[("**.txt", "jinja2"), ("**.html", "jinja2")],
        options_map={"**": {"extensions": "jinja2.ext.i18n"}},
    )
    return {message for _file, _line, message, _comments, _context in found}


def test_bokmal_translates_every_text_of_the_emails():
    messages = email_messages()
    assert len(messages) > 15
    po = catalogue("nb")
    missing = sorted(m for m in messages if m not in po or not po[m].string or po[m].fuzzy)
    assert missing == []


def test_the_catalogues_load():
    assert translations("nb").gettext("To book") == "Å bestille"
    assert translations("en").gettext("To book") == "To book"
    with pytest.raises(ValueError, match="no catalogue"):
        translations("sv")
