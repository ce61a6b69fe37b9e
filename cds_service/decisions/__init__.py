"""Decisions: which cards the facts call for. No wording here: that lives in `cards/`."""

from cds_service.decisions.model import CardDecision

__all__ = ["CardDecision"]
