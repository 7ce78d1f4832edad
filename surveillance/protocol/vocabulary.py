"""The stable codes of protocol.md: treatment kinds, and the default protocol's exam codes."""

# Liver treatments. Only some of them anchor a plan; which ones is the protocol's call.
TREATMENT_KINDS = frozenset(
    {
        "resection",
        "ablation",
        "resection_with_ablation",
        "pve",
        "biopsy",
        "sbrt",
        "lung_resection",
        "transplant",
    }
)

# The exam codes the shipped protocols plan (R16 makes them data: see each protocol's
# [exams]); kept for the parts that do not read the protocol yet.
PLAN_EXAMS = frozenset({"ct_tap", "cea", "ct_liver", "ct_liver_lungs"})

# Exams a primary-tumour control may report; the extra ones coordinate with nothing.
PRIMARY_EXAMS = PLAN_EXAMS | {"colonoscopy", "mri_pelvis", "mri_liver", "pet_ct"}

# Imaging is read as normal, equivocal or suspicious; CEA is a value in µg/L.
CT_EXAMS = frozenset({"ct_tap", "ct_liver", "ct_liver_lungs"})
CT_RESULTS = ("normal", "suspicious")
READINGS = ("normal", "equivocal", "suspicious")
