"""YAML loading that remembers the line of every key, so errors can name it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml

from okr_sync.errors import Problem

Path_ = tuple[str | int, ...]


class YamlDocument:
    """Parsed YAML data plus the 1-based line of each key or list entry."""

    def __init__(self, data: Any, lines: dict[Path_, int], file: str) -> None:
        self.data = data
        self.lines = lines
        self.file = file

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: Path_, message: str, hint: str = "") -> Problem:
        """A :class:`Problem` located at ``path``."""
        return Problem(self.file, self.line_of(path), dotted(path), message, hint)


def dotted(path: Path_) -> str:
    """``('rules', 2, 'kr')`` → ``rules[2].kr``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Loader(yaml.SafeLoader):
    """SafeLoader whose impossible dates (2026-13-01) are errors with a line, not crashes."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> dt.date:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid date {node.value!r}: {exc}", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def load_yaml(text: str, file: str) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse one YAML document; syntax errors, bad dates and duplicate keys become problems."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or str(exc)
        kind = "" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error: "
        return None, [Problem(file, line, "", f"{kind}{what}", "fix the YAML syntax at that line")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, None, "", f"YAML error: {exc}")]
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    problems: list[Problem] = []
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _walk(node, (), lines, problems, file)
    return YamlDocument(data, lines, file), problems


def _walk(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem], file: str
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(file, line, dotted(child), "duplicate key", "keep only one of them")
                )
            seen.add(key)
            lines[child] = line
            _walk(value_node, child, lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines, problems, file)
