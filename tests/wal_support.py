"""Reading a SQLite write-ahead log's header from outside, without touching its locks
(https://www.sqlite.org/fileformat.html, "WAL File Format")."""

from __future__ import annotations

import struct
from pathlib import Path

HEADER = 32  # bytes, before the first frame
FRAME_HEADER = 24


def _header(database: Path) -> tuple[int, int] | None:
    """(page size, checkpoint sequence number), or None before the log is first written."""
    data = (database.parent / f"{database.name}-wal").read_bytes()[:HEADER]
    if len(data) < HEADER:
        return None
    page_size, sequence = struct.unpack(">II", data[8:16])
    return page_size, sequence


def checkpoint_sequence(database: Path) -> int:
    """How many times the log has started again from its beginning after a checkpoint."""
    header = _header(database)
    return header[1] if header else 0


def log_pages(database: Path) -> int:
    """Pages the log file has room for: how far it grew before it last started again."""
    header = _header(database)
    if header is None:
        return 0
    size = (database.parent / f"{database.name}-wal").stat().st_size
    return (size - HEADER) // (FRAME_HEADER + header[0])
