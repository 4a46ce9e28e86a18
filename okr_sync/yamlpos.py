"""YAML loading that remembers the line of every key, so errors can name it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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


def _timestamp(loader: Any, node: yaml.ScalarNode) -> dt.date:
    """A YAML date, or a construction error with a line for an impossible one (2026-13-01)."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"invalid date {node.value!r}: {exc}", node.start_mark
        ) from None


class _Loader(yaml.SafeLoader):
    """SafeLoader whose impossible dates (2026-13-01) are errors with a line, not crashes."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)

_FastLoader: Any = None
if getattr(yaml, "__with_libyaml__", False):  # PyYAML built with libyaml: its parser is there
    from yaml._yaml import CParser as _CParser

    class _FastLoader(_CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):  # type: ignore[no-redef]
        """libyaml's parser under the same constructor and resolver as :class:`_Loader`.

        Parsing is ten times faster; a document it does not accept is parsed again by
        :class:`_Loader`, whose messages (and whose verdict) are the ones reported.
        """

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    _FastLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _parse_fast(text: str) -> tuple[yaml.Node | None, Any] | None:
    """The document's node and data by libyaml, or None if it is missing or refused the text."""
    if _FastLoader is None:
        return None
    loader = _FastLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()


def load_yaml(source: str | bytes, file: str) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse one YAML document; syntax errors, bad dates and duplicate keys become problems.

    ``source`` is the file's text, or its bytes (which must be UTF-8).

    A document that cannot be used at all (bad syntax, an impossible date, an
    alias that contains itself, nesting deeper than any config needs) comes
    back as ``None`` with one problem naming the line and, where the parser
    got that far, the field.
    """
    if isinstance(source, bytes):
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = source.count(b"\n", 0, exc.start) + 1
            byte = f"{source[exc.start]:#04x}"
            return None, [Problem(file, line, "", f"not UTF-8 text: byte {byte} cannot be read",
                                  "save the file as UTF-8")]  # fmt: skip
    else:
        text = source
    try:
        loader = _Loader(text)  # checks every character first
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        return None, [Problem(file, line, "", f"YAML error: {exc.reason} (character {exc.character:#x})",
                              "remove the character; a config is plain UTF-8 text")]  # fmt: skip
    node: yaml.Node | None = None
    fast = _parse_fast(text)
    try:
        if fast is not None:
            node, data = fast
        else:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        return None, [_marked_problem(exc, text, file, node)]
    except yaml.YAMLError as exc:
        return None, [Problem(file, None, "", f"YAML error: {exc}")]
    except RecursionError:
        return None, [_too_deep(file)]
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    problems: list[Problem] = []
    if node is not None:
        lines[()] = node.start_mark.line + 1
        try:
            _walk(node, (), lines, problems, file, _Budget())
        except _Unusable as exc:
            return None, [exc.problem]
        except RecursionError:
            return None, [_too_deep(file)]
    return YamlDocument(data, lines, file), problems


def _too_deep(file: str) -> Problem:
    return Problem(file, None, "", "the YAML is nested too deeply", "a config is a few levels deep")


def _marked_problem(
    exc: yaml.MarkedYAMLError, text: str, file: str, node: yaml.Node | None
) -> Problem:
    """A syntax or construction error, at the line that needs fixing, with its field."""
    context = exc.context or ""
    # An unclosed bracket is noticed lines later; the bracket's own line is the one to fix.
    opened = (
        context in ("while parsing a flow sequence", "while parsing a flow mapping")
        and exc.context_mark is not None
    )
    mark = exc.context_mark if opened else (exc.problem_mark or exc.context_mark)
    line = mark.line + 1 if mark else None
    what = exc.problem or str(exc)
    if isinstance(exc, yaml.constructor.ConstructorError):
        path = _path_of_mark(node, mark) if node is not None and mark is not None else ()
        hint = "write dates as YYYY-MM-DD" if what.startswith("invalid date") else ""
        return Problem(file, line, dotted(path or ()), what, hint)
    path = _path_at_error(text, mark)
    hint = "fix the YAML syntax at that line"
    if opened and exc.problem_mark is not None:
        kind = "[ … ] list" if "sequence" in context else "{ … } mapping"
        what = f"in the {kind} that starts here: {what} (line {exc.problem_mark.line + 1})"
        hint = "close it, and separate its entries with commas"
    return Problem(file, line, dotted(path), f"YAML syntax error: {what}", hint)


@dataclass
class _Frame:
    """An open collection while replaying parser events (see :func:`_path_at_error`)."""

    mapping: bool
    start: Any  # a yaml Mark
    at: str | int | None = None  # the current key, or the index of the current entry
    expecting_key: bool = True

    def value_done(self) -> None:
        if self.mapping:
            self.expecting_key = not self.expecting_key
        else:
            self.at = int(self.at or 0) + 1


def _path_at_error(text: str, mark: yaml.Mark | None) -> Path_:
    """The key path the parser was inside when it failed.

    The events before the error are replayed; when ``mark`` is where an
    unclosed collection starts, the path stops at the key holding it.
    """
    stack: list[_Frame] = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            top = stack[-1] if stack else None
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if top is not None and top.mapping and top.expecting_key:
                    top.at = "?"  # a complex key; rare, and never valid in a config
                mapping = isinstance(event, yaml.MappingStartEvent)
                stack.append(_Frame(mapping, event.start_mark, None if mapping else 0))
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
                if stack:
                    stack[-1].value_done()
            elif isinstance(event, yaml.ScalarEvent | yaml.AliasEvent) and top is not None:
                if top.mapping and top.expecting_key:
                    top.at = str(getattr(event, "value", "*"))
                top.value_done()
    except (yaml.YAMLError, RecursionError):
        pass  # the error itself: the stack now says where the parser was
    path: list[str | int] = []
    for frame in stack:
        if mark is not None and frame.start.index == mark.index:
            break  # the unclosed collection itself: the key holding it is the field
        if frame.at is None or (frame.mapping and frame.expecting_key):
            break  # between two keys: the mapping itself is the field
        path.append(frame.at)
    return tuple(path)


def _path_of_mark(node: yaml.Node, mark: yaml.Mark) -> Path_ | None:
    """The path of the node that starts at ``mark`` (for errors raised while constructing)."""
    todo: list[tuple[yaml.Node, Path_]] = [(node, ())]
    seen: set[int] = set()
    while todo:
        current, path = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current.start_mark.index == mark.index and not isinstance(current, yaml.MappingNode):
            return path
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                name = _key_name(key)
                if key.start_mark.index == mark.index:
                    return (*path, name)
                todo.append((value, (*path, name)))
        elif isinstance(current, yaml.SequenceNode):
            todo += [(item, (*path, i)) for i, item in enumerate(current.value)]
    return None


def _key_name(node: yaml.Node) -> str:
    """A mapping key as text; a list or mapping used as a key is shown as ``?``."""
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "?"


class _Unusable(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


class _Budget:
    """Counts nodes visited, so aliases cannot expand a small file into a huge one."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self.left = self.LIMIT


def _walk(
    node: yaml.Node,
    path: Path_,
    lines: dict[Path_, int],
    problems: list[Problem],
    file: str,
    budget: _Budget,
    open_nodes: frozenset[int] = frozenset(),
) -> None:
    budget.left -= 1
    if budget.left < 0:
        raise _Unusable(
            Problem(
                file,
                node.start_mark.line + 1,
                dotted(path),
                f"the document grows past {_Budget.LIMIT} values once its aliases are expanded",
                "write the values out instead of nesting aliases",
            )
        )
    if id(node) in open_nodes:
        raise _Unusable(
            Problem(
                file,
                node.start_mark.line + 1,
                dotted(path),
                "an alias refers to a collection that contains it",
                "a config cannot be recursive; write the values out",
            )
        )
    inner = open_nodes | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = _key_name(key_node)
            child = (*path, key)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(file, line, dotted(child), "duplicate key", "keep only one of them")
                )
            seen.add(key)
            lines[child] = line
            _walk(value_node, child, lines, problems, file, budget, inner)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines, problems, file, budget, inner)
