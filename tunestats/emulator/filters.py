"""The ``filter`` of the emulator's ``tuningJobs.list`` call: text in, job predicate out.

:func:`compile_filter` reads the ``filter`` of ``GET .../tuningJobs?filter=`` (the AIP-160
filter language, over the fields a TuningJob can be listed by) and hands the list handler a
:class:`Filter`: a predicate over one job (a proto3 JSON dict, camelCase keys), and the same
condition in SQL over the store's columns (``filter_fields.COLUMNS``, filled from a job by
``facets``, and the ``job_labels`` table, filled by ``label_items``), so that the store picks
the jobs without reading each one's document. :func:`parse_filter` gives the predicate
alone. Bad filters raise :class:`FilterError`, whose one-line message names the problem and its
1-based character position, so the handler can answer 400 INVALID_ARGUMENT with it as is.

The parts, in the order a filter meets them: ``filter_tokens`` (the words, and
:class:`FilterError`) -> this module (the grammar) -> ``filter_fields`` (which field a name
means; also the store's columns) -> ``filter_conditions`` (each restriction as a predicate and
as SQL) -> ``filter_sql`` (the SQL, and when there is none: a literal that is not valid
Unicode, a lone surrogate; the handler then runs the predicate over the documents).

Choices where AIP-160 leaves room:

* ``OR`` binds tighter than juxtaposition, which binds tighter than ``AND`` (all per AIP-160);
  ``NOT``/``-`` apply to one term, and a term takes at most one of them.
* A restriction always needs a field: bare literals ("global restrictions") are rejected.
* ``*`` is a wildcard only as the first or last character of a string value, for ``=``, ``!=``
  and ``:`` alike; ``\\*`` is a literal star. ``FIELD:*`` means present and non-empty
  (``labels.KEY:*``: the label is set, even to "").
* ``:`` on a string or time field is ``=``; ``labels:KEY`` asks whether the label KEY is set.
* ``state`` takes ``JOB_STATE_SUCCEEDED``, ``SUCCEEDED`` or ``4``, with ``=`` and ``!=`` only.
* Strings compare by code point; times compare as instants, to the nanosecond.
* A missing field (or one of the wrong JSON type) is absent: only ``!=`` matches it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .filter_conditions import Condition, Predicate, all_of, any_of, negate, restriction
from .filter_fields import Field, resolve_field
from .filter_sql import TRUE
from .filter_tokens import KEYWORDS, FilterError, Token, quote, tokenize

# Each "(" costs a few Python frames here and in the predicate; well below the recursion limit.
_MAX_DEPTH = 64


# A rule of the grammar: parses what follows ``after`` (the token before it, for errors).
_Rule = Callable[[Token | None], Condition]


def _match_all(job: dict) -> bool:
    return True


def _after(token: Token | None) -> str:
    return f" after {token.describe()}" if token is not None else ""


def _expected(what: str, where: str, found: Token) -> FilterError:
    return FilterError(found.pos, f"expected {what}{where}, found {found.describe()}")


class _Parser:
    """Recursive descent over the AIP-160 EBNF, one method per rule:

    expression = sequence {"AND" sequence}      sequence = factor {factor}
    factor = term {"OR" term}                   term = ["NOT" | "-"] simple
    simple = restriction | "(" expression ")"   restriction = member operator value
    member = name {"." (name | string)}
    """

    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._next = 0
        self._depth = 0

    def _peek(self) -> Token:
        return self._tokens[self._next]

    def _take(self) -> Token:
        token = self._tokens[self._next]
        self._next += 1
        return token

    def _take_kind(self, kinds: tuple[str, ...], what: str, where: str) -> Token:
        """Take the next token if its kind is one of ``kinds``; else "expected WHAT WHERE"."""
        token = self._peek()
        if token.kind not in kinds:
            raise _expected(what, where, token)
        return self._take()

    def parse(self) -> Condition:
        predicate = self._expression(None)
        token = self._peek()
        # A sequence runs on until AND, OR, ")" or the end, and the first two are taken above
        # it: whatever stops the whole expression early is a ")".
        if token.kind != "eof":
            raise FilterError(token.pos, f'{token.describe()} without a matching "("')
        return predicate

    def _joined(self, rule: _Rule, keyword: str, after: Token | None) -> list[Condition]:
        """``rule {keyword rule}``: each rule after the first follows its keyword."""
        parts = [rule(after)]
        while self._peek().kind == keyword:
            parts.append(rule(self._take()))
        return parts

    def _expression(self, after: Token | None) -> Condition:
        return all_of(self._joined(self._sequence, "AND", after))

    def _sequence(self, after: Token | None) -> Condition:
        parts = [self._factor(after)]
        while self._peek().kind not in ("AND", "OR", ")", "eof"):
            parts.append(self._factor(None))
        return all_of(parts)

    def _factor(self, after: Token | None) -> Condition:
        return any_of(self._joined(self._term, "OR", after))

    def _term(self, after: Token | None) -> Condition:
        if self._peek().kind in ("NOT", "-"):
            return negate(self._simple(self._take()))
        return self._simple(after)

    def _simple(self, after: Token | None) -> Predicate:
        token = self._peek()
        if token.kind == "(":
            return self._composite()
        if token.kind == "word":
            return self._restriction()
        raise _expected('a field name or "("', _after(after), token)

    def _composite(self) -> Condition:
        opening = self._take()
        if self._peek().kind == ")":
            raise FilterError(opening.pos, "empty parentheses")
        if self._depth == _MAX_DEPTH:
            raise FilterError(opening.pos, f"parentheses nested more than {_MAX_DEPTH} deep")
        self._depth += 1
        inner = self._expression(opening)
        self._depth -= 1
        self._take_kind((")",), '")"', f' to close the "(" at character {opening.pos}')
        return inner

    def _restriction(self) -> Condition:
        field = self._member()
        operators = "a comparison operator (=, !=, <, <=, >, >= or :)"
        op = self._take_kind(("op",), operators, f" after {quote(field.name)}")
        value = self._take_kind(("value", "string"), "a value", _after(op))
        return restriction(field, op, value)

    def _member(self) -> Field:
        parts = [self._take()]
        # Members are written without spaces: "labels.team", not "labels . team".
        while self._peek().kind == "." and self._peek().start == parts[-1].end:
            dot = self._take()
            part = self._peek()
            if part.kind not in ("word", "string", *KEYWORDS) or part.start != dot.end:
                raise _expected("a field name", _after(dot), part)
            parts.append(self._take())
        return resolve_field(parts)


@dataclass(frozen=True)
class Filter:
    """A parsed filter: ``test`` over one job; ``sql`` (with ``args``), the same condition on a
    row of the store's jobs table, or None when only ``test`` can say (see the docstring)."""

    test: Predicate
    sql: str | None
    args: tuple[Any, ...] = ()


def compile_filter(text: str | None) -> Filter:
    """The :class:`Filter` of an AIP-160 filter; None or blank matches all.

    Raises FilterError for a filter that does not parse or names an unknown field or state.
    """
    if text is None or not text.strip():
        return Filter(_match_all, TRUE.text)
    condition = _Parser(tokenize(text)).parse()
    if condition.sql is None:
        return Filter(condition.test, None)
    return Filter(condition.test, condition.sql.text, condition.sql.args)


def parse_filter(text: str | None) -> Predicate:
    """A predicate over proto3-JSON jobs for an AIP-160 filter (see :func:`compile_filter`)."""
    return compile_filter(text).test
