"""Filter conditions: each restriction of a filter (field, operator, value), and their AND,
OR and NOT, as a predicate over one job and as SQL.

``filters`` (the parser) hands :func:`restriction` a resolved field, an operator and a value,
and joins what it gives with :func:`all_of`, :func:`any_of` and :func:`negate`; each
:class:`Condition` carries the predicate (over a proto3 JSON job) and the same condition in
SQL (from ``filter_sql``), or None where only the predicate can say. A value that does not fit
its field (an unknown state, a malformed time, a wildcard with ``<``) raises
:class:`~.filter_tokens.FilterError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .filter_fields import (
    JOB_STATES,
    STATE_NAMES,
    STATE_PREFIX,
    Field,
    labels_of,
    parse_timestamp,
    state_number,
)
from .filter_sql import (
    Sql,
    joined,
    ref,
    sql_equal,
    sql_labels,
    sql_match,
    sql_order,
    sql_present,
    sql_time,
)
from .filter_tokens import ORDER, FilterError, Literal, Token, quote

Predicate = Callable[[dict], bool]


def _filter_state(literal: Literal) -> int | None:
    """The JobState number a filter value names, or None."""
    text = literal.text
    if literal.wild:
        return None
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        # int() of thousands of digits raises (and is slow): no state has more than two.
        number = int(digits) if len(digits) <= 2 else -1
        return number if number in JOB_STATES.values() else None
    return JOB_STATES.get(text, JOB_STATES.get(STATE_PREFIX + text))


def _string_matcher(literal: Literal) -> Callable[[str], bool]:
    text = literal.text
    if literal.wild_start and literal.wild_end:
        return lambda value: text in value
    if literal.wild_start:
        return lambda value: value.endswith(text)
    if literal.wild_end:
        return lambda value: value.startswith(text)
    return lambda value: value == text


@dataclass(frozen=True)
class Condition:
    """One condition, as a predicate over a job and (when it has one) as SQL."""

    test: Predicate
    sql: Sql | None


def _on_labels(op: Token, literal: Literal) -> Condition:
    if op.text != ":":
        raise FilterError(
            op.pos, f'"labels" takes only ":" (labels:KEY), not {op.describe()}; use labels.KEY'
        )
    matches = _string_matcher(literal)
    match = sql_match("key", literal)
    return Condition(
        lambda job: any(matches(key) for key in labels_of(job)),
        None if match is None else sql_labels(match),
    )


def _on_state(field: Field, op: Token, value: Token) -> Condition:
    if op.text not in ("=", "!="):
        raise FilterError(op.pos, f'"state" takes only "=" and "!=", not {op.describe()}')
    assert value.literal is not None
    wanted = _filter_state(value.literal)
    if wanted is None:
        raise FilterError(
            value.pos,
            f"unknown state {value.describe()}: expected a JobState name such as "
            "JOB_STATE_SUCCEEDED (or SUCCEEDED) or its number 0-11",
        )
    equal = op.text == "="

    def matches(job: dict) -> bool:
        state = state_number(field.get(job))
        return not equal if state is None else (state == wanted) == equal

    name = STATE_NAMES[wanted]
    column = ref(field)
    if equal:
        sql = Sql(f"({column} IS NOT NULL AND {column} = ?)", (name,))
    else:
        sql = Sql(f"({column} IS NULL OR {column} != ?)", (name,))
    return Condition(matches, sql)


def _on_time(field: Field, op: str, value: Token) -> Condition:
    assert value.literal is not None
    instant = None if value.literal.wild else parse_timestamp(value.literal.text)
    if instant is None:
        raise FilterError(
            value.pos,
            f"malformed timestamp {value.describe()} for {quote(field.name)}: expected "
            "RFC 3339 such as 2026-11-27T05:00:00Z or 2026-11-27T10:30:00.5+05:30",
        )
    compare = ORDER[op]

    def matches(job: dict) -> bool:
        stored = field.get(job)
        # A stored time that does not parse is as good as missing: it equals nothing.
        stored = parse_timestamp(stored) if isinstance(stored, str) else None
        return op == "!=" if stored is None else compare(stored, instant)

    return Condition(matches, sql_time(ref(field), op, instant))


def _on_string(field: Field, op: Token, value: Token) -> Condition:
    literal = value.literal
    assert literal is not None
    operator_text = "=" if op.text == ":" else op.text
    if operator_text in ("=", "!="):
        equal = operator_text == "="
        matches_text = _string_matcher(literal)

        def matches(job: dict) -> bool:
            text = field.get(job)
            return matches_text(text) == equal if isinstance(text, str) else not equal

        return Condition(matches, sql_equal(field, literal, equal))
    if literal.wild:
        raise FilterError(
            value.pos, f'wildcard "*" works only with "=", "!=" and ":", not {op.describe()}'
        )
    compare = ORDER[operator_text]
    wanted = literal.text

    def in_order(job: dict) -> bool:
        text = field.get(job)
        return isinstance(text, str) and compare(text, wanted)

    return Condition(in_order, sql_order(field, operator_text, wanted))


def restriction(field: Field, op: Token, value: Token) -> Condition:
    literal = value.literal
    assert literal is not None
    if field.kind == "labels":
        return _on_labels(op, literal)
    if op.text == ":" and literal.wild_start and not literal.text:
        return Condition(field.present, sql_present(field))
    if field.kind == "state":
        return _on_state(field, op, value)
    if field.kind == "time":
        return _on_time(field, "=" if op.text == ":" else op.text, value)
    return _on_string(field, op, value)


def _combined(parts: Sequence[Condition], word: str) -> Condition:
    if len(parts) == 1:
        return parts[0]
    tests = tuple(part.test for part in parts)
    if word == "AND":
        test: Predicate = lambda job: all(t(job) for t in tests)  # noqa: E731
    else:
        test = lambda job: any(t(job) for t in tests)  # noqa: E731
    sqls = [part.sql for part in parts]
    sql = None if any(p is None for p in sqls) else joined(sqls, word)  # type: ignore[arg-type]
    return Condition(test, sql)


def all_of(parts: Sequence[Condition]) -> Condition:
    return _combined(parts, "AND")


def any_of(parts: Sequence[Condition]) -> Condition:
    return _combined(parts, "OR")


def negate(part: Condition) -> Condition:
    test = part.test
    sql = None if part.sql is None else Sql(f"(NOT {part.sql.text})", part.sql.args)
    return Condition(lambda job: not test(job), sql)
