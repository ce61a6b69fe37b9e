"""The side the block is ordered on against the side of the indications on record: a
wrong-site check from data already read. Bilateral covers either side; a side not stated, on
the order or on any indication, says nothing."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.facts.model import IndicationFact, OrderFact

BOTH = frozenset({"left", "right"})


def _sides(laterality: str | None) -> frozenset[str]:
    return BOTH if laterality == "bilateral" else frozenset({laterality} if laterality else ())


@dataclass(frozen=True)
class WrongSide:
    order: OrderFact
    uncovered: str  # the side ordered that no indication is on: left, right or bilateral
    indications: list[IndicationFact]


def wrong_sides(orders: list[OrderFact], indications: list[IndicationFact]) -> list[WrongSide]:
    """Each order whose side no indication covers, when every indication states its side."""
    if not indications or any(f.laterality is None for f in indications):
        return []
    covered = frozenset().union(*(_sides(f.laterality) for f in indications))
    found = []
    for order in orders:
        missing = _sides(order.laterality) - covered
        if missing:
            side = "bilateral" if missing == BOTH else next(iter(missing))
            found.append(WrongSide(order, side, indications))
    return found
