"""The translation catalogue, shared by the e-mails and the dashboard: bokmål first."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import Translations

LANGUAGES = ("nb", "en")
DEFAULT_LANGUAGE = "nb"
# The standard layout Flask-Babel reads too: translations/<lang>/LC_MESSAGES/messages.mo
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str = DEFAULT_LANGUAGE) -> Translations:
    """The compiled catalogue of a language."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {language!r}")
    compiled = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.mo"
    with compiled.open("rb") as file:  # missing: an error, not English in disguise
        return Translations(file)
