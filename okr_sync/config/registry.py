"""Which connector class serves which ``type:`` in the config.

Built-in connectors are imported lazily (a Jira-less config never imports the
``jira`` package). Third-party connectors register in the entry-point group
``okr_sync.connectors`` as ``type = "module:Class"``.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import Any

BUILTIN: dict[str, str] = {
    "memory": "connectors.memory:MemoryConnector",
    "yaml_okrs": "connectors.files:YamlOkrSource",
    "json_items": "connectors.files:JsonItemSource",
    "json_report": "connectors.files:JsonReportTarget",
    "jira": "connectors.jira.connector:JiraConnector",
    "notion": "connectors.notion.connector:NotionConnector",
}

ROLE_METHODS = {"okrs": "pull_okrs", "items": "pull_items", "target": "write_record"}


@cache
def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="okr_sync.connectors")}


def known_types() -> list[str]:
    """Every connector type name, built-in and plugged in."""
    return sorted({**_plugins(), **BUILTIN})


@cache
def connector_class(type_name: str) -> Any:
    """The connector class for a type name.

    Raises:
        KeyError: unknown type (the message lists the known ones).
    """
    target = BUILTIN.get(type_name) or _plugins().get(type_name)
    if target is None:
        raise KeyError(f"unknown connection type {type_name!r}; known: {', '.join(known_types())}")
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def roles(cls: Any) -> set[str]:
    """What a connector class can be used as: ``okrs``, ``items``, ``target``."""
    return {role for role, method in ROLE_METHODS.items() if callable(getattr(cls, method, None))}
