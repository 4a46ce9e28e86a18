"""Connectors: one module per tool, the only code that speaks to the outside world.

Each connector class takes ``(name, config, base_dir)``, names its config model
in ``config_model`` and implements one or more of the Protocols in
:mod:`okr_sync.interfaces`. Built-in types are listed in :mod:`okr_sync.config.registry`.
"""
