"""The config file: what okr-sync is told to do.

``loading`` parses and validates it (errors name the file, line and field); ``checks``
cross-checks its parts; ``secrets`` says where secrets may come from; ``registry`` maps
each ``type:`` to the connector class that serves it.
"""

from __future__ import annotations

from okr_sync.config.loading import LoadedConfig, load_config

__all__ = ["LoadedConfig", "load_config"]
