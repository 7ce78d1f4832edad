"""The benchmark's world: a clinic on a fixed day and synthetic patients from a seed."""

from __future__ import annotations

import random
from datetime import date, timedelta

from surveillance.identity import make_synthetic_id
from surveillance.protocol import History, Treatment, add_months, load_protocol
from surveillance.protocol import PrimaryControl as PrimaryControlValue
from surveillance.services import Actor, Context
from surveillance.services.bulk import NewPatient

TODAY = date(2026, 6, 1)  # fixed, so that a seed always gives the same worklist
CTX = Context(Actor("bench"), TODAY, accept_synthetic_ids=True)
CLINIC = "BENCH"
SPAN_DAYS = 2009  # anchors over the last 5.5 years: some plans are over, some just begun
KINDS = ("resection",) * 6 + ("ablation",) * 3 + ("resection_with_ablation",)
EARLIER_KINDS = ("pve", "biopsy", "resection", "ablation")
FIRST_NAMES = ("Kari", "Ola", "Ingrid", "Per", "Astrid", "Knut", "Solveig", "Bjørn", "Liv", "Arne")
LAST_NAMES = ("Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Berg", "Haugen", "Dahl")


def synthetic_patients(count: int, seed: int) -> list[NewPatient]:
    """`count` patients from a fixed seed, their past exams mostly done."""
    rng = random.Random(seed)
    numbers = _national_ids(rng, count)
    return [_patient(rng, number) for number in numbers]


def _national_ids(rng: random.Random, count: int) -> list[str]:
    numbers: dict[str, None] = {}
    while len(numbers) < count:
        birth = date(rng.randint(1935, 1975), rng.randint(1, 12), rng.randint(1, 28))
        if number := make_synthetic_id(birth, rng.randint(0, 499)):
            numbers[number] = None
    return list(numbers)


def _patient(rng: random.Random, number: str) -> NewPatient:
    kind = rng.choice(KINDS)
    anchor = TODAY - timedelta(days=rng.randint(0, SPAN_DAYS))
    treatments = ((anchor, kind),)
    if rng.random() < 0.1:  # an earlier treatment, which the plan must ignore
        before = anchor - timedelta(days=rng.randint(20, 400))
        treatments = ((before, rng.choice(EARLIER_KINDS)),) + treatments
    controls = _primary_controls(rng, anchor, kind) if rng.random() < 0.15 else ()
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    return NewPatient(number, name, treatments, controls, _done_before(rng))


def _primary_controls(rng: random.Random, anchor: date, kind: str):
    """One or two controls of the primary tumour near past due dates (R8 coordination)."""
    months = [m for m, _ in load_protocol().schedules[kind] if add_months(anchor, m) <= TODAY]
    picked = sorted(rng.sample(months, min(len(months), rng.randint(1, 2))))
    exams = (("ct_tap", "cea", "colonoscopy"), ("colonoscopy",), ("cea",), ("mri_pelvis", "cea"))
    return tuple(
        (
            min(add_months(anchor, m) + timedelta(days=rng.randint(-20, 20)), TODAY),
            rng.choice(exams),
        )
        for m in picked
    )


def _done_before(rng: random.Random) -> date | None:
    """Most patients are up to date; some are late; a few have nothing recorded."""
    draw = rng.random()
    if draw < 0.88:
        return TODAY - timedelta(days=rng.randint(0, 30))
    if draw < 0.97:
        return TODAY - timedelta(days=rng.randint(31, 200))
    if draw < 0.99:
        return TODAY - timedelta(days=rng.randint(200, 700))
    return None


def histories(patients: list[NewPatient]) -> list[History]:
    """The protocol engine's view of each patient, as load_patients builds it."""
    return [
        History(
            tuple(Treatment(day, kind, i) for i, (day, kind) in enumerate(p.treatments)),
            tuple(
                PrimaryControlValue(day, frozenset(codes), i)
                for i, (day, codes) in enumerate(p.primary_controls)
            ),
        )
        for p in patients
    ]
