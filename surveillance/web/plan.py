"""The plan on the patient page: each control a timeline item, each exam with its forms.

Written in Python, not as a Jinja macro, for the reason markup.py gives: a patient page has
a few dozen exams, each with up to five forms, and the macro's calls (a text, a link, a
field's value, for every line) were about 60 % of its rendering (issue 10). This writes
byte for byte what the macro wrote. Every value from the database or from a refused form
goes through escape(); the texts are the catalogue's, as the templates' `_()` gives them
(trusted, not escaped), translated once per catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date as Date
from weakref import WeakKeyDictionary

from markupsafe import Markup, escape

from .formats import day, number
from .i18n import request_translations
from .labels import label
from .markup import csrf, date, gettext, ngettext, options, row_url, row_url_parts
from .timeline import Control


def N_(message: str) -> str:
    """A text for the catalogue, translated where it is shown."""
    return message


# The texts of the plan's forms, by what they are: translated once for each page.
TEXTS = {
    "working_day": N_("working day"),
    "book_control": N_("Book the whole control"),
    "date": N_("Date"),
    "time": N_("Time"),
    "place": N_("Place"),
    "extra": N_("extra exam"),
    "contact_attempt_": N_("contact attempt"),
    "done": N_("done"),
    "planned": N_("planned"),
    "from_control": N_("result from that control"),
    "booking_cancelled": N_("Booking cancelled"),
    "correct_or_withdraw": N_("Correct or withdraw"),
    "done_on": N_("Done on"),
    "cea": N_("CEA (µg/L)"),
    "result": N_("Result"),
    "reason": N_("Reason"),
    "save_correction": N_("Save correction"),
    "withdraw_done": N_("Withdraw the result"),
    "withdraw_missed": N_("Withdraw the missed mark"),
    "withdraw_cancelled": N_("Withdraw the cancellation"),
    "withdraw_booked": N_("Withdraw the booking"),
    "actions": N_("Book, record result, or mark missed"),
    "save_booking": N_("Save booking"),
    "save_result": N_("Save result"),
    "contact_attempt": N_("Contact attempt"),
    "mark_missed": N_("Mark missed"),
    "why_cancel": N_("Why the exam will not be done"),
    "cancel": N_("Cancel exam"),
}
BOOKABLE = ("open", "booked", "missed")
# The fact each withdrawal form takes back (services/corrections.py), by the exam's state.
WITHDRAWN = {"done": "result", "missed": "missed", "cancelled": "cancellation", "booked": "booking"}


# The texts translated, by catalogue (one per language): made once, not once a page.
_TRANSLATED: WeakKeyDictionary = WeakKeyDictionary()


def translated_texts() -> dict[str, Markup]:
    """TEXTS in the reader's language."""
    catalogue = request_translations()
    found = _TRANSLATED.get(catalogue)
    if found is None:
        found = _TRANSLATED[catalogue] = {key: gettext(text) for key, text in TEXTS.items()}
    return found


def has_correction(e) -> bool:
    """A recorded fact of the exam's own that can be corrected or withdrawn."""
    return (
        (e.state == "done" and not e.result_from_control)
        or e.state in ("missed", "booked")
        or (e.state == "cancelled" and e.cancel_reason == "by_clinic")
    )


class PlanWriter:
    """Writes a patient's controls for one request: its texts, links and forms' states."""

    def __init__(self, patient_id: int, today: Date, exam_specs: Mapping, readings, form):
        self.patient_id, self.today = patient_id, today
        self.values = {code for code, spec in exam_specs.items() if spec.result == "value"}
        self.readings = readings
        self.form = form  # patients.FormState: what the refused form, if any, shows again
        self.csrf = csrf()
        self.t = translated_texts()
        self._options: dict[object, str] = {}
        self._labels: dict[str | None, str] = {}
        self._links: dict[str, tuple[str, str]] = {}

    def __call__(self, controls: Iterable[Control]) -> Markup:
        """The timeline items of these controls."""
        return Markup("".join([self._control(c) for c in controls]))

    def _control(self, control: Control) -> str:
        due, t = control.due, self.t
        working_day = ""
        if control.due_working_day != due:
            working_day = f"<br><small>{t['working_day']} {date(control.due_working_day)}</small>"
        classes = ("past" if control.past else "") + (" cancelled" if control.cancelled else "")
        exams = "".join([self._exam(e, due) for e in control.exams])
        return (
            f'\n<li class="{classes}" data-due="{due.isoformat()}">\n'
            f"  <span>{date(due)}{working_day}</span>\n"
            f"  <div>\n  \n  {self._control_booking(control)}\n"
            f"  {exams}\n  </div>\n</li>\n"
        )

    def _control_booking(self, control: Control) -> str:
        """One form that books every exam of the control still to be done, if more than one."""
        bookable = [e for e in control.exams if e.state in BOOKABLE]
        if len(bookable) <= 1:
            return ""
        first, form, t = bookable[0].id, self.form, self.t
        action = row_url("patients.book_control", patient_id=self.patient_id)
        exams = "".join(
            [f'<input type="hidden" name="exam" value="{e.id}:{e.version}">' for e in bookable]
        )
        when = escape(day(control.due))
        booked_day = (bookable[0].booked_date or control.due_working_day).isoformat()
        book = ngettext("Book %(num)d exam", "Book %(num)d exams", len(bookable))
        names = ", ".join([self._label(e.code) for e in bookable])
        return (
            f"\n  {form.error('control', first)}\n"
            f'  <details class="action control-booking" data-testid="control-book-{first}" '
            f"{escape(form.open_if('control', first))}><summary>{t['book_control']}"
            f'<span class="vh">: {when}</span></summary>\n'
            f'    <form method="post" action="{action}">{self.csrf}\n'
            f"      {exams}\n"
            f'      <label>{t["date"]} <input type="date" name="date"'
            f"{form.invalid('control', first, 'date')} "
            f'value="{escape(form.value("control", first, "date", booked_day))}" required></label>\n'
            f'      <label>{t["time"]} <input type="time" name="time"'
            f"{form.invalid('control', first, 'time')} "
            f'value="{escape(form.value("control", first, "time"))}"></label>\n'
            f'      <label>{t["place"]} <input name="place"'
            f"{form.invalid('control', first, 'place')} "
            f'value="{escape(form.value("control", first, "place"))}"></label>\n'
            f'      <button type="submit" class="primary">{book}: {names}'
            f'<span class="vh"> {when}</span></button>\n'
            f"    </form>\n  </details>\n  "
        )

    def _exam(self, e, due: Date) -> str:
        what = f'<span class="vh">: {self._label(e.code)} {escape(day(due))}</span>'
        correction = self._correction(e, what) if has_correction(e) else ""
        actions = self._actions(e, what) if e.state in BOOKABLE or e.result_from_control else ""
        return (
            f'\n    \n    <div class="exam" id="exam-{e.id}">\n'
            f"{self._facts(e, what)}"
            f"    </div>\n"
            f"    {self.form.error('exam', e.id)}\n"
            f"    {correction}\n"
            f"    {actions}\n  "
        )

    def _facts(self, e, what: str) -> str:
        """The exam's name, month and state, and what was recorded of it."""
        t, state = self.t, e.state
        month = gettext("month %(month)d", month=e.month) if e.month is not None else t["extra"]
        coordinated = self._coordination(e) if e.coordinated_date else ""
        to_cancel = self._booking_to_cancel(e, what) if e.booking_to_cancel else ""
        return (
            f"      <strong>{self._label(e.code)}</strong> <small>{month}</small>\n"
            f'      <span class="tag {escape(state)}">{self._label(state)}</span>\n'
            f"      {self._booked(e) if state == 'booked' else ''}\n"
            f"      {self._done(e) if state == 'done' else ''}\n"
            f"      {self._missed(e) if state == 'missed' else ''}\n"
            f"      {self._cancelled(e) if state == 'cancelled' else ''}\n"
            f"      {coordinated}\n"
            f"      {to_cancel}\n"
        )

    def _booked(self, e) -> str:
        time = f" {escape(e.booked_time.strftime('%H:%M'))}" if e.booked_time else ""
        place = f", {escape(e.booked_place)}" if e.booked_place else ""
        return f"{date(e.booked_date)}{time}{place}"

    def _done(self, e) -> str:
        result = f" · {self._label(e.result)}" if e.result else ""
        value = "" if e.result_value is None else f" · {escape(number(e.result_value))} µg/L"
        return f"{date(e.done_date)}{result}{value}"

    def _missed(self, e) -> str:
        attempt = ""
        if e.contact_attempt:
            attempt = f" · {self.t['contact_attempt_']}: {escape(e.contact_attempt)}"
        return f"{escape(e.missed_reason)}{attempt}"

    def _cancelled(self, e) -> str:
        note = f": {escape(e.cancel_note)}" if e.cancel_note else ""
        return f"{self._label(e.cancel_reason)}{note}"

    def _coordination(self, e) -> str:
        """The primary-tumour control the exam is done with (R8)."""
        t = self.t
        day_of = day(e.coordinated_date)
        with_control = gettext("coordinated with the primary-tumour control of %(day)s", day=day_of)
        partner = t["done"] if e.coordinated_done else t["planned"]
        from_control = f" · {t['from_control']}" if e.result_from_control else ""
        return f"<small>{with_control} ({partner}){from_control}</small>"

    def _booking_to_cancel(self, e, what: str) -> str:
        """A booking a re-plan cancelled: the nurse says when the appointment is cancelled."""
        action = self._url("patients.booking_cancelled", e.id)
        return (
            f'<span class="late">{self._label("booking_to_cancel")}</span>\n'
            f'        <form method="post" action="{action}" class="inline">{self.csrf}'
            f'<input type="hidden" name="version" value="{e.version}">'
            f'<button type="submit">{self.t["booking_cancelled"]}{what}</button></form>'
        )

    def _correction(self, e, what: str) -> str:
        """Correct a recorded result; withdraw a result, missed mark, cancellation or booking."""
        t, state = self.t, e.state
        opened = escape(self.form.open_if("exam", e.id)) if state in ("done", "cancelled") else ""
        correct = self._correct_result(e, what) if state == "done" else ""
        return (
            f'\n    <details class="action" data-testid="exam-correct-{e.id}" {opened}>'
            f"<summary>{t['correct_or_withdraw']}{what}</summary>\n"
            f"      {correct}\n"
            f"      {self._form_head('patients.exam_withdraw', e)}\n"
            f'        <input type="hidden" name="fact" value="{WITHDRAWN[state]}">\n'
            f'        <label>{t["reason"]} <input name="reason" required></label>\n'
            f'        <button type="submit">{t["withdraw_" + state]}{what}</button>\n'
            f"      </form>\n"
            f"    </details>\n    "
        )

    def _correct_result(self, e, what: str) -> str:
        """The form that corrects a recorded result: its day, value or reading, and why."""
        t, value, i = self.t, self.form.value, e.id
        if e.code in self.values:
            field = (
                f'<label>{t["cea"]} <input name="value" inputmode="decimal" '
                f'value="{escape(value("exam", i, "value", e.result_value))}" required></label>'
            )
        else:
            options = self._readings(value("exam", i, "result", e.result))
            field = f'<label>{t["result"]} <select name="result">{options}</select></label>'
        return (
            f"\n      {self._form_head('patients.exam_correct', e)}\n"
            f'        <label>{t["done_on"]} <input type="date" name="done_date" '
            f'value="{escape(value("exam", i, "done_date", e.done_date.isoformat()))}" '
            f"required></label>\n"
            f"        \n        {field}\n        \n"
            f'        <label>{t["reason"]} <input name="reason" '
            f'value="{escape(value("exam", i, "reason"))}" required></label>\n'
            f'        <button type="submit" class="primary">{t["save_correction"]}{what}</button>\n'
            f"      </form>\n      "
        )

    def _actions(self, e, what: str) -> str:
        """Book, record the result, mark missed or cancel an exam still to be done."""
        t, form, i = self.t, self.form, e.id
        missed = self._missed_form(e, what) if e.state != "missed" else ""
        return (
            f'\n    <details class="action" data-testid="exam-actions-{i}" '
            f"{escape(form.open_if('exam', i))}><summary>{t['actions']}{what}</summary>\n"
            f"{self._booking_form(e, what)}"
            f"{self._result_form(e, what)}"
            f"      {missed}\n"
            f"      {self._form_head('patients.cancel', e)}\n"
            f"        <label>{t['why_cancel']} {self._input(i, 'cancel_note')} required></label>\n"
            f'        <button type="submit">{t["cancel"]}{what}</button>\n'
            f"      </form>\n"
            f"    </details>\n    "
        )

    def _booking_form(self, e, what: str) -> str:
        t, i = self.t, e.id
        booked_day = (e.booked_date or e.due_working_day).isoformat()
        booked_time = e.booked_time.strftime("%H:%M") if e.booked_time else ""
        day_field = self._input(i, "date", booked_day, kind="date")
        time_field = self._input(i, "time", booked_time, kind="time")
        place_field = self._input(i, "place", e.booked_place or "")
        return (
            f"      {self._form_head('patients.book', e)}\n"
            f"        <label>{t['date']} {day_field} required></label>\n"
            f"        <label>{t['time']} {time_field}></label>\n"
            f"        <label>{t['place']} {place_field}></label>\n"
            f'        <button type="submit">{t["save_booking"]}{what}</button>\n'
            f"      </form>\n"
        )

    def _result_form(self, e, what: str) -> str:
        t, form, i = self.t, self.form, e.id
        if e.code in self.values:
            field = (
                f'<label>{t["cea"]} <input name="value"{form.invalid("exam", i, "value")} '
                f'inputmode="decimal" value="{escape(form.value("exam", i, "value"))}" '
                f"required></label>"
            )
        else:
            options = self._readings(form.value("exam", i, "result"))
            field = (
                f'<label>{t["result"]} <select name="result"{form.invalid("exam", i, "result")}>'
                f"{options}</select></label>"
            )
        done_field = self._input(i, "done_date", self.today.isoformat(), kind="date")
        return (
            f"      {self._form_head('patients.result', e)}\n"
            f"        <label>{t['done_on']} {done_field} required></label>\n"
            f"        \n        {field}\n        \n"
            f'        <button type="submit" class="primary">{t["save_result"]}{what}</button>\n'
            f"      </form>\n"
        )

    def _missed_form(self, e, what: str) -> str:
        t, i = self.t, e.id
        return (
            f"\n      {self._form_head('patients.missed', e)}\n"
            f"        <label>{t['reason']} {self._input(i, 'reason')} required></label>\n"
            f"        <label>{t['contact_attempt']} {self._input(i, 'contact_attempt')}></label>\n"
            f'        <button type="submit">{t["mark_missed"]}{what}</button>\n'
            f"      </form>\n      "
        )

    def _form_head(self, endpoint: str, e) -> str:
        """A form's opening tag on one exam, its CSRF token and the exam's version."""
        return (
            f'<form method="post" action="{self._url(endpoint, e.id)}">{self.csrf}'
            f'<input type="hidden" name="version" value="{e.version}">'
        )

    def _input(self, exam_id: int, name: str, default: str = "", kind: str = "") -> str:
        """An exam form's field, as typed if its form was refused, unclosed (`>` follows)."""
        form = self.form
        typed = f' type="{kind}"' if kind else ""
        return (
            f'<input{typed} name="{name}"{form.invalid("exam", exam_id, name)} '
            f'value="{escape(form.value("exam", exam_id, name, default))}"'
        )

    def _label(self, code: str | None) -> str:
        """A code's word (labels.label), escaped, looked up once a page."""
        found = self._labels.get(code)
        if found is None:
            found = self._labels[code] = escape(label(code))
        return found

    def _url(self, endpoint: str, exam_id: int) -> str:
        """The link of an action on one exam (markup.row_url)."""
        parts = self._links.get(endpoint)
        if parts is None:
            parts = self._links[endpoint] = row_url_parts(endpoint, "exam_id")
        return f"{parts[0]}{int(exam_id)}{parts[1]}"

    def _readings(self, chosen) -> str:
        """The options of a reading's select, `chosen` selected; made once per choice."""
        found = self._options.get(chosen)
        if found is None:
            found = self._options[chosen] = options(self.readings, chosen)
        return found
