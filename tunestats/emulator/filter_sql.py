"""Filter SQL: the SQL that a filter's conditions compile to, over the store's jobs table.

The SQL says what the predicate says, for jobs as the emulator stores them (string fields are
strings, times the RFC 3339 it writes): a missing value is NULL and every condition is 0 or 1,
never NULL, so NOT stays exact; strings compare as UTF-8 bytes, whose order is that of code
points, and wildcards match bytes (exact for valid UTF-8, and for a NUL inside a value, where
SQLite's character functions would stop). A literal that is not valid Unicode (a lone
surrogate) has no SQL: each function here then gives None, and the list handler runs the
predicate over the documents instead.

Takes :class:`~.filter_fields.Field` s and :class:`~.filter_tokens.Literal` s; hands
:class:`Sql` fragments to ``filter_conditions``, which pairs each with its predicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .filter_fields import Field
from .filter_tokens import ORDER, Literal


@dataclass(frozen=True)
class Sql:
    """A condition on a row of the store's jobs table that is always 0 or 1, never NULL."""

    text: str
    args: tuple[Any, ...] = ()


_INT64 = range(-(2**63), 2**63)
TRUE, _FALSE = Sql("1"), Sql("0")


def _utf8(text: str) -> bytes | None:
    """A literal's bytes as SQLite would hold them; None for text that is not Unicode."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def sql_match(expr: str, literal: Literal) -> Sql | None:
    """SQL for what ``filter_conditions`` matches a string by, on a non-NULL text ``expr``, on
    its UTF-8 bytes."""
    data = _utf8(literal.text)
    if data is None:
        return None
    blob = f"CAST({expr} AS BLOB)"
    if literal.wild_start and literal.wild_end:
        return Sql(f"instr({blob}, ?) > 0", (data,))
    if not data and literal.wild:
        return TRUE  # "*" alone: every string ends (or begins) with ""
    # substr() of an empty blob is NULL (which no non-empty ``data`` equals)
    if literal.wild_start:
        return Sql(f"IFNULL(substr({blob}, ?) = ?, 0)", (-len(data), data))
    if literal.wild_end:
        return Sql(f"IFNULL(substr({blob}, 1, ?) = ?, 0)", (len(data), data))
    return Sql(f"{blob} = ?", (data,))


def sql_labels(test: Sql, negate: bool = False) -> Sql:
    """Whether the job has a label row that passes ``test`` (on ``key`` and ``value``)."""
    inside = "NOT IN" if negate else "IN"
    return Sql(f"+name {inside} (SELECT job FROM job_labels WHERE {test.text})", test.args)


def ref(field: Field) -> str:
    """A JSON field's column in SQL. The "+" keeps SQLite from answering through an index on
    it (the state's, for the schedule): a list reads jobs in list order and stops at a page."""
    return f"+{field.column}"


def _sql_and(*parts: Sql) -> Sql:
    return Sql("(" + " AND ".join(p.text for p in parts) + ")", sum((p.args for p in parts), ()))


def sql_present(field: Field) -> Sql | None:
    """What ``FIELD:*`` asks: the field is there and not empty (a label: set, even to "")."""
    if field.label is not None:
        if _utf8(field.label) is None:
            return None
        return sql_labels(Sql("key = ?", (field.label,)))
    column = ref(field)
    if field.kind == "time":
        return Sql(f"({column} IS NOT NULL)")
    return Sql(f"({column} IS NOT NULL AND {column} != '')")


def sql_equal(field: Field, literal: Literal, equal: bool) -> Sql | None:
    """``field`` matches ``literal`` (wildcards allowed), or does not (a missing field does not)."""
    if field.label is not None:
        match = sql_match("value", literal)
        if match is None or _utf8(field.label) is None:
            return None
        return sql_labels(_sql_and(Sql("key = ?", (field.label,)), match), negate=not equal)
    column = ref(field)
    match = sql_match(column, literal)
    if match is None:
        return None
    if equal:
        return Sql(f"({column} IS NOT NULL AND {match.text})", match.args)
    return Sql(f"({column} IS NULL OR NOT {match.text})", match.args)


def sql_order(field: Field, op: str, value: Any) -> Sql | None:
    """``field`` compares with ``value`` by ``op`` (<, <=, >, >=; a missing field does not)."""
    if isinstance(value, str) and _utf8(value) is None:
        return None
    if field.label is not None:
        if _utf8(field.label) is None:
            return None
        return sql_labels(Sql(f"key = ? AND value {op} ?", (field.label, value)))
    column = ref(field)
    return Sql(f"({column} IS NOT NULL AND {column} {op} ?)", (value,))


def sql_time(column: str, op: str, instant: int) -> Sql:
    """A time ``column`` (nanoseconds) compares with ``instant`` by ``op``; a job without the
    time matches only ``!=``."""
    missing = op == "!="  # what a job without the time gets
    if instant not in _INT64:
        # Beyond the years 1677-2262: every stored time (nanoseconds in 64 bits) is on the same
        # side of it as 0 is, so the answer is one for all of them.
        present = ORDER[op](0, instant)
        if present == missing:
            return TRUE if present else _FALSE
        return Sql(f"({column} IS NOT NULL)" if present else f"({column} IS NULL)")
    if missing:
        return Sql(f"({column} IS NULL OR {column} != ?)", (instant,))
    return Sql(f"({column} IS NOT NULL AND {column} {op} ?)", (instant,))


def joined(parts: Sequence[Sql], word: str) -> Sql:
    """``parts`` joined by AND or OR as a balanced tree: SQLite allows 1,000 levels of nesting
    in an expression, and a filter of 8,192 characters may have over 1,000 terms."""
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    left, right = joined(parts[:middle], word), joined(parts[middle:], word)
    return Sql(f"({left.text} {word} {right.text})", left.args + right.args)
