"""The garbage collector, set for serving.

Once the app is built and warmed, everything loaded lives as long as the process: `gc.freeze`
puts it out of the collector's sight, so a full collection no longer walks it (pauses of
100 ms and more under load), and the workers' pages stay shared with the arbiter's.

The collector starts a young collection after 700 more container objects (dicts, lists) than
were freed. A typical call leaves about 17 behind, but a heavy patient's body alone parses
into some 24,000 (3,000 resources, 2.2 MB), all alive until the answer: at 700, each such call
ran some 58 young collections, 5 middle ones and every other call a full one, each walking the
parsed body again, a fifth of the call's time. A threshold of 50,000 lets a call's own
objects come and go by reference counting, as nearly all of them do, and still collects
cyclic garbage (a few megabytes at most) well before it matters.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # net new container objects before a young collection


def settle_for_serving() -> None:
    """Collects once, freezes what survives and raises the young threshold. Called once the
    app is warm, before the workers fork: they inherit all three."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
