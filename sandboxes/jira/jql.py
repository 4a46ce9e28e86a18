"""A JQL subset: tokenizer and recursive-descent parser producing a small AST.

Grammar (keywords case-insensitive)::

    query   := [or] [ORDER BY sort ("," sort)*]
    or      := and (("OR" | "||") and)*
    and     := not (("AND" | "&&") not)*
    not     := ("NOT" | "!") not | "(" or ")" | clause
    clause  := field op value
    op      := = | != | > | >= | < | <= | ~ | !~ | IN | NOT IN | IS | IS NOT
    value   := word | "string" | EMPTY | NULL | "(" value ("," value)* ")"
    sort    := field [ASC | DESC]

Syntax errors carry Jira's wording: ``Error in the JQL Query: ... (line 1,
character N)`` with N counted from 1. Semantics live in ``jql_eval``.
"""

from __future__ import annotations

from dataclasses import dataclass

_OPERATORS = ("!=", "!~", ">=", "<=", "=", ">", "<", "~")
_WORD_STOP = set(" \t\r\n\"'(),=!<>~&|")
#: Characters Jira reserves outside quotes (its lexer's RESERVED_CHARS).
_RESERVED = set("{}*/%+^$#@?;")
#: Words Jira reserves: a bare value spelled like one is an error, quoted it is a value
#: (JqlStringSupportImpl.RESERVED_WORDS, as Jira's own unit test lists them; EMPTY and
#: NULL are the empty keyword instead).
_WORDS = """abort access add after alias all alter and any as asc audit avg before begin between
    boolean break by byte catch cf changed char character check checkpoint collate
    collation column commit connect continue count create current date decimal declare
    decrement default defaults define delete delimiter desc difference distinct divide do
    double drop else empty encoding end equals escape exclusive exec execute exists explain
    false fetch file field first float for from function go goto grant greater group having
    identified if immediate in increment index initial inner inout input insert int integer
    intersect intersection into is isempty isnull join last left less like limit lock long
    max min minus mode modify modulo more multiply next noaudit not notin nowait null
    number object of on option or order outer output power previous prior privileges public
    raise raw remainder rename resource return returns revoke right row rowid rownum rows
    select session set share size sqrt start strict string subtract sum synonym table then
    to trans transaction trigger true uid union unique update user validate values view was
    when whenever where while with"""
RESERVED_WORDS = frozenset(_WORDS.split())
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "'": "'", "\\": "\\", " ": " "}
_VALID_ESCAPES = "The valid escape sequences are \\', \\\", \\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX."
_VALID_OPS = (
    "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', "
    "'IN', 'NOT IN', 'IS' and 'IS NOT'."
)
_UNSUPPORTED_OPS = {"was", "changed"}


class JqlError(Exception):
    """A query Jira would answer with 400; ``str(error)`` is Jira's message."""


@dataclass(frozen=True)
class Token:
    """A lexical token; ``pos`` is the 0-based offset of its first character."""

    kind: str  # word, string, op, lparen, rparen, comma, and, or, not, eof
    text: str
    pos: int


@dataclass(frozen=True)
class Value:
    """A literal: a bare word, a quoted string, or EMPTY/NULL."""

    text: str
    quoted: bool
    pos: int
    empty: bool = False


@dataclass(frozen=True)
class Clause:
    """``field op value``; ``values`` has one item unless the operator takes a list."""

    field: str
    field_pos: int
    op: str  # =, !=, >, >=, <, <=, ~, !~, in, not in, is, is not
    values: tuple[Value, ...]


@dataclass(frozen=True)
class And:
    """All items hold."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Any item holds."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """The item does not hold."""

    item: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True)
class SortKey:
    """One ``ORDER BY`` entry."""

    field: str
    descending: bool
    pos: int


@dataclass(frozen=True)
class Query:
    """A parsed query; ``where`` is None for an unbounded (restriction-free) query."""

    where: Node | None
    order_by: tuple[SortKey, ...]


def _error(what: str, pos: int | None = None) -> JqlError:
    where = f" (line 1, character {pos + 1})" if pos is not None else ""
    return JqlError(f"Error in the JQL Query: {what}{where}")


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; raises ``JqlError`` on bad characters or quotes."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "\"'":
            start = i
            value, i = _read_string(text, i)
            tokens.append(Token("string", value, start))
        elif ch in "(),":
            tokens.append(Token({"(": "lparen", ")": "rparen", ",": "comma"}[ch], ch, i))
            i += 1
        elif text.startswith(("&&", "||"), i):
            tokens.append(Token("and" if ch == "&" else "or", text[i : i + 2], i))
            i += 2
        elif ch in "&|":
            tokens.append(Token("and" if ch == "&" else "or", ch, i))
            i += 1
        elif op := next((o for o in _OPERATORS if text.startswith(o, i)), None):
            tokens.append(Token("op", op, i))
            i += len(op)
        elif ch == "!":
            tokens.append(Token("not", ch, i))
            i += 1
        elif ch in _RESERVED:
            raise _error(
                f"The character '{ch}' is a reserved JQL character. You must enclose it in a "
                f"string or use the escape '\\u{ord(ch):04x}' instead.",
                i,
            )
        else:
            start = i
            while i < n and text[i] not in _WORD_STOP and text[i] not in _RESERVED:
                i += 1
            word = text[start:i]
            kind = word.lower() if word.lower() in ("and", "or", "not") else "word"
            tokens.append(Token(kind, word, start))
    tokens.append(Token("eof", "", n))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """A quoted string; escapes as Jira's lexer takes them, any other one an error."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            hexa = text[i + 2 : i + 6]
            if nxt == "u" and len(hexa) == 4 and all(c in "0123456789abcdefABCDEF" for c in hexa):
                out.append(chr(int(hexa, 16)))
                i += 6
                continue
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            raise _error(f"'\\{nxt}' is an illegal JQL escape sequence. {_VALID_ESCAPES}", i)
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise _error(f"The quoted string '{text[start + 1 :]}' has not been completed.", start)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.lower() in words

    def parse(self) -> Query:
        where: Node | None = None
        if self.tok.kind != "eof" and not self.is_word("order"):
            where = self.parse_or()
        order = self.parse_order() if self.is_word("order") else ()
        if self.tok.kind != "eof":
            raise _error(f"Expecting either 'OR' or 'AND' but got '{self.tok.text}'.", self.tok.pos)
        return Query(where, order)

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.tok.kind == "or":
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_not()]
        while self.tok.kind == "and":
            self.advance()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self) -> Node:
        if self.tok.kind == "not":
            self.advance()
            return Not(self.parse_not())
        if self.tok.kind == "lparen":
            self.advance()
            inner = self.parse_or()
            self.expect_rparen()
            return inner
        return self.parse_clause()

    def expect_rparen(self) -> None:
        if self.tok.kind == "eof":
            raise _error("Expecting ')' before the end of the query.")
        if self.tok.kind != "rparen":
            raise _error(f"Expecting ')' but got '{self.tok.text}'.", self.tok.pos)
        self.advance()

    def parse_field(self) -> Token:
        tok = self.tok
        if tok.kind == "eof":
            raise _error("Expecting a field name before the end of the query.")
        if tok.kind not in ("word", "string") or tok.text == "":
            raise _error(
                f"Expecting a field name but got '{tok.text}'. You must surround '{tok.text}' "
                "in quotation marks to use it as a field name.",
                tok.pos,
            )
        return self.advance()

    def parse_clause(self) -> Clause:
        name = self.parse_field()
        op = self.parse_operator()
        if op in ("in", "not in"):
            values = self.parse_list()
        elif op in ("is", "is not"):
            values = (self.parse_empty(op),)
        else:
            values = (self.parse_value(),)
        return Clause(name.text, name.pos, op, values)

    def parse_operator(self) -> str:
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            return tok.text
        if tok.kind == "not" and tok.text.lower() == "not":
            self.advance()
            if self.is_word("in"):
                self.advance()
                return "not in"
            raise _error(f"Expecting 'IN' but got '{self.tok.text}'.", self.tok.pos)
        if self.is_word("in"):
            self.advance()
            return "in"
        if self.is_word("is"):
            self.advance()
            if self.tok.kind == "not":
                self.advance()
                return "is not"
            return "is"
        if self.is_word(*_UNSUPPORTED_OPS):
            raise _error(
                f"The Jira sandbox does not support the operator '{tok.text.upper()}'.", tok.pos
            )
        if tok.kind == "eof":
            raise _error(f"Expecting operator before the end of the query. {_VALID_OPS}")
        raise _error(f"Expecting operator but got '{tok.text}'. {_VALID_OPS}", tok.pos)

    def parse_empty(self, op: str) -> Value:
        tok = self.tok
        if tok.kind == "word" and tok.text.lower() in ("empty", "null"):
            self.advance()
            return Value(tok.text, False, tok.pos, empty=True)
        got = "the end of the query" if tok.kind == "eof" else f"'{tok.text}'"
        raise _error(
            f"Expecting 'EMPTY' or 'NULL' but got {got}. The operator '{op.upper()}' only "
            "works with EMPTY.",
            tok.pos if tok.kind != "eof" else None,
        )

    def parse_value(self) -> Value:
        tok = self.tok
        if tok.kind == "string":
            self.advance()
            return Value(tok.text, True, tok.pos)
        if tok.kind == "word":
            self.advance()
            if self.tok.kind == "lparen":
                raise _error(
                    f"The Jira sandbox does not support the JQL function '{tok.text}()'.", tok.pos
                )
            empty = tok.text.lower() in ("empty", "null")
            if not empty and tok.text.lower() in RESERVED_WORDS:
                raise _error(
                    f"'{tok.text}' is a reserved JQL word. You must surround it in quotation "
                    "marks to use it in a query.",
                    tok.pos,
                )
            return Value(tok.text, False, tok.pos, empty=empty)
        if tok.kind == "eof":
            raise _error("Expecting either a value, list or function before the end of the query.")
        raise _error(
            f"Expecting either a value, list or function but got '{tok.text}'. You must surround "
            f"'{tok.text}' in quotation marks to use it as a value.",
            tok.pos,
        )

    def parse_list(self) -> tuple[Value, ...]:
        if self.tok.kind != "lparen":
            tok = self.tok
            if tok.kind == "word" and self.tokens[self.i + 1].kind == "lparen":
                raise _error(
                    f"The Jira sandbox does not support the JQL function '{tok.text}()'.", tok.pos
                )
            if tok.kind == "eof":
                raise _error("Expecting '(' before the end of the query.")
            raise _error(f"Expecting '(' but got '{tok.text}'.", tok.pos)
        self.advance()
        values = [self.parse_value()]
        while self.tok.kind == "comma":
            self.advance()
            values.append(self.parse_value())
        self.expect_rparen()
        return tuple(values)

    def parse_order(self) -> tuple[SortKey, ...]:
        self.advance()  # ORDER
        if not self.is_word("by"):
            got = "the end of the query" if self.tok.kind == "eof" else f"'{self.tok.text}'"
            raise _error(f"Expecting 'by' but got {got}.", self.tok.pos)
        self.advance()
        keys: list[SortKey] = []
        while True:
            name = self.parse_field()
            descending = False
            if self.is_word("asc", "desc"):
                descending = self.advance().text.lower() == "desc"
            keys.append(SortKey(name.text, descending, name.pos))
            if self.tok.kind != "comma":
                break
            self.advance()
        if self.tok.kind != "eof":
            raise _error(
                f"Expecting either 'ASC', 'DESC', ',' or the end of the query but got "
                f"'{self.tok.text}'.",
                self.tok.pos,
            )
        return tuple(keys)


def parse_jql(text: str) -> Query:
    """Parse a JQL string; raises ``JqlError`` with Jira's message when malformed."""
    return _Parser(text).parse()
