"""Python's cyclic garbage collector, paused while a run pulls, links and computes.

A run holds every pulled item (half a million at the largest sizes the
benchmarks use) and, while it pulls, links and computes, allocates millions of
small objects: items, links, counted items, results. Hardly any form reference
cycles, yet the collector runs on allocation counts, and every full collection
walks all the items pulled so far again: 35-40 % of link + compute at 500,000
items went there (``benchmarks/bench_link_compute.py``). ``Engine.compute``
runs paused; what it leaves behind is freed by reference counting as usual.

The pause is the engine's business, not the pure core's: it is process state
(global, shared with whatever else runs in the process), and only the caller
that owns the run knows when a burst starts and ends. The core stays free of it
and gives the same results either way.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block; re-enabled however the block ends.

    Memory is still freed as usual by reference counting; only cycles wait for the
    collector, which runs again (as usual) after the block. If the collector was
    already disabled (by an embedding application), it is left disabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _to_oldest_generation()
            gc.enable()


def _to_oldest_generation() -> None:
    """Hand the objects made during the pause straight to the oldest generation.

    Switched back on, the collector would first walk every one of them (the
    results, the counted items, and in a run every pulled item) as young
    objects, then again as middle-aged ones, before they reach the oldest
    generation, where they would end anyway: they live until the run ends.
    ``gc.freeze()`` + ``gc.unfreeze()`` moves every tracked object there at once,
    without walking them; no collection is added (cyclic garbage among them waits for
    the next full collection). Skipped if the application keeps frozen objects of its
    own, which ``unfreeze`` would thaw.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
