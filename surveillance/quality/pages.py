"""The quality report page of a clinic, and its CSV: counts only, never a patient."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required

from ..clock import clinic_today
from ..web.per_request import config, db
from .report import HEIGHT, PAD, WIDTH, clinic_report, report_csv, share_bars

bp = Blueprint("report", __name__)


def _clinic():
    """The clinic asked for (one of the user's: else 404), or the user's first."""
    code = request.args.get("clinic")
    if not code:
        return current_user.clinics[0] if current_user.clinics else abort(404)
    return next((c for c in current_user.clinics if c.code == code), None) or abort(404)


def _figures(clinic):
    cfg = config()
    return clinic_report(db(), clinic.id, clinic_today(cfg.protocol.timezone), cfg.settings)


@bp.get("/report")
@login_required
def page():
    """The clinic's quarters: a chart of the share done in time, and the table."""
    clinic = _clinic()
    figures = _figures(clinic)
    return render_template(
        "report.html",
        clinic=clinic,
        clinics=current_user.clinics,
        figures=figures,
        bars=share_bars(figures),
        chart={"width": WIDTH, "height": HEIGHT, "pad": PAD},
    )


@bp.get("/report.csv")
@login_required
def download():
    """The table as CSV."""
    clinic = _clinic()
    return Response(
        report_csv(_figures(clinic)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="quality-{clinic.code}.csv"'},
    )
