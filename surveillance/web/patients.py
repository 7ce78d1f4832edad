"""The patient page and every action on it; and the new-patient form."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from ..db.models import LiverTreatment, MdtDecision, PrimaryControl
from ..errors import Conflict, InputError, NotFound
from ..protocol import load_protocol
from ..protocol.vocabulary import PRIMARY_EXAMS, READINGS, TREATMENT_KINDS
from ..services import (
    cancel_exam,
    confirm_booking_cancelled,
    correct_primary_control,
    correct_result,
    correct_treatment,
    delete_primary_control,
    delete_treatment,
    end_surveillance,
    get_exam,
    get_patient,
    record_booking,
    record_control_results,
    record_decision,
    record_mdt_decision,
    record_measurement,
    record_missed,
    record_primary_control,
    record_result,
    record_treatment,
    register_patient,
    resume_surveillance,
    update_contact,
    withdraw,
    withdraw_decision,
)
from ..services.control_booking import book_control as control_booking
from ..services.corrections import WITHDRAWALS
from ..services.patients import END_STATUSES
from ..services.records import add_note, view_patient
from .chart import cea_chart
from .forms import required_version, safe_target
from .labels import describe
from .per_request import db, service_context
from .plan import PlanWriter
from .reasons import mdt_reasons
from .timeline import timeline

bp = Blueprint("patients", __name__)


@dataclass(frozen=True)
class Failed:
    """An action the services refused: which form, what was typed, and why."""

    action: str
    target: int | None
    values: dict
    message: str
    field: str | None = None  # the form field the refusal names, if it names one


@dataclass(frozen=True)
class FormState:
    """What each form of the page shows of the refused one: its values, its message, its field.

    Python, not Jinja macros: a patient page asks a few hundred times, nearly always "no"
    (issue 10). Each writes what the macros wrote; the page escapes the values it returns.
    """

    failed: Failed | None

    def _is(self, action: str, target: int | None) -> bool:
        f = self.failed
        return bool(f) and f.action == action and f.target == target  # type: ignore[union-attr]

    def open_if(self, action: str, target: int | None = None) -> str:
        """`open` on the details element of the form that was refused."""
        return "open" if self._is(action, target) else ""

    def value(self, action: str, target: int | None, name: str, default=""):
        """What was typed into the refused form's field; every other field keeps its default."""
        if self._is(action, target) and name in self.failed.values:  # type: ignore[union-attr]
            return self.failed.values.get(name)  # type: ignore[union-attr]
        return default

    def error(self, action: str, target: int | None = None) -> Markup:
        """The message, beside the form that was refused; focused when it names no field."""
        f = self.failed
        if f is None or not self._is(action, target):
            return Markup("")
        focus = "" if f.field in f.values else " autofocus"
        return Markup(
            f'<p class="errors" role="alert" id="{escape(_error_id(action, target))}" '
            f'tabindex="-1"{focus}>{escape(f.message)}</p>'
        )

    def invalid(self, action: str, target: int | None, name: str) -> Markup:
        """The field the refusal names: marked, tied to the message, focused (scrolled to)."""
        if not self._is(action, target) or self.failed.field != name:  # type: ignore[union-attr]
            return Markup("")
        described = escape(_error_id(action, target))
        return Markup(f' aria-invalid="true" aria-describedby="{described}" autofocus')


def _error_id(action: str, target: int | None) -> str:
    return f"error-{action}" + (f"-{target}" if target is not None else "")


@bp.before_request
@login_required
def _login():
    """Every page here needs a login."""


def _scope() -> set[int]:
    return set(current_user.clinic_ids)


def _page(patient_id: int, *, reveal: bool = False, failed: Failed | None = None, status=200):
    ctx = service_context()
    try:
        patient = view_patient(db(), ctx, patient_id, reveal_id=reveal)
    except NotFound:
        abort(404)
    cea = sorted(
        [
            (e.done_date, e.result_value)
            for e in patient.exams
            if e.code == "cea" and e.state == "done" and e.result_value is not None and e.done_date
        ]
        + [(m.date, m.value) for m in patient.measurements if m.withdrawn_at is None]
    )
    form = FormState(failed)
    exam_specs = load_protocol(patient.protocol).exams
    return render_template(
        "patient.html",
        open_if=form.open_if,
        value=form.value,
        error=form.error,
        invalid=form.invalid,
        patient=patient,
        reference=ctx.reference(patient.local_number),
        reveal=reveal,
        failed=failed,
        today=ctx.today,
        timeline=timeline(patient.exams, ctx.today),
        chart=cea_chart(cea, ctx.settings.cea_upper_limit),
        limit=ctx.settings.cea_upper_limit,
        treatment_kinds=sorted(TREATMENT_KINDS),
        primary_exams=sorted(PRIMARY_EXAMS),
        ct_results=READINGS,
        decisions=("no_recurrence", "recheck", "treatment_planned", "resume", "not_candidate"),
        exam_specs=exam_specs,
        plan=PlanWriter(patient.id, ctx.today, exam_specs, READINGS, form),
        mdt_reasons=mdt_reasons(patient.mdt_reason, ctx.settings.cea_upper_limit),
        last_decision=next((d for d in reversed(patient.decisions) if not d.withdrawn_at), None),
        end_statuses=END_STATUSES,
    ), status


@bp.get("/patients/<int:patient_id>")
def show(patient_id: int):
    """A patient's identity, status, treatments, plan, CEA chart and notes (audited)."""
    return _page(patient_id)


@bp.post("/patients/<int:patient_id>/reveal")
def reveal(patient_id: int):
    """Show the national ID once; the reveal is audited."""
    return _page(patient_id, reveal=True)


def _version() -> int:
    return required_version(request.form)


def _act(patient_id: int, action: str, target: int | None, run, done_message):
    """Run a service; on success say what changed, on refusal show the form again as typed."""
    try:
        result = run(service_context())
    except (InputError, Conflict) as exc:
        # A copy, not a dict: the ticked boxes of a list (the control's exams) come back too.
        field = exc.field.rpartition(": ")[2] if isinstance(exc, InputError) else None
        failed = Failed(action, target, request.form.copy(), _message(exc), field)
        return _page(patient_id, failed=failed, status=409 if isinstance(exc, Conflict) else 400)
    except NotFound:
        abort(404)
    flash(done_message(result) if callable(done_message) else done_message, "info")
    # A form on a list (the MDT list, the bookings to cancel) goes back to where it was.
    back = safe_target(request.form.get("next"))
    return redirect(back or url_for("patients.show", patient_id=patient_id) + f"#{action}")


def _message(refusal: InputError | Conflict) -> str:
    """The refusal in the reader's language."""
    return describe(refusal) if isinstance(refusal, InputError) else _(str(refusal))


def _replan_message(changes) -> str:
    if not changes:
        return _("Saved. The plan is unchanged.")
    counts = len(changes.create), len(changes.cancel), len(changes.update)
    parts = (
        ngettext("%(num)d exam planned", "%(num)d exams planned", counts[0]),
        ngettext("%(num)d exam cancelled", "%(num)d exams cancelled", counts[1]),
        ngettext("%(num)d exam moved or reopened", "%(num)d exams moved or reopened", counts[2]),
    )
    happened = [part for part, count in zip(parts, counts) if count]
    return _("Saved. The plan changed: %(changes)s.", changes=", ".join(happened))


def _exam_patient(exam_id: int) -> int:
    try:
        return get_exam(db(), exam_id, _scope()).patient_id
    except NotFound:
        abort(404)


def _own_patient(patient_id: int) -> int:
    try:
        return get_patient(db(), patient_id, _scope()).id
    except NotFound:
        abort(404)


def _treatment_patient(treatment_id: int) -> int:
    treatment = db().get(LiverTreatment, treatment_id)
    if treatment is None:
        abort(404)
    return _own_patient(treatment.patient_id)


def _form(*names: str, **renamed: str) -> dict:
    """The form's fields as a service's keyword arguments (`renamed`: argument="field")."""
    f = request.form
    return {n: f.get(n) for n in names} | {arg: f.get(field) for arg, field in renamed.items()}


def _do(patient_id: int, action: str, target: int | None, verb, key: int, message, fields: dict):
    """Call `verb(session, ctx, key, **fields)` with the form's version, as _act does."""
    return _act(
        patient_id,
        action,
        target,
        lambda ctx: verb(db(), ctx, key, **fields, expected_version=_version()),
        message,
    )


def _on_patient(patient_id: int, action: str, verb, message, *names: str, **renamed: str):
    """An action on the patient: the service called with the form's fields."""
    return _do(patient_id, action, None, verb, patient_id, message, _form(*names, **renamed))


def _on_exam(exam_id: int, verb, message, *names: str, **renamed: str):
    """An action on one exam of a patient's plan."""
    patient_id = _exam_patient(exam_id)
    return _do(patient_id, "exam", exam_id, verb, exam_id, message, _form(*names, **renamed))


def _on_treatment(treatment_id: int, verb, *names: str):
    """A correction of a recorded liver treatment; the page says how the plan changed."""
    patient_id = _treatment_patient(treatment_id)
    fields = _form(*names)
    return _do(patient_id, "correct", treatment_id, verb, treatment_id, _replan_message, fields)


def _on_control(control_id: int, verb, fields: dict):
    """An action on a primary-tumour control (R8, R12)."""
    patient_id = _control_patient(control_id)
    return _do(patient_id, "primary", control_id, verb, control_id, _replan_message, fields)


@bp.post("/patients/<int:patient_id>/treatments")
def add_treatment(patient_id: int):
    """Record a liver treatment; the page says how the plan changed."""
    return _on_patient(
        patient_id, "treatment", record_treatment, _replan_message, "date", "kind", "note"
    )


@bp.post("/treatments/<int:treatment_id>/correct")
def fix_treatment(treatment_id: int):
    """Correct a treatment's date or kind."""
    return _on_treatment(treatment_id, correct_treatment, "date", "kind")


@bp.post("/treatments/<int:treatment_id>/delete")
def remove_treatment(treatment_id: int):
    """Delete a treatment entered by mistake."""
    return _on_treatment(treatment_id, delete_treatment)


@bp.post("/patients/<int:patient_id>/primary-controls")
def add_primary_control(patient_id: int):
    """Register a control of the primary-tumour follow-up."""
    exams = request.form.getlist("exams")
    return _on_patient(
        patient_id, "primary", partial(record_primary_control, exams=exams), _replan_message, "date"
    )


@bp.post("/exams/<int:exam_id>/book")
def book(exam_id: int):
    """Book an exam: date, maybe time and place."""
    return _on_exam(exam_id, record_booking, _("Booking saved."), "date", "time", "place")


@bp.post("/patients/<int:patient_id>/controls/book")
def book_control(patient_id: int):
    """Book every exam of a control at once: one date, time and place."""
    f = request.form
    exams = _exam_versions(f.getlist("exam"))
    return _act(
        patient_id,
        "control",
        exams[0][0] if exams else None,
        lambda ctx: control_booking(
            db(), ctx, exams, date=f.get("date"), time=f.get("time"), place=f.get("place")
        ),
        lambda booked: ngettext("%(num)d exam booked.", "%(num)d exams booked.", len(booked)),
    )


def _exam_versions(values: list[str]) -> list[tuple[int, int | None]]:
    """The form's "exam id:version" pairs; anything else is not one of the page's exams."""
    pairs = [value.partition(":") for value in values]
    if not all(exam.isdigit() and version.isdigit() for exam, _, version in pairs):
        abort(400)
    return [(int(exam), int(version)) for exam, _, version in pairs]


@bp.post("/exams/<int:exam_id>/result")
def result(exam_id: int):
    """Record a result; an alarming one puts the patient on the MDT list."""
    return _on_exam(exam_id, record_result, _("Result saved."), "done_date", "result", "value")


@bp.post("/exams/<int:exam_id>/missed")
def missed(exam_id: int):
    """The patient did not come."""
    return _on_exam(exam_id, record_missed, _("Marked as missed."), "reason", "contact_attempt")


@bp.post("/exams/<int:exam_id>/cancel")
def cancel(exam_id: int):
    """The clinic decides the exam will not be done."""
    return _on_exam(exam_id, cancel_exam, _("Exam cancelled."), reason="cancel_note")


@bp.post("/exams/<int:exam_id>/booking-cancelled")
def booking_cancelled(exam_id: int):
    """The appointment of a cancelled exam has been cancelled."""
    return _on_exam(exam_id, confirm_booking_cancelled, _("Noted: the booking is cancelled."))


@bp.post("/patients/<int:patient_id>/end")
def end(patient_id: int):
    """End surveillance with a reason (R1)."""
    f = request.form
    return _act(
        patient_id,
        "status",
        None,
        lambda ctx: (
            end_surveillance(
                db(),
                ctx,
                patient_id,
                status=f.get("status"),
                reason=f.get("reason"),
                expected_version=_version(),
            )
            if _confirmed()
            else None
        ),
        _("Surveillance ended; open exams are cancelled."),
    )


def _confirmed() -> bool:
    """The box that says the open exams will be cancelled is ticked; else a refusal."""
    if request.form.get("confirm") != "yes":
        raise InputError(
            "confirm",
            request.form.get("confirm", "no"),
            "is not ticked: tick it to confirm that the open exams are cancelled",
        )
    return True


@bp.post("/patients/<int:patient_id>/resume")
def resume(patient_id: int):
    """Resume surveillance."""
    return _on_patient(
        patient_id, "status", resume_surveillance, _("Surveillance resumed."), "reason"
    )


@bp.post("/patients/<int:patient_id>/mdt")
def mdt(patient_id: int):
    """Clear the MDT flag with the decision."""
    return _on_patient(
        patient_id, "mdt", record_mdt_decision, _("MDT decision recorded."), "decision", "note"
    )


def _control_patient(control_id: int) -> int:
    control = db().get(PrimaryControl, control_id)
    if control is None:
        abort(404)
    return _own_patient(control.patient_id)


def _decision_patient(decision_id: int) -> int:
    decision = db().get(MdtDecision, decision_id)
    if decision is None:
        abort(404)
    return _own_patient(decision.patient_id)


def _results_form() -> dict[str, str]:
    """The results typed for a primary control: fields named result-<code>."""
    f = request.form
    return {k.removeprefix("result-"): v for k, v in f.items() if k.startswith("result-") and v}


@bp.post("/primary-controls/<int:control_id>/result")
def control_result(control_id: int):
    """A planned primary control took place: its results (R8 v2)."""
    return _on_control(control_id, record_control_results, {"results": _results_form()})


@bp.post("/primary-controls/<int:control_id>/correct")
def control_correct(control_id: int):
    """Correct a primary control's date (R12)."""
    return _on_control(control_id, correct_primary_control, _form("date", "reason"))


@bp.post("/primary-controls/<int:control_id>/delete")
def control_delete(control_id: int):
    """Delete a primary control entered by mistake (R12)."""
    return _on_control(control_id, delete_primary_control, _form("reason"))


@bp.post("/exams/<int:exam_id>/correct")
def exam_correct(exam_id: int):
    """Correct a recorded result (R12)."""
    fields = ("done_date", "result", "value", "reason")
    return _on_exam(exam_id, correct_result, _("Result corrected."), *fields)


@bp.post("/exams/<int:exam_id>/withdraw")
def exam_withdraw(exam_id: int):
    """Withdraw a result, a missed mark, a cancellation or a booking (R12)."""
    fact = request.form.get("fact", "")
    if fact not in WITHDRAWALS:
        abort(400)
    return _on_exam(exam_id, partial(withdraw, fact=fact), _("Withdrawn."), "reason")


@bp.post("/patients/<int:patient_id>/decisions")
def decide(patient_id: int):
    """Record an MDT decision (R13)."""
    f = request.form
    verb = partial(
        record_decision,
        date=f.get("date") or None,
        exam=f.get("exam") or None,
        due=f.get("due") or None,
    )
    return _on_patient(
        patient_id, "decision", verb, _("MDT decision recorded."), "decision", "note"
    )


@bp.post("/decisions/<int:decision_id>/withdraw")
def decision_withdraw(decision_id: int):
    """Withdraw a decision recorded by mistake (R12)."""
    patient_id = _decision_patient(decision_id)
    message, fields = _("Decision withdrawn."), _form("reason")
    return _do(patient_id, "decision", decision_id, withdraw_decision, decision_id, message, fields)


@bp.post("/patients/<int:patient_id>/measurements")
def measure(patient_id: int):
    """A CEA measured outside any control (R9)."""
    return _on_patient(
        patient_id, "measurement", record_measurement, _("Measurement saved."), "date", "value"
    )


@bp.post("/patients/<int:patient_id>/contact")
def contact(patient_id: int):
    """Change the patient's telephone and GP (audited, old and new)."""
    return _on_patient(
        patient_id, "contact", update_contact, _("Telephone and GP saved."), "phone", "gp"
    )


@bp.post("/patients/<int:patient_id>/notes")
def note(patient_id: int):
    """Add a note."""
    return _act(
        patient_id,
        "note",
        None,
        lambda ctx: add_note(db(), ctx, patient_id, text=request.form.get("text")),
        _("Note saved."),
    )


# The new-patient form's fields: a refusal naming one is shown beside it.
NEW_PATIENT_FIELDS = (
    "clinic",
    "national_id",
    "name",
    "phone",
    "gp",
    "treatment_date",
    "treatment_kind",
)
TREATMENT_FIELDS = {"date": "treatment_date", "kind": "treatment_kind"}  # the service's names


@bp.route("/patients/new", methods=["GET", "POST"])
def new():
    """Register a patient, maybe with the first liver treatment."""
    error, field, values = None, None, request.form.to_dict(flat=True)
    if request.method == "POST":
        try:
            patient = _register(values)
        except InputError as exc:
            error, field = describe(exc), exc.field.rpartition(": ")[2]
            field = TREATMENT_FIELDS.get(field, field)
        else:
            flash(_("Patient registered."), "info")
            return redirect(url_for("patients.show", patient_id=patient.id))
    return render_template(
        "patient_new.html",
        error=error,
        error_field=field if field in NEW_PATIENT_FIELDS else None,
        values=values,
        treatment_kinds=sorted(TREATMENT_KINDS),
    ), 400 if error else 200


def _register(values: dict):
    code = values.get("clinic") or (current_user.clinics[0].code if current_user.clinics else "")
    return register_patient(
        db(),
        service_context(),
        clinic_code=code,
        national_id=values.get("national_id", ""),
        name=values.get("name", ""),
        treatment_date=values.get("treatment_date") or None,
        treatment_kind=values.get("treatment_kind") or None,
        phone=values.get("phone"),
        gp=values.get("gp"),
    )
