"""CSV import of patients: upload, a dry-run check of every row, then the load."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required

from ..clock import utcnow
from ..errors import InputError
from ..fhir.bundle import reader_for
from ..services.imports import (
    COLUMNS,
    UTF8,
    UTF8_BOM,
    WINDOWS_1252,
    BadFile,
    FileCheck,
    ImportRefused,
    ImportStopped,
    Problem,
    check_file,
    import_csv,
)
from ..services.uploads import Upload, claim_upload, keep_upload
from .labels import describe as describe_refusal
from .labels import labelled
from .per_request import config, db, service_context

bp = Blueprint("imports", __name__)
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
SHOWN_ROWS = 500  # the table; every problem is listed above it (up to SHOWN_PROBLEMS)
SHOWN_PROBLEMS = 2000
# A synthetic number (month + 80): it can never be a real person's.
EXAMPLE = (
    "fødselsnummer;navn;behandlingsdato;behandling;kontroller_utført_til\n"
    "17856000281;Kari Nordmann;15.01.2025;reseksjon;15.07.2025\n"
    "03917200040;Ola Østgård;2025-03-31;ablasjon;\n"
)


# How the check page names the encoding the file was read in.
ENCODING_NAMES = {
    UTF8: _l("UTF-8"),
    UTF8_BOM: _l("UTF-8 with byte order mark (Excel's “CSV UTF-8”)"),
    WINDOWS_1252: _l("Windows-1252 (Excel's plain “CSV”): read as such, æ, ø and å included"),
}


@bp.before_request
@login_required
def _login():
    """Every page here needs a login."""


@bp.get("/import")
def upload():
    """The upload form, with the columns a file may have and an example."""
    return _form()


@bp.post("/import")
def check():
    """The dry run: every row and every problem; a confirm button if nothing is wrong."""
    clinic = _clinic(request.form.get("clinic"))
    sent = request.files.get("file")
    if clinic is None or sent is None or not sent.filename:
        return _form(_("Choose a clinic and a CSV file."), 400)
    data = sent.read()
    try:
        check = check_file(db(), service_context(), clinic.code, data, reader_for(data))
    except BadFile as exc:
        return _form(_reason(exc), 400)
    token = (
        keep_upload(
            db(),
            Upload(current_user.id, clinic.code, sent.filename, data),
            utcnow(),
            config().web.max_upload_megabytes * 1024 * 1024,
        )
        if check.importable
        else None
    )
    return _show_check(check, clinic, sent.filename, token)


@bp.post("/import/confirm")
def confirm():
    """Import the kept file and go to the worklist (a file with a problem imports nothing)."""
    kept = _claim()
    if kept is None:
        flash(
            _("This upload has expired or was already imported. Please upload the file again."),
            "error",
        )
        return redirect(url_for("imports.upload"))
    clinic = _clinic(kept.clinic)
    try:
        check = import_csv(db(), service_context(), clinic.code, kept.data, reader_for(kept.data))
    except ImportRefused as refused:
        return _show_check(refused.check, clinic, kept.filename, None, 400)
    except ImportStopped as stopped:
        return _form(_stopped(stopped, clinic.name), 409)
    except (BadFile, InputError) as exc:
        return _form(_("Nothing was imported: %(reason)s", reason=_reason(exc)), 400)
    message = ngettext(
        "%(num)d patient imported into %(clinic)s.",
        "%(num)d patients imported into %(clinic)s.",
        check.count("new"),
        clinic=clinic.name,
    )
    if skipped := check.count("registered"):
        message += " " + ngettext(
            "%(num)d patient was already registered and skipped.",
            "%(num)d patients were already registered and skipped.",
            skipped,
        )
    flash(message, "info")
    return redirect(url_for("worklist.today"))


@bp.post("/import/discard")
def discard():
    """Forget a kept file without importing it."""
    _claim()
    return redirect(url_for("imports.upload"))


def _stopped(stopped: ImportStopped, clinic: str) -> str:
    """An import stopped midway: how many went in, why it stopped, and what to do."""
    return ngettext(
        "%(num)d patient was imported into %(clinic)s before the import stopped: %(reason)s. "
        "Import the same file again to add the rest: patients already registered are skipped.",
        "%(num)d patients were imported into %(clinic)s before the import stopped: %(reason)s. "
        "Import the same file again to add the rest: patients already registered are skipped.",
        stopped.loaded,
        clinic=clinic,
        reason=_reason(stopped.error),
    )


def _form(error: str | None = None, status: int = 200):
    return render_template(
        "import.html",
        error=error,
        columns=COLUMNS,
        example=EXAMPLE,
        chosen=request.form.get("clinic"),
    ), status


def _show_check(check: FileCheck, clinic, filename: str, token: str | None, status: int = 200):
    problems = check.problems
    shown = [row for i, row in enumerate(check.rows) if row.problems or i < SHOWN_ROWS]
    return render_template(
        "import_check.html",
        check=check,
        clinic=clinic,
        filename=filename,
        token=token,
        problems=problems[:SHOWN_PROBLEMS],
        more_problems=max(0, len(problems) - SHOWN_PROBLEMS),
        rows=shown[:SHOWN_ROWS],
        more_rows=len(check.rows) - min(len(shown), SHOWN_ROWS),
        describe=describe,
        encoding=ENCODING_NAMES[check.encoding],
    ), status


def describe(problem: Problem) -> str:
    """The problem in the user's language (values are filled in as plain text)."""
    params = labelled(problem.params)
    if problem.plural:
        return ngettext(problem.message, problem.plural, **params)  # params["num"]: the count
    return _(problem.message, **params)


def _reason(exc: BadFile | InputError) -> str:
    """Why a file or a row is refused, in the user's language."""
    return describe_refusal(exc) if isinstance(exc, InputError) else _(exc.message, **exc.params)


def _clinic(code: str | None):
    """One of the user's clinics; the only one if none is named; 404 for anyone else's."""
    clinics = current_user.clinics
    if not code:
        return clinics[0] if len(clinics) == 1 else None
    return next((c for c in clinics if c.code == code), None) or abort(404)


def _claim() -> Upload | None:
    """Take the user's kept file named by the form's token, or None."""
    token = request.form.get("token", "")
    if not TOKEN.fullmatch(token):
        return None
    return claim_upload(db(), current_user.id, token, utcnow())
