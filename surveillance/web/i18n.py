"""Languages: Norwegian bokmål first, English selectable."""

from __future__ import annotations

from flask import Blueprint, Flask, g, has_request_context, redirect, request, session, url_for
from flask_babel import Babel, get_locale, get_translations
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from ..resources import PACKAGE
from .audit_words import action_words, detail_words
from .forms import safe_target
from .labels import in_words, label
from .per_request import config

LANGUAGES = ("nb", "en")
# Browsers that ask for Norwegian in general or for nynorsk get bokmål, not English.
ALIASES = {"no": "nb", "nn": "nb", "nb": "nb", "en": "en"}
babel = Babel()


def init_app(app: Flask) -> None:
    """Babel with our catalogue and the locale chosen per request."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(PACKAGE / "translations"))
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", config_timezone(app))
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    _install_request_gettext(app)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, label=label, get_locale=get_locale)
    app.jinja_env.globals.update(action_words=action_words, detail_words=detail_words)
    app.jinja_env.filters.update(in_words=in_words)


def _install_request_gettext(app: Flask) -> None:
    """The templates' gettext as Flask-Babel's, the catalogue looked up once per request.

    Flask-Babel looks the locale and the catalogue up for every text; a patient page has
    a few hundred (a quarter of its time, issue 10).
    """
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )
    # `_()` itself: Jinja's newstyle wrapper makes three calls of each, this one.
    app.jinja_env.globals.update(_=_gettext, gettext=_gettext, ngettext=_ngettext)


@pass_eval_context
def _gettext(eval_ctx: EvalContext, message: str, /, **params) -> str | Markup:
    """What Jinja's newstyle gettext writes: Markup where the template escapes, then params.

    Positional-only, as Jinja's own (`__string`): a parameter may be called `message`."""
    text = request_translations().ugettext(message)
    if not params and "%" not in text:  # nothing for `%` to do: most of a page's texts
        return Markup(text) if eval_ctx.autoescape else text
    return (Markup(text) if eval_ctx.autoescape else text) % params


@pass_eval_context
def _ngettext(
    eval_ctx: EvalContext, singular: str, plural: str, num: int, /, **params
) -> str | Markup:
    """What Jinja's newstyle ngettext writes, `num` among the params."""
    params.setdefault("num", num)
    text = request_translations().ungettext(singular, plural, num)
    return (Markup(text) if eval_ctx.autoescape else text) % params


def request_translations():
    """The request's catalogue (Flask-Babel's), kept on `g` for the rest of the request."""
    if not has_request_context():
        return get_translations()
    found = g.get("translations")
    if found is None:
        found = g.translations = get_translations()
    return found


def config_timezone(app: Flask) -> str:
    return app.extensions["surveillance"].config.protocol.timezone


def select_locale() -> str:
    """The language chosen in the session, else the browser's best match, else the default."""
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    best = request.accept_languages.best_match(list(ALIASES))
    return ALIASES.get(best or "", config().web.default_language)


bp = Blueprint("i18n", __name__)


@bp.post("/language")
def choose_language():
    """Remember the chosen language for this session."""
    lang = request.form.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        g.pop("translations", None)
    return redirect(safe_target(request.form.get("next")) or url_for("worklist.today"))
