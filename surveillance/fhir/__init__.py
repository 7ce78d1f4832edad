"""Data out for machines: the read-only FHIR API (R4B, 4.3.0: see README), tokens, export, import."""
