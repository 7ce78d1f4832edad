"""The nurses' dashboard: a Flask application factory and one blueprint per page family."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import Config, load_config
from ..db import make_bounded_engine, make_sessionmaker
from ..fhir import pages as fhir_pages
from ..fhir import web as fhir_web
from ..quality import pages as report_pages
from ..resources import shipped_dir
from ..services.kept import Kept
from . import (
    admin,
    auth,
    feeds,
    formats,
    health,
    i18n,
    imports,
    markup,
    patients,
    per_request,
    security,
    worklist,
)

PAGE_CHARACTERS = 8_000_000  # about 180 pages of 50 rows (45 KB each) per process


def _length(page: tuple[str, int]) -> int:
    return len(page[0])


@dataclass(frozen=True)
class Surveillance:
    """What the application holds for its requests: the configuration and the database."""

    config: Config
    sessions: sessionmaker[Session]
    # The worklist's counts, kept while each clinic's list stamp holds (migration 0018).
    counts: Kept[dict[str, int]] = field(default_factory=Kept)
    # The worklist's lists as HTML, kept by the same stamps: a few hundred pages' characters.
    pages: Kept[tuple[str, int]] = field(default_factory=lambda: Kept(PAGE_CHARACTERS, _length))


def create_app(config: Config | None = None, test_config: dict | None = None) -> Flask:
    """Make the dashboard for `config` (default: the one SURVEILLANCE_CONFIG names)."""
    config = config or load_config()
    app = Flask(__name__, template_folder=str(shipped_dir("templates")), static_folder="static")
    app.config.update(
        SECRET_KEY=config.web.secret_key or _instance_secret(Path(config.web.instance_dir)),
        MAX_CONTENT_LENGTH=config.web.max_upload_megabytes * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.web.base_url.startswith("https://"),
        # A nurse's form stays valid as long as the session (Flask-WTF's default is an hour).
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(test_config or {})
    if config.web.trusted_proxies:
        # The client's address, scheme and host as the trusted proxies saw them.
        n = config.web.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    engine = make_bounded_engine(config.database)
    app.extensions["surveillance"] = Surveillance(config, make_sessionmaker(engine))
    for module in (per_request, security, i18n, formats, markup, auth):
        module.init_app(app)
    for module in (auth, worklist, patients, imports, admin, feeds, health):
        app.register_blueprint(module.bp)
    for module in (fhir_pages, fhir_web, report_pages):
        app.register_blueprint(module.bp)
    return app


def _instance_secret(folder: Path) -> str:
    """A random key made once and kept, so sessions survive a restart of the demo."""
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
