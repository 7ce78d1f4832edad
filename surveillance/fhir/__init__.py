"""Data out for machines: the read-only FHIR R4 API, its tokens, bulk export and import."""
