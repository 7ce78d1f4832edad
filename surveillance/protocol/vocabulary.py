"""The stable codes of protocol.md: treatment kinds, exam codes and result values."""

# Liver treatments. Only some of them anchor a plan; which ones is the protocol's call.
TREATMENT_KINDS = frozenset(
    {"resection", "ablation", "resection_with_ablation", "pve", "biopsy", "sbrt", "transplant"}
)

# Exams a protocol may plan.
PLAN_EXAMS = frozenset({"ct_tap", "cea", "ct_liver"})

# Exams a primary-tumour control may report; the extra ones coordinate with nothing.
PRIMARY_EXAMS = PLAN_EXAMS | {"colonoscopy", "mri_pelvis", "mri_liver", "pet_ct"}

# Imaging is read as normal or suspicious; CEA is a value in µg/L.
CT_EXAMS = frozenset({"ct_tap", "ct_liver"})
CT_RESULTS = ("normal", "suspicious")
