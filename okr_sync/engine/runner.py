"""One sync under the run lock: what ``okr-sync sync`` and each tick of ``okr-sync schedule`` do."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from okr_sync.config.loading import LoadedConfig
from okr_sync.engine.engine import Engine, build_connectors
from okr_sync.models import RunSummary
from okr_sync.state.location import state_location

log = logging.getLogger(__name__)


def run_sync(
    loaded: LoadedConfig,
    *,
    now: Callable[[], dt.datetime],
    accept_empty: Iterable[str] = (),
    on_write: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    connectors: Mapping[str, Any] | None = None,
    full: bool = False,
    reopen: Iterable[str] = (),
) -> RunSummary:
    """Take the run lock, open the state store and run one sync that writes.

    ``connectors`` defaults to those the config builds; ``should_stop`` is
    passed to :meth:`Engine.run` (asked before each write); ``full`` pulls every
    source in full, whatever its cache; ``reopen`` names KRs computed and written
    although their period has ended.

    Raises:
        LockHeld: another run holds the lock of this state store.
        StateError: the state store cannot be opened or migrated.
        ConfigError: the OKR source does not know a KR the config names.
    """
    location = state_location(loaded.config.state, loaded.base_dir)
    with location.run_lock() as lock:
        if lock.recovered_from:
            log.warning(
                "recovered the lock left by pid %s (started %s), which did not finish",
                lock.recovered_from.get("pid"),
                lock.recovered_from.get("since"),
            )
        state = location.open()
        try:
            engine = Engine(
                loaded,
                build_connectors(loaded) if connectors is None else connectors,
                state,
                now=now,
                accept_empty=frozenset(accept_empty),
                full=full,
                reopen=frozenset(reopen),
            )
            return engine.run(apply=True, on_write=on_write, should_stop=should_stop)
        finally:
            state.close()
