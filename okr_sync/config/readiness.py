"""What makes a valid config not ready yet: warnings for ``validate`` and ``check``.

A config can be valid and still not do what its author wants:

- values still holding the ``CHANGE-ME`` placeholder ``okr-sync init`` writes
  where only the user knows the value (in the config, and in a local OKR file);
- a ``remote_link`` to write while key results have no URL: the link points at
  the KR's page, so a KR without one silently gets no link;
- a key result whose own period lies outside its objective's (or the cycle's):
  it is counted in its objective's roll-up, so it is said, never silent.

Neither stops a run, so they are warnings, each naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from okr_sync.config import registry
from okr_sync.config.loading import LoadedConfig
from okr_sync.core.periods import period_problems
from okr_sync.errors import Problem
from okr_sync.models import OkrTree
from okr_sync.yamlpos import Path_, YamlDocument, dotted, load_yaml

#: The placeholder ``okr-sync init`` writes where only the user knows the value.
PLACEHOLDER = "CHANGE-ME"
#: Item fields that link to a key result's page, so need the KR's URL.
URL_FIELDS = ("remote_link",)


def _holding(data: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _holding(value, (*path, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _holding(value, (*path, index))
    elif isinstance(data, str) and PLACEHOLDER in data:
        yield path


def _in_document(doc: YamlDocument) -> list[Problem]:
    return [
        doc.problem(
            path,
            f"still holds the {PLACEHOLDER} placeholder",
            "put your own value there (see the comment next to it)",
        )
        for path in _holding(doc.data)
    ]


def _local_okr_file(loaded: LoadedConfig) -> Path | None:
    """The file of a local OKR source (one read without network), if it has one."""
    config = loaded.connections.get(loaded.config.okrs)
    if config is None or not getattr(registry.connector_class(config.type), "offline", False):
        return None
    path = getattr(config, "path", None)
    if not isinstance(path, str | Path):
        return None
    full = Path(path).expanduser()
    return full if full.is_absolute() else loaded.base_dir / full


def placeholders(loaded: LoadedConfig) -> list[Problem]:
    """Values still holding ``CHANGE-ME``: in the config, then in a local OKR file."""
    found = _in_document(loaded.doc)
    okr_file = _local_okr_file(loaded)
    if okr_file is not None and okr_file.suffix in (".yaml", ".yml"):
        try:
            doc, _ = load_yaml(okr_file.read_bytes(), str(okr_file))
        except OSError:  # reported by the OKR source's own checks
            doc = None
        if doc is not None:
            found += _in_document(doc)
    return found


def urls_missing(loaded: LoadedConfig, tree: OkrTree) -> list[Problem]:
    """A target asked to write a link to each KR's page while KRs have no URL."""
    missing = [kr.id for kr in tree.key_results if not kr.url]
    if not missing:
        return []
    shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
    source = loaded.config.okrs
    if len(missing) == len(tree.key_results):
        why = f"no key result in '{source}' has a URL, so none is written"
    else:
        why = (
            f"{len(missing)} of the {len(tree.key_results)} key results in '{source}' "
            f"have no URL and get none: {shown}"
        )
    return [
        loaded.doc.problem(
            ("write", target, "items", index),
            f"{field} links each key result's page, but {why}",
            f"give the key results a url in '{source}', "
            f"or drop {field} from {dotted(('write', target, 'items'))}",
        )
        for target, spec in loaded.config.write.items()
        for index, field in enumerate(spec.items)
        if field in URL_FIELDS
    ]


def periods_outside(loaded: LoadedConfig, tree: OkrTree) -> list[Problem]:
    """Key results whose own period lies outside their objective's (or the cycle's).

    Each names the KR and both periods; in a local YAML OKR file, with the KR's line.
    """
    cycle = (loaded.config.cycle.start, loaded.config.cycle.end) if loaded.config.cycle else (
        None, None)  # fmt: skip
    found = period_problems(tree, cycle)
    if not found:
        return []
    okr_file = _local_okr_file(loaded)
    doc = None
    if okr_file is not None and okr_file.suffix in (".yaml", ".yml"):
        try:
            doc, _ = load_yaml(okr_file.read_bytes(), str(okr_file))
        except OSError:  # reported by the OKR source's own checks
            doc = None
    index = {kr.id: i for i, kr in enumerate(tree.key_results)}
    hint = (
        "move the key result's dates inside, or give it to an objective whose period holds it; "
        "until then it counts in this objective's roll-up as it stands"
    )
    out = []
    for problem in found:
        if doc is not None:
            out.append(doc.problem(("key_results", index[problem.kr_id]), str(problem), hint))
        else:
            out.append(Problem(loaded.config.okrs, None, problem.kr_id, str(problem), hint))
    return out
