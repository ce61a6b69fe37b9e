"""Spreading connections evenly over the server's workers.

Keep-alive connections stay with the worker that accepted them, so how a client's few
connections are spread decides how many cores serve it. Left to the kernel, they are not spread
evenly: on one listening socket shared by the workers, the worker already running takes every
connection of a burst (an EHR's 8 connections all landed on one worker about one run in
three), and with a socket per worker (`SO_REUSEPORT`) the kernel picks by a hash of the
addresses, so 4 connections land all on one worker one time in eight (that round, half the
throughput and twice the latency).

So the workers count their open connections in memory they share, made by the arbiter before
it forks them, and a worker takes a new connection only while it holds no more than any other
worker. A worker whose loop has not turned for `STALE_S` (stuck in a long computation, or
stopped) does not count: it can delay a new connection by at most that, never keep the others
from accepting.
"""

from __future__ import annotations

import multiprocessing
import os
import time

STALE_S = 1.0  # a worker that has not ticked for this long is left out
TICK_S = 0.1  # how often a worker says it is alive


class ConnectionBalance:
    """One slot per worker: its pid (0: free), its open connections, when it last ticked."""

    def __init__(self, workers: int) -> None:
        self._pids = multiprocessing.RawArray("q", workers)
        self._open = multiprocessing.RawArray("q", workers)
        self._ticks = multiprocessing.RawArray("d", workers)
        self._claim = multiprocessing.Lock()
        self.slot: int | None = None  # this process's, once joined

    def join(self, pid: int | None = None) -> bool:
        """Takes a free slot for this worker. False when none is free (more workers than
        slots): that worker then accepts whenever it can, as without a balance."""
        pid = pid or os.getpid()
        with self._claim:
            for slot, holder in enumerate(self._pids):
                if holder == 0:
                    self._pids[slot], self._open[slot] = pid, 0
                    self._ticks[slot] = time.monotonic()
                    self.slot = slot
                    return True
        self.slot = None
        return False

    def leave(self, pid: int | None = None) -> None:
        """Frees the slot of `pid`, by default this worker's: a worker that stops, or one the
        arbiter has reaped (its connections are gone)."""
        pid = pid or os.getpid()
        with self._claim:
            for slot, holder in enumerate(self._pids):
                if holder == pid:
                    self._pids[slot], self._open[slot] = 0, 0
        if pid == os.getpid():
            self.slot = None

    def tick(self) -> None:
        if self.slot is not None:
            self._ticks[self.slot] = time.monotonic()

    def opened(self) -> None:
        if self.slot is not None:
            self._open[self.slot] += 1

    def closed(self) -> None:
        if self.slot is not None:
            self._open[self.slot] -= 1

    def may_accept(self) -> bool:
        """Whether this worker holds no more open connections than any live worker."""
        if self.slot is None:
            return True
        mine = self._open[self.slot]
        now = time.monotonic()
        return not any(
            slot != self.slot and holder and now - self._ticks[slot] < STALE_S
            and self._open[slot] < mine
            for slot, holder in enumerate(self._pids)
        )
