"""okr-sync: compute key-result progress from Jira and Notion and write it back.

The public API: :func:`okr_sync.config.load_config`, :class:`okr_sync.engine.Engine`
and :func:`okr_sync.engine.build_connectors`. Importing this package does no I/O.
"""

from __future__ import annotations

__version__ = "0.1.0"
