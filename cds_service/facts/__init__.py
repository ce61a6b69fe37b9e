"""Facts: what the record says that the decisions need, each with the record it came from."""

from cds_service.facts.extract import extract_facts
from cds_service.facts.model import Facts

__all__ = ["Facts", "extract_facts"]
