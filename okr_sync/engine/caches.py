"""What connectors keep between runs (:class:`~okr_sync.interfaces.CachingConnector`).

Kept in the state store's ``cursors`` table under ``<connection>#cache``, committed
with the run's cursors (so a run that fails or dies keeps the previous one), and
handed back only while the connection's config and okr-sync's version are those
that saved it: anything else restores nothing, and the connector reads afresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from okr_sync import __version__
from okr_sync.config.loading import LoadedConfig
from okr_sync.core.evaluate import fingerprint as make_fingerprint
from okr_sync.interfaces import CachingConnector
from okr_sync.state.store import CursorState, StateStore

SUFFIX = "#cache"


def _fingerprint(loaded: LoadedConfig, name: str) -> str:
    connection = loaded.connections.get(name)
    return make_fingerprint(
        {
            "connection": connection.model_dump(mode="json") if connection else None,
            "version": __version__,
        }
    )


def restore(loaded: LoadedConfig, connectors: Mapping[str, Any], state: StateStore) -> None:
    """Hand each caching connector what the last recorded run saved for it."""
    for name, connector in connectors.items():
        if isinstance(connector, CachingConnector):
            saved = state.cursor(name + SUFFIX)
            usable = saved is not None and saved.fingerprint == _fingerprint(loaded, name)
            connector.restore(saved.cursor if usable and saved else None)


def to_save(loaded: LoadedConfig, connectors: Mapping[str, Any]) -> dict[str, CursorState]:
    """The caches to commit with the run, as cursor rows."""
    out: dict[str, CursorState] = {}
    for name, connector in connectors.items():
        if isinstance(connector, CachingConnector):
            text = connector.to_save()
            if text is not None:
                out[name + SUFFIX] = CursorState(
                    cursor=text, fingerprint=_fingerprint(loaded, name), full_at=None
                )
    return out
