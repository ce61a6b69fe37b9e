"""The fetch path: the service queries a real FHIR server (tests/fhir_server) when prefetch is
missing, partial or an OperationOutcome."""
