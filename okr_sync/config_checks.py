"""Cross-checks of a config: references between sections, KR ids against the OKRs.

:func:`cross_check` runs on the raw YAML while the file loads, so a reference
to an unknown or unsuitable connection is reported alongside every other
problem. :func:`check_kr_ids` and :func:`check_local_okrs` run on a loaded
config, once the OKR tree is known; :mod:`okr_sync.config` re-exports them.
Kept apart from the loader so each module stays small. The dependency goes one
way: this module needs :class:`~okr_sync.config.LoadedConfig` only for type
checking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from okr_sync import registry
from okr_sync.errors import ConfigError, Problem
from okr_sync.interfaces import ConnectorConfig
from okr_sync.models import OkrTree
from okr_sync.rollup import check_tree
from okr_sync.yamlpos import YamlDocument

if TYPE_CHECKING:
    from okr_sync.config import LoadedConfig


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


def check_kr_ids(loaded: LoadedConfig, tree: OkrTree) -> list[Problem]:
    """Rules and measures that name KRs the OKR source does not have."""
    known = {kr.id for kr in tree.key_results}
    hint_ids = ", ".join(sorted(known)[:8]) + (" …" if len(known) > 8 else "")
    problems = []
    for rule in loaded.config.mapping.rules:
        if rule.kr not in known:
            problems.append(
                Problem(
                    str(loaded.path),
                    rule.line,
                    f"mapping.rules[{rule.index}].kr",
                    f"unknown key result {rule.kr!r}",
                    f"known ids: {hint_ids}",
                )
            )
    for kr_id in loaded.config.measures:
        if kr_id != "default" and kr_id not in known:
            problems.append(
                loaded.doc.problem(
                    ("measures", kr_id), f"unknown key result {kr_id!r}", f"known ids: {hint_ids}"
                )
            )
    return problems


def check_local_okrs(loaded: LoadedConfig) -> OkrTree | None:
    """Read a local OKR source (a file: no network) and check it against the config.

    Commands run this before they touch anything, so a bad OKR file or a rule
    naming an unknown KR changes no file. Sources behind the network return
    None: the engine checks them at the start of each run.

    Raises:
        ConfigError: a problem in the OKR file, or a KR id the config names that it lacks.
        DataError: duplicate ids or a cycle of parents (sources without lines to point at).
    """
    config = loaded.connections[loaded.config.okrs]
    cls = registry.connector_class(config.type)
    if not getattr(cls, "offline", False):
        return None
    tree: OkrTree = cls(loaded.config.okrs, config, loaded.base_dir).pull_okrs()
    check_tree(tree, loaded.config.okrs)
    problems = check_kr_ids(loaded, tree)
    if problems:
        raise ConfigError(problems)
    return tree
