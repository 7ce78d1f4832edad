"""One module per FHIR resource: a row of data in, a validated fhir.resources model out."""
