"""A small subset of Notion's formula language, evaluated when a page is read.

Supported: ``prop("Name")``, numbers, ``"strings"``, ``true``/``false``, ``+ - * / %``
and unary minus, comparisons (``== != > < >= <=``), ``and``/``or``/``not`` (also
``&& || !``), parentheses, and the functions ``if(c, a, b)``, ``round(x[, digits])``,
``floor``, ``ceil``, ``abs``, ``min``, ``max``, ``empty(x)``, ``length(x)``,
``toNumber(x)`` and ``format(x)``. An empty operand makes arithmetic empty, and a
division by zero is empty too, so ``prop("Current") / prop("Target")`` reads
``null`` until both are set. ``+`` on strings concatenates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandboxes.notion.model import DateValue

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<str>\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>==|!=|>=|<=|&&|\|\||[-+*/%()<>,!]))"
)
_BINARY = {
    "or": 1,
    "||": 1,
    "and": 2,
    "&&": 2,
    "==": 3,
    "!=": 3,
    ">": 3,
    "<": 3,
    ">=": 3,
    "<=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
}
_FUNCTIONS = {
    "prop": 1,
    "if": 3,
    "round": -1,
    "floor": 1,
    "ceil": 1,
    "abs": 1,
    "min": -1,
    "max": -1,
    "empty": 1,
    "length": 1,
    "toNumber": 1,
    "format": 1,
    "not": 1,
}
FormulaValue = float | int | str | bool | DateValue | list[Any] | None


class FormulaError(ValueError):
    """An expression outside the supported subset."""


@dataclass(frozen=True)
class Node:
    """A parsed expression: ``kind`` is num, str, bool, prop, call, unary or binary."""

    kind: str
    value: Any = None
    args: tuple[Node, ...] = ()


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise FormulaError(f"Unexpected character in formula at {pos}: {text[pos:]!r}")
            kind = m.lastgroup or "op"
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise FormulaError("Formula ends too early")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.next()
        if tok[1] != text:
            raise FormulaError(f"Expected {text!r} in formula, found {tok[1]!r}")

    def parse(self) -> Node:
        node = self.binary(1)
        extra = self.peek()
        if extra is not None:
            raise FormulaError(f"Unexpected {extra[1]!r} in formula")
        return node

    def binary(self, level: int) -> Node:
        left = self.unary()
        while True:
            tok = self.peek()
            if tok is None or tok[0] not in ("op", "name") or tok[1] not in _BINARY:
                return left
            prec = _BINARY[tok[1]]
            if prec < level:
                return left
            self.next()
            right = self.binary(prec + 1)
            left = Node("binary", {"||": "or", "&&": "and"}.get(tok[1], tok[1]), (left, right))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[1] in ("-", "!") and tok[0] == "op":
            self.next()
            return Node("unary", tok[1], (self.unary(),))
        if tok is not None and tok == ("name", "not") and self._not_a_call():
            self.next()
            return Node("unary", "!", (self.unary(),))
        return self.primary()

    def _not_a_call(self) -> bool:
        nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
        return nxt is None or nxt[1] != "("

    def primary(self) -> Node:
        kind, text = self.next()
        if kind == "num":
            number = float(text)
            return Node("num", int(number) if number.is_integer() else number)
        if kind == "str":
            return Node("str", re.sub(r"\\(.)", r"\1", text[1:-1]))
        if kind == "name" and text in ("true", "false"):
            return Node("bool", text == "true")
        if kind == "name":
            return self.call(text)
        if text == "(":
            node = self.binary(1)
            self.expect(")")
            return node
        raise FormulaError(f"Unexpected {text!r} in formula")

    def call(self, name: str) -> Node:
        if name not in _FUNCTIONS:
            raise FormulaError(f"Unsupported formula function: {name}")
        self.expect("(")
        args: list[Node] = []
        if self.peek() != ("op", ")"):
            args.append(self.binary(1))
            while self.peek() == ("op", ","):
                self.next()
                args.append(self.binary(1))
        self.expect(")")
        arity = _FUNCTIONS[name]
        if (arity >= 0 and len(args) != arity) or not args:
            raise FormulaError(f"Wrong number of arguments to {name}()")
        if name == "prop":
            if args[0].kind != "str":
                raise FormulaError('prop() takes a property name: prop("Name")')
            return Node("prop", args[0].value)
        return Node("call", name, tuple(args))


def parse_formula(expression: str) -> Node:
    """Parse ``expression``; FormulaError when it is outside the subset."""
    return _Parser(expression).parse()


def referenced_properties(node: Node) -> set[str]:
    """Names of the properties a formula reads."""
    found = {node.value} if node.kind == "prop" else set()
    for arg in node.args:
        found |= referenced_properties(arg)
    return found


PropReader = Callable[[str], FormulaValue]


def evaluate(node: Node, read: PropReader) -> FormulaValue:
    """The value of ``node``; ``read(name)`` gives a property's formula value."""
    if node.kind in ("num", "str", "bool"):
        literal: FormulaValue = node.value
        return literal
    if node.kind == "prop":
        return read(node.value)
    if node.kind == "unary":
        operand = evaluate(node.args[0], read)
        if node.value == "!":
            return not _truthy(operand)
        return None if not isinstance(operand, int | float) else -operand
    if node.kind == "binary":
        return _binary(
            node.value, evaluate(node.args[0], read), lambda: evaluate(node.args[1], read)
        )
    return _call(node, read)


def _truthy(value: FormulaValue) -> bool:
    return bool(value) if value is not None else False


def _number(value: FormulaValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _binary(op: str, left: FormulaValue, right_thunk: Callable[[], FormulaValue]) -> FormulaValue:
    if op == "and":
        return _truthy(left) and _truthy(right_thunk())
    if op == "or":
        return _truthy(left) or _truthy(right_thunk())
    right = right_thunk()
    if op in ("==", "!="):
        return (left == right) == (op == "==")
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return f"{'' if left is None else _format(left)}{'' if right is None else _format(right)}"
    a, b = _number(left), _number(right)
    if op in (">", "<", ">=", "<="):
        if a is None or b is None:
            return False
        return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]
    if a is None or b is None:
        return None
    if op in ("/", "%") and b == 0:
        return None
    result: float = {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "%": math.fmod(a, b)}[op]
    return result


def _format(value: FormulaValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, DateValue):
        return str(value.start)
    if isinstance(value, list):
        return ", ".join(_format(v) for v in value)
    return "" if value is None else str(value)


def _call(node: Node, read: PropReader) -> FormulaValue:
    name = node.value
    if name == "if":
        cond = evaluate(node.args[0], read)
        return evaluate(node.args[1] if _truthy(cond) else node.args[2], read)
    values = [evaluate(arg, read) for arg in node.args]
    first = values[0]
    if name == "empty":
        return first in (None, "", [], 0, False)
    if name == "not":
        return not _truthy(first)
    if name == "length":
        return len(first) if isinstance(first, str | list) else 0
    if name == "format":
        return _format(first)
    if name == "toNumber":
        return _to_number(first)
    numbers = [_number(v) for v in values]
    if name in ("min", "max"):
        present = [n for n in numbers if n is not None]
        return (min if name == "min" else max)(present) if present else None
    x = numbers[0]
    if x is None:
        return None
    if name == "round":
        digits = int(numbers[1] or 0) if len(numbers) > 1 else 0
        # Notion rounds halves up, like JavaScript's Math.round.
        scale = 10.0**digits
        return math.floor(x * scale + 0.5) / scale
    if name == "floor":
        return math.floor(x)
    if name == "ceil":
        return math.ceil(x)
    return abs(x)


def _to_number(value: FormulaValue) -> FormulaValue:
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return _number(value)


def result_type(node: Node, prop_type: Callable[[str], str]) -> str:
    """The formula's static type: ``number``, ``string``, ``boolean`` or ``date``.

    ``prop_type(name)`` gives the formula type of a referenced property.
    """
    if node.kind == "num":
        return "number"
    if node.kind == "str":
        return "string"
    if node.kind == "bool":
        return "boolean"
    if node.kind == "prop":
        return prop_type(node.value)
    if node.kind == "unary":
        return "boolean" if node.value == "!" else "number"
    if node.kind == "binary":
        if node.value in ("and", "or", "==", "!=", ">", "<", ">=", "<="):
            return "boolean"
        sides = {result_type(arg, prop_type) for arg in node.args}
        return "string" if node.value == "+" and "string" in sides else "number"
    name = node.value
    if name == "if":
        return result_type(node.args[1], prop_type)
    if name in ("empty", "not"):
        return "boolean"
    if name == "format":
        return "string"
    return "number"
