"""Data access: the patient's FHIR resources, from prefetch or from the EHR's FHIR server."""
