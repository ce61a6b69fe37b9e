"""The HTTP layer: CDS Hooks endpoints, request and response schemas, errors."""
