"""The clinic's block series (pathway.yaml): follow-up window, blocks per series, series gap."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.knowledge.antithrombotics import Interval, read_interval
from cds_service.knowledge.base import KnowledgeError, Reader, Source, cited


@dataclass(frozen=True)
class Pathway:
    follow_up: Interval  # the follow-up window; a block before its end comes before the follow-up
    blocks_per_series: int  # review the response before another block after this many
    series_gap: Interval  # blocks further apart than this belong to different series
    source: Source | None


def load_pathway(reader: Reader) -> Pathway:
    series = reader.docs["pathway"]["series"]
    count = series.get("blocks_per_series")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise KnowledgeError("pathway: blocks_per_series must be a whole number >= 1")
    return Pathway(
        follow_up=read_interval(series.get("follow_up"), "pathway follow_up"),
        blocks_per_series=count,
        series_gap=read_interval(series.get("series_gap"), "pathway series_gap"),
        source=cited(reader.sources, series.get("source"), "pathway series"),
    )
