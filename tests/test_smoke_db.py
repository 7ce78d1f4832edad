from surveillance.services import record_treatment, worklist


def test_resection_plans_sixteen_exams(session, ctx, create_patient):
    patient = create_patient()
    changes = record_treatment(session, ctx, patient.id, date="2025-01-15", kind="resection")
    assert len(changes.create) == 16
    assert worklist(session, ctx, [patient.clinic_id]).counts["overdue"] == 2  # due 2025-07-15 and 2026-01-15
