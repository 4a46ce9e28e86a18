"""The state store: what okr-sync remembers between runs.

``store`` is the store itself, ``queries`` its reads and writes of cursors, cached items
and last-written values, ``schema`` its tables and named migrations, ``lock`` the run lock.
"""

from __future__ import annotations

from okr_sync.state.store import CacheUpdate, CursorState, StateStore

__all__ = ["CacheUpdate", "CursorState", "StateStore"]
