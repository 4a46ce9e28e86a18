"""``okr-sync check`` for the local file connections: the files exist and parse, the report can be written.

Each check reads the file the way a run does (the same loader), so a file that
passes here is one a sync can use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from okr_sync.errors import ConfigError, SourceError
from okr_sync.interfaces import CheckLevel, CheckResult
from okr_sync.models import OkrTree, WorkItem

_MAX_PROBLEMS = 20


def _result(connection: str, level: CheckLevel, subject: str, message: str, hint: str = "",
            missing: tuple[str, ...] = ()) -> CheckResult:  # fmt: skip
    return CheckResult(connection=connection, subject=subject, level=level, message=message,
                       hint=hint, missing_keys=missing)  # fmt: skip


def _text(exc: SourceError) -> str:
    return str(exc).removeprefix(f"{exc.source}: ")


def check_okr_file(name: str, path: Path, pull: Callable[[], OkrTree]) -> list[CheckResult]:
    """The OKR file reads, with every problem located."""
    try:
        tree = pull()
    except ConfigError as exc:
        out = []
        for p in exc.problems[:_MAX_PROBLEMS]:
            where = Path(p.file).name + (f":{p.line}" if p.line else "")
            message = f"{p.field}: {p.message}" if p.field else p.message
            out.append(_result(name, "fail", where, message, p.hint or f"fix {path.name}"))
        return out
    return [
        _result(
            name,
            "ok",
            path.name,
            f"{len(tree.objectives)} objectives, {len(tree.key_results)} key results",
        )
    ]


def check_items_file(name: str, path: Path, load: Callable[[], list[WorkItem]],
                     keys: Mapping[str, Iterable[str]]) -> list[CheckResult]:  # fmt: skip
    """The items file reads, and holds every key linked to a KR."""
    try:
        items = load()
    except SourceError as exc:
        hint = (
            f"check 'path' of the {name!r} connection"
            if not path.exists()
            else f"fix {path.name}: it must be {{\"items\": [...]}} with a 'key' on every item"
        )
        return [_result(name, "fail", path.name, _text(exc), hint)]
    out = [_result(name, "ok", path.name, f"{len(items)} items")]
    present = {i.key for i in items}
    for key in sorted(set(keys) - present):
        out.append(
            _result(
                name,
                "fail",
                f"item {key}",
                f"not in {path.name} (linked to {'; '.join(keys[key])})",
                "check the key in the config and in the file",
                (key,),
            )
        )
    return out


def _nearest_existing(path: Path) -> Path:
    for folder in path.parents:
        if folder.exists():
            return folder
    return Path(path.anchor or ".")


def check_report_file(
    name: str, path: Path, load: Callable[[], dict[str, Any]]
) -> list[CheckResult]:
    """The report file parses if it exists, and its folder can receive the atomic replacement."""
    if path.is_dir():
        return [_result(name, "fail", path.name, f"{path} is a folder",
                        f"set 'path' of the {name!r} connection to a file name")]  # fmt: skip
    if path.exists():
        try:
            load()
        except SourceError as exc:
            return [_result(name, "fail", path.name, _text(exc),
                            "fix it, or delete it: the next sync writes it anew")]  # fmt: skip
    # The file is replaced atomically (a temporary file next to it, then a rename),
    # so it is the folder that must be writable, not the file.
    folder = path.parent if path.parent.exists() else _nearest_existing(path)
    if not folder.is_dir():
        return [_result(name, "fail", path.name, f"{folder} is not a folder",
                        f"set 'path' of the {name!r} connection to a file in a folder")]  # fmt: skip
    if not os.access(folder, os.W_OK | os.X_OK):
        return [_result(name, "fail", path.name, f"cannot write in {folder}",
                        "make the folder writable for this user, or choose another path")]  # fmt: skip
    state = "exists and can be rewritten" if path.exists() else "will be created on the first sync"
    return [_result(name, "ok", path.name, f"{path} {state}")]
