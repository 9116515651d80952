"""Filter tokens: the words of a ``tuningJobs.list`` filter, and the error a bad one raises.

:func:`tokenize` cuts the text of an AIP-160 filter into :class:`Token` s (field names,
operators, parentheses, keywords, values); a value is a :class:`Literal`, its escapes resolved
and its wildcard stars taken off its ends. Hands them to ``filters`` (the parser); a filter
that cannot be read raises :class:`FilterError`, whose one-line message names the problem and
its 1-based character position, as every later stage of the filter raises it too.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


class FilterError(ValueError):
    """A filter that cannot be parsed; ``position`` is 1-based, ``problem`` says what is wrong."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"invalid filter at character {position}: {problem}")
        self.position = position
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:
        # The default would rebuild from the message alone, which __init__ does not take.
        return (type(self), (self.position, self.problem))


_OPERATOR_CHARS = frozenset("<>=!:")
_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">=", ":"})
KEYWORDS = frozenset({"AND", "OR", "NOT"})
_ESCAPES = MappingProxyType(
    {"\\": "\\", '"': '"', "'": "'", "*": "*", "n": "\n", "t": "\t", "r": "\r"}
)


# What each comparison operator but ":" does, in the predicate.
ORDER = MappingProxyType(
    {
        "=": operator.eq,
        "!=": operator.ne,
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
    }
)


@dataclass(frozen=True)
class Literal:
    """A value with escapes resolved and the wildcard stars at its ends taken off."""

    text: str
    wild_start: bool
    wild_end: bool

    @property
    def wild(self) -> bool:
        return self.wild_start or self.wild_end

    @property
    def plain(self) -> str:
        """The value with its end stars put back, for places where "*" is not a wildcard."""
        return "*" * self.wild_start + self.text + "*" * self.wild_end


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "value", "string", "op", "(", ")", ".", "-", a keyword, or "eof"
    text: str  # as written, for messages
    start: int  # 0-based offsets into the filter
    end: int
    literal: Literal | None = None  # for "value" and "string"

    @property
    def pos(self) -> int:
        return self.start + 1

    def describe(self) -> str:
        return "end of filter" if self.kind == "eof" else quote(self.text)


def quote(text: str) -> str:
    # JSON quoting, plus escapes for the separators JSON leaves raw (U+2028, ...), keeps the
    # message on one line whatever the filter holds.
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in quoted)


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_-"


def _is_value_char(ch: str) -> bool:
    # ":" and "+" let RFC 3339 times go unquoted; "*" is the wildcard.
    return ch.isalnum() or ch in "_-.:+*"


def _literal(chars: Sequence[tuple[str, bool]]) -> Literal:
    """Builds a literal from (character, was escaped) pairs: only unescaped end stars are wild."""
    wild_start = bool(chars) and chars[0] == ("*", False)
    rest = chars[1:] if wild_start else chars
    wild_end = bool(rest) and rest[-1] == ("*", False)
    rest = rest[:-1] if wild_end else rest
    return Literal("".join(ch for ch, _ in rest), wild_start, wild_end)


def _read_string(text: str, start: int) -> Token:
    mark = text[start]
    chars: list[tuple[str, bool]] = []
    i = start + 1
    while i < len(text) and text[i] != mark:
        if text[i] != "\\":
            chars.append((text[i], False))
            i += 1
            continue
        if i + 1 >= len(text):
            break
        escaped = text[i + 1]
        if escaped not in _ESCAPES:
            raise FilterError(i + 1, f"unknown escape {quote(text[i : i + 2])} in string")
        chars.append((_ESCAPES[escaped], True))
        i += 2
    if i >= len(text):
        raise FilterError(start + 1, f"string opened with {mark} is never closed")
    return Token("string", text[start : i + 1], start, i + 1, _literal(chars))


def _read_run(text: str, start: int, accept: Callable[[str], bool]) -> int:
    end = start
    while end < len(text) and accept(text[end]):
        end += 1
    return end


def _next_token(text: str, i: int, after_operator: bool) -> Token:
    ch = text[i]
    if ch in "\"'":
        return _read_string(text, i)
    if ch in _OPERATOR_CHARS:
        end = _read_run(text, i, _OPERATOR_CHARS.__contains__)
        if text[i:end] not in _OPERATORS:
            raise FilterError(i + 1, f"unknown operator {quote(text[i:end])}")
        return Token("op", text[i:end], i, end)
    # Right after an operator comes a value, whose bare form may hold ".", ":" and so on; in
    # any other place "." separates field names and a leading "-" is NOT.
    if after_operator and _is_value_char(ch):
        end = _read_run(text, i, _is_value_char)
        word = text[i:end]
        if word in KEYWORDS:
            return Token(word, word, i, end)
        return Token("value", word, i, end, _literal([(c, False) for c in word]))
    if ch in "().-":
        return Token(ch, ch, i, i + 1)
    if _is_name_char(ch):
        end = _read_run(text, i, _is_name_char)
        word = text[i:end]
        return Token(word if word in KEYWORDS else "word", word, i, end)
    raise FilterError(i + 1, f"unexpected character {quote(ch)}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            tokens.append(Token("eof", "", i, i))
            return tokens
        after_operator = bool(tokens) and tokens[-1].kind == "op"
        token = _next_token(text, i, after_operator)
        tokens.append(token)
        i = token.end
