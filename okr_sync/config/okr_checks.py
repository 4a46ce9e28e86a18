"""Checks of a loaded config against its OKR tree: KR ids, and a local OKR file.

They run once the OKR tree is known: at the start of each run for sources behind
the network, and before a command touches anything for a local OKR file.
"""

from __future__ import annotations

from okr_sync.config import registry
from okr_sync.config.loading import LoadedConfig
from okr_sync.core.rollup import check_tree
from okr_sync.errors import ConfigError, Problem
from okr_sync.models import OkrTree


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
