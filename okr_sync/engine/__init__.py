"""One run of okr-sync, from the connectors to the writes.

``engine`` builds the connectors, pulls, links, computes, plans and applies (``Engine``);
``pull`` pulls the item sources over their caches (requests, fingerprints, membership);
``apply`` is the write loop; ``report`` what a run logs (one line per cause, one summary);
``runner`` is a locked sync with its state store;
``preflight`` checks every connection before a first sync.
"""

from __future__ import annotations

from okr_sync.engine.engine import Engine, build_connectors

__all__ = ["Engine", "build_connectors"]
