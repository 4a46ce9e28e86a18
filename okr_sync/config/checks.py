"""Cross-checks of a config while it loads: references between its sections.

:func:`cross_check` runs on the raw YAML while the file loads, so a reference
to an unknown or unsuitable connection is reported alongside every other
problem. The checks of a loaded config against its OKR tree are in
:mod:`okr_sync.config.okr_checks`.
"""

from __future__ import annotations

from typing import Any

from okr_sync.config import registry
from okr_sync.errors import Problem
from okr_sync.interfaces import ConnectorConfig
from okr_sync.yamlpos import YamlDocument


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def cross_check(doc: YamlDocument, conns: dict[str, ConnectorConfig]) -> list[Problem]:
    """References between sections, checked on the raw data.

    Working on the raw data reports them even when other parts of the file are invalid.
    """
    data = doc.data
    defined = _as_dict(data.get("connections"))
    problems: list[Problem] = []

    def need(name: Any, role: str, path: tuple[str | int, ...]) -> Any:
        if not isinstance(name, str):
            return None  # a type error, reported by the model
        if name not in defined:
            known = ", ".join(map(str, defined)) or "none"
            problems.append(
                doc.problem(path, f"no connection named {name!r}", f"defined connections: {known}")
            )
            return None
        if name not in conns:
            return None  # the connection itself is invalid: already reported
        cls = registry.connector_class(conns[name].type)
        if role not in registry.roles(cls):
            problems.append(
                doc.problem(
                    path, f"connection {name!r} ({conns[name].type}) cannot be used as {role}"
                )
            )
            return None
        return cls

    need(data.get("okrs"), "okrs", ("okrs",))
    items = _as_list(data.get("items"))
    for i, name in enumerate(items):
        need(name, "items", ("items", i))
    sections = (("key_result", "key_results"), ("objective", "objectives"), ("item", "items"))
    for name, spec in _as_dict(data.get("write")).items():
        cls = need(name, "target", ("write", name))
        if cls is None:
            continue
        for kind, section in sections:
            named = _as_list(_as_dict(spec).get(section))
            # A connector may refuse a combination of fields (Jira: forecast without property).
            refusal = getattr(cls, "write_problem", None)
            problem = (
                refusal(section, [f for f in named if isinstance(f, str)]) if refusal else None
            )
            if problem:
                problems.append(doc.problem(("write", name, section), problem))
            allowed = cls.writable_fields.get(kind, frozenset())
            for i, field in enumerate(_as_list(_as_dict(spec).get(section))):
                if isinstance(field, str) and field not in allowed:
                    hint = (
                        f"writable: {', '.join(sorted(allowed))}"
                        if allowed
                        else f"{name} has no {section}"
                    )
                    problems.append(
                        doc.problem(
                            ("write", name, section, i), f"{field!r} cannot be written", hint
                        )
                    )
    for index, rule in enumerate(_as_list(_as_dict(data.get("mapping")).get("rules"))):
        rule = _as_dict(rule)
        path = ("mapping", "rules", index)
        if rule.get("source") is None:
            continue
        cls = need(rule["source"], "items", (*path, "source"))
        if cls is not None and rule["source"] not in items:
            problems.append(
                doc.problem((*path, "source"), f"{rule['source']!r} is not listed under 'items'")
            )
        checker = getattr(cls, "query_problem", None)
        if rule.get("query") is not None and checker is not None:
            problem = checker(rule["query"])
            if problem:
                problems.append(doc.problem((*path, "query"), problem))
    return problems
