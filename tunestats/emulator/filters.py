"""The ``filter`` of the emulator's ``tuningJobs.list`` call: text in, job predicate out.

:func:`compile_filter` reads the ``filter`` of ``GET .../tuningJobs?filter=`` (the AIP-160
filter language, over the fields a TuningJob can be listed by) and hands the list handler a
:class:`Filter`: a predicate over one job (a proto3 JSON dict, camelCase keys), and the same
condition in SQL over the store's columns (:data:`COLUMNS`, filled from a job by
:func:`facets`, and the ``job_labels`` table, filled by :func:`label_items`), so that the store
picks the jobs without reading each one's document. :func:`parse_filter` gives the predicate
alone. Bad filters raise :class:`FilterError`, whose one-line message names the problem and its
1-based character position, so the handler can answer 400 INVALID_ARGUMENT with it as is.

The SQL says what the predicate says, for jobs as the emulator stores them (string fields are
strings, times the RFC 3339 it writes): a missing value is NULL and every condition is 0 or 1,
never NULL, so NOT stays exact; strings compare as UTF-8 bytes, whose order is that of code
points, and wildcards match bytes (exact for valid UTF-8, and for a NUL inside a value, where
SQLite's character functions would stop). A literal that is not valid Unicode (a lone
surrogate) has no SQL: the handler then runs the predicate over the documents.

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

import calendar
import json
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

Predicate = Callable[[dict], bool]


class FilterError(ValueError):
    """A filter that cannot be parsed; ``position`` is 1-based, ``problem`` says what is wrong."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"invalid filter at character {position}: {problem}")
        self.position = position
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:
        # The default would rebuild from the message alone, which __init__ does not take.
        return (type(self), (self.position, self.problem))


# ---------------------------------------------------------------------------------------------
# Fields

JOB_STATES: MappingProxyType[str, int] = MappingProxyType(
    {
        "JOB_STATE_UNSPECIFIED": 0,
        "JOB_STATE_QUEUED": 1,
        "JOB_STATE_PENDING": 2,
        "JOB_STATE_RUNNING": 3,
        "JOB_STATE_SUCCEEDED": 4,
        "JOB_STATE_FAILED": 5,
        "JOB_STATE_CANCELLING": 6,
        "JOB_STATE_CANCELLED": 7,
        "JOB_STATE_PAUSED": 8,
        "JOB_STATE_EXPIRED": 9,
        "JOB_STATE_UPDATING": 10,
        "JOB_STATE_PARTIALLY_SUCCEEDED": 11,
    }
)
_STATE_PREFIX = "JOB_STATE_"

# Filter name -> (JSON key in the job, kind). Both spellings, since clients send either.
_FIELDS: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {
        "state": ("state", "state"),
        "create_time": ("createTime", "time"),
        "createTime": ("createTime", "time"),
        "update_time": ("updateTime", "time"),
        "updateTime": ("updateTime", "time"),
        "start_time": ("startTime", "time"),
        "startTime": ("startTime", "time"),
        "end_time": ("endTime", "time"),
        "endTime": ("endTime", "time"),
        "display_name": ("tunedModelDisplayName", "string"),
        "displayName": ("tunedModelDisplayName", "string"),
        "tuned_model_display_name": ("tunedModelDisplayName", "string"),
        "tunedModelDisplayName": ("tunedModelDisplayName", "string"),
        "description": ("description", "string"),
        "base_model": ("baseModel", "string"),
        "baseModel": ("baseModel", "string"),
        "name": ("name", "string"),
        "labels": ("labels", "labels"),
    }
)
_KNOWN = ", ".join(
    [*(name for name in _FIELDS if name.islower() and name != "labels"), "labels:KEY", "labels.KEY"]
)

# JSON key -> the store's column that holds it for the SQL (times as nanoseconds, the state as
# its name); labels are rows (job, key, value) of the table job_labels.
COLUMNS: MappingProxyType[str, str] = MappingProxyType(
    {
        "name": "f_name",
        "state": "state",
        "createTime": "f_create_ns",
        "updateTime": "f_update_ns",
        "startTime": "f_start_ns",
        "endTime": "f_end_ns",
        "tunedModelDisplayName": "f_display_name",
        "description": "f_description",
        "baseModel": "f_base_model",
    }
)
_STATE_NAMES = MappingProxyType({number: name for name, number in JOB_STATES.items()})


def facets(job: dict) -> dict[str, Any]:
    """The values of :data:`COLUMNS` for a job: None where the predicate sees nothing."""
    out: dict[str, Any] = {}
    for key, column in COLUMNS.items():
        value = job.get(key)
        if key.endswith("Time"):
            value = parse_timestamp(value) if isinstance(value, str) else None
        elif key == "state" and isinstance(value, int) and not isinstance(value, bool):
            value = _STATE_NAMES.get(value, str(value))  # a number: its name, as stored
        elif not isinstance(value, str):
            value = None
        out[column] = value
    return out


def label_items(job: dict) -> list[tuple[str, str]]:
    """The (key, value) rows of ``job_labels`` for a job."""
    return [(k, v) for k, v in _labels_of(job).items() if isinstance(v, str)]


@dataclass(frozen=True)
class _Field:
    """A resolved filter field: how to read it from a job, and how to compare it."""

    name: str  # as written, for messages
    kind: str  # "string", "time", "state", "labels"
    get: Callable[[dict], Any]
    present: Callable[[dict], bool]  # what FIELD:* asks
    column: str | None = None  # its column in the store (JSON fields)
    label: str | None = None  # its key in job_labels (label fields)


def _json_field(name: str, key: str, kind: str) -> _Field:
    # proto3 JSON leaves out empty values, so an empty one counts as missing for ":*".
    return _Field(
        name,
        kind,
        lambda job: job.get(key),
        lambda job: job.get(key) not in (None, "", {}, []),
        column=COLUMNS.get(key),
    )


def _label_field(name: str, key: str) -> _Field:
    # A label may be set to "", and is still there.
    return _Field(
        name,
        "string",
        lambda job: _labels_of(job).get(key),
        lambda job: key in _labels_of(job),
        label=key,
    )


def _labels_of(job: dict) -> dict:
    labels = job.get("labels")
    return labels if isinstance(labels, dict) else {}


# ---------------------------------------------------------------------------------------------
# Tokens

_OPERATOR_CHARS = frozenset("<>=!:")
_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">=", ":"})
_KEYWORDS = frozenset({"AND", "OR", "NOT"})
# Each "(" costs a few Python frames here and in the predicate; well below the recursion limit.
_MAX_DEPTH = 64
_ESCAPES = MappingProxyType(
    {"\\": "\\", '"': '"', "'": "'", "*": "*", "n": "\n", "t": "\t", "r": "\r"}
)


@dataclass(frozen=True)
class _Literal:
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
class _Token:
    kind: str  # "word", "value", "string", "op", "(", ")", ".", "-", a keyword, or "eof"
    text: str  # as written, for messages
    start: int  # 0-based offsets into the filter
    end: int
    literal: _Literal | None = None  # for "value" and "string"

    @property
    def pos(self) -> int:
        return self.start + 1

    def describe(self) -> str:
        return "end of filter" if self.kind == "eof" else _quote(self.text)


def _quote(text: str) -> str:
    # JSON quoting, plus escapes for the separators JSON leaves raw (U+2028, ...), keeps the
    # message on one line whatever the filter holds.
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in quoted)


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_-"


def _is_value_char(ch: str) -> bool:
    # ":" and "+" let RFC 3339 times go unquoted; "*" is the wildcard.
    return ch.isalnum() or ch in "_-.:+*"


def _literal(chars: Sequence[tuple[str, bool]]) -> _Literal:
    """Builds a literal from (character, was escaped) pairs: only unescaped end stars are wild."""
    wild_start = bool(chars) and chars[0] == ("*", False)
    rest = chars[1:] if wild_start else chars
    wild_end = bool(rest) and rest[-1] == ("*", False)
    rest = rest[:-1] if wild_end else rest
    return _Literal("".join(ch for ch, _ in rest), wild_start, wild_end)


def _read_string(text: str, start: int) -> _Token:
    quote = text[start]
    chars: list[tuple[str, bool]] = []
    i = start + 1
    while i < len(text) and text[i] != quote:
        if text[i] != "\\":
            chars.append((text[i], False))
            i += 1
            continue
        if i + 1 >= len(text):
            break
        escaped = text[i + 1]
        if escaped not in _ESCAPES:
            raise FilterError(i + 1, f"unknown escape {_quote(text[i : i + 2])} in string")
        chars.append((_ESCAPES[escaped], True))
        i += 2
    if i >= len(text):
        raise FilterError(start + 1, f"string opened with {quote} is never closed")
    return _Token("string", text[start : i + 1], start, i + 1, _literal(chars))


def _read_run(text: str, start: int, accept: Callable[[str], bool]) -> int:
    end = start
    while end < len(text) and accept(text[end]):
        end += 1
    return end


def _next_token(text: str, i: int, after_operator: bool) -> _Token:
    ch = text[i]
    if ch in "\"'":
        return _read_string(text, i)
    if ch in _OPERATOR_CHARS:
        end = _read_run(text, i, _OPERATOR_CHARS.__contains__)
        if text[i:end] not in _OPERATORS:
            raise FilterError(i + 1, f"unknown operator {_quote(text[i:end])}")
        return _Token("op", text[i:end], i, end)
    # Right after an operator comes a value, whose bare form may hold ".", ":" and so on; in
    # any other place "." separates field names and a leading "-" is NOT.
    if after_operator and _is_value_char(ch):
        end = _read_run(text, i, _is_value_char)
        word = text[i:end]
        if word in _KEYWORDS:
            return _Token(word, word, i, end)
        return _Token("value", word, i, end, _literal([(c, False) for c in word]))
    if ch in "().-":
        return _Token(ch, ch, i, i + 1)
    if _is_name_char(ch):
        end = _read_run(text, i, _is_name_char)
        word = text[i:end]
        return _Token(word if word in _KEYWORDS else "word", word, i, end)
    raise FilterError(i + 1, f"unexpected character {_quote(ch)}")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            tokens.append(_Token("eof", "", i, i))
            return tokens
        after_operator = bool(tokens) and tokens[-1].kind == "op"
        token = _next_token(text, i, after_operator)
        tokens.append(token)
        i = token.end


# ---------------------------------------------------------------------------------------------
# Values


_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def parse_timestamp(text: str) -> int | None:
    """Nanoseconds since the epoch for an RFC 3339 timestamp, or None if it is not one.

    Integer arithmetic throughout: a float holds only about 16 digits, and an instant to the
    nanosecond needs 19.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    try:
        datetime(year, month, day, hour, minute, second)  # checks day of month, hour, ...
    except ValueError:
        return None
    offset = 0
    if match[8] is not None:
        offset_hours, offset_minutes = int(match[9]), int(match[10])
        if offset_hours > 23 or offset_minutes > 59:
            return None
        offset = (offset_hours * 60 + offset_minutes) * 60 * (1 if match[8] == "+" else -1)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    return seconds * 1_000_000_000 + int((match[7] or "0").ljust(9, "0"))


def _state_number(value: Any) -> int | None:
    """The JobState number of a job's ``state`` (JSON name or number); -1 if unknown."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return JOB_STATES.get(value, -1) if isinstance(value, str) else -1


def _filter_state(literal: _Literal) -> int | None:
    """The JobState number a filter value names, or None."""
    text = literal.text
    if literal.wild:
        return None
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        # int() of thousands of digits raises (and is slow): no state has more than two.
        number = int(digits) if len(digits) <= 2 else -1
        return number if number in JOB_STATES.values() else None
    return JOB_STATES.get(text, JOB_STATES.get(_STATE_PREFIX + text))


def _string_matcher(literal: _Literal) -> Callable[[str], bool]:
    text = literal.text
    if literal.wild_start and literal.wild_end:
        return lambda value: text in value
    if literal.wild_start:
        return lambda value: value.endswith(text)
    if literal.wild_end:
        return lambda value: value.startswith(text)
    return lambda value: value == text


_ORDER = MappingProxyType(
    {
        "=": operator.eq,
        "!=": operator.ne,
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
    }
)


# ---------------------------------------------------------------------------------------------
# SQL


@dataclass(frozen=True)
class _Sql:
    """A condition on a row of the store's jobs table that is always 0 or 1, never NULL."""

    text: str
    args: tuple[Any, ...] = ()


_INT64 = range(-(2**63), 2**63)
_TRUE, _FALSE = _Sql("1"), _Sql("0")


def _utf8(text: str) -> bytes | None:
    """A literal's bytes as SQLite would hold them; None for text that is not Unicode."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _sql_match(expr: str, literal: _Literal) -> _Sql | None:
    """SQL for :func:`_string_matcher` on a non-NULL text ``expr``, on its UTF-8 bytes."""
    data = _utf8(literal.text)
    if data is None:
        return None
    blob = f"CAST({expr} AS BLOB)"
    if literal.wild_start and literal.wild_end:
        return _Sql(f"instr({blob}, ?) > 0", (data,))
    if not data and literal.wild:
        return _TRUE  # "*" alone: every string ends (or begins) with ""
    # substr() of an empty blob is NULL (which no non-empty ``data`` equals)
    if literal.wild_start:
        return _Sql(f"IFNULL(substr({blob}, ?) = ?, 0)", (-len(data), data))
    if literal.wild_end:
        return _Sql(f"IFNULL(substr({blob}, 1, ?) = ?, 0)", (len(data), data))
    return _Sql(f"{blob} = ?", (data,))


def _sql_labels(test: _Sql, negate: bool = False) -> _Sql:
    """Whether the job has a label row that passes ``test`` (on ``key`` and ``value``)."""
    inside = "NOT IN" if negate else "IN"
    return _Sql(f"+name {inside} (SELECT job FROM job_labels WHERE {test.text})", test.args)


def _ref(field: _Field) -> str:
    """A JSON field's column in SQL. The "+" keeps SQLite from answering through an index on
    it (the state's, for the schedule): a list reads jobs in list order and stops at a page."""
    return f"+{field.column}"


def _sql_and(*parts: _Sql) -> _Sql:
    return _Sql("(" + " AND ".join(p.text for p in parts) + ")", sum((p.args for p in parts), ()))


def _sql_present(field: _Field) -> _Sql | None:
    if field.label is not None:
        if _utf8(field.label) is None:
            return None
        return _sql_labels(_Sql("key = ?", (field.label,)))
    column = _ref(field)
    if field.kind == "time":
        return _Sql(f"({column} IS NOT NULL)")
    return _Sql(f"({column} IS NOT NULL AND {column} != '')")


def _sql_equal(field: _Field, literal: _Literal, equal: bool) -> _Sql | None:
    """``field`` matches ``literal`` (wildcards allowed), or does not (a missing field does not)."""
    if field.label is not None:
        match = _sql_match("value", literal)
        if match is None or _utf8(field.label) is None:
            return None
        return _sql_labels(_sql_and(_Sql("key = ?", (field.label,)), match), negate=not equal)
    column = _ref(field)
    match = _sql_match(column, literal)
    if match is None:
        return None
    if equal:
        return _Sql(f"({column} IS NOT NULL AND {match.text})", match.args)
    return _Sql(f"({column} IS NULL OR NOT {match.text})", match.args)


def _sql_order(field: _Field, op: str, value: Any) -> _Sql | None:
    """``field`` compares with ``value`` by ``op`` (<, <=, >, >=; a missing field does not)."""
    if isinstance(value, str) and _utf8(value) is None:
        return None
    if field.label is not None:
        if _utf8(field.label) is None:
            return None
        return _sql_labels(_Sql(f"key = ? AND value {op} ?", (field.label, value)))
    column = _ref(field)
    return _Sql(f"({column} IS NOT NULL AND {column} {op} ?)", (value,))


# ---------------------------------------------------------------------------------------------
# Restrictions: one field, one operator, one value -> a condition


@dataclass(frozen=True)
class _Condition:
    """One condition, as a predicate over a job and (when it has one) as SQL."""

    test: Predicate
    sql: _Sql | None


def _on_labels(op: _Token, literal: _Literal) -> _Condition:
    if op.text != ":":
        raise FilterError(
            op.pos, f'"labels" takes only ":" (labels:KEY), not {op.describe()}; use labels.KEY'
        )
    matches = _string_matcher(literal)
    match = _sql_match("key", literal)
    return _Condition(
        lambda job: any(matches(key) for key in _labels_of(job)),
        None if match is None else _sql_labels(match),
    )


def _on_state(field: _Field, op: _Token, value: _Token) -> _Condition:
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
        state = _state_number(field.get(job))
        return not equal if state is None else (state == wanted) == equal

    name = _STATE_NAMES[wanted]
    column = _ref(field)
    if equal:
        sql = _Sql(f"({column} IS NOT NULL AND {column} = ?)", (name,))
    else:
        sql = _Sql(f"({column} IS NULL OR {column} != ?)", (name,))
    return _Condition(matches, sql)


def _on_time(field: _Field, op: str, value: _Token) -> _Condition:
    assert value.literal is not None
    instant = None if value.literal.wild else parse_timestamp(value.literal.text)
    if instant is None:
        raise FilterError(
            value.pos,
            f"malformed timestamp {value.describe()} for {_quote(field.name)}: expected "
            "RFC 3339 such as 2026-11-27T05:00:00Z or 2026-11-27T10:30:00.5+05:30",
        )
    compare = _ORDER[op]

    def matches(job: dict) -> bool:
        stored = field.get(job)
        # A stored time that does not parse is as good as missing: it equals nothing.
        stored = parse_timestamp(stored) if isinstance(stored, str) else None
        return op == "!=" if stored is None else compare(stored, instant)

    return _Condition(matches, _sql_time(_ref(field), op, instant))


def _sql_time(column: str, op: str, instant: int) -> _Sql:
    missing = op == "!="  # what a job without the time gets
    if instant not in _INT64:
        # Beyond the years 1677-2262: every stored time (nanoseconds in 64 bits) is on the same
        # side of it as 0 is, so the answer is one for all of them.
        present = _ORDER[op](0, instant)
        if present == missing:
            return _TRUE if present else _FALSE
        return _Sql(f"({column} IS NOT NULL)" if present else f"({column} IS NULL)")
    if missing:
        return _Sql(f"({column} IS NULL OR {column} != ?)", (instant,))
    return _Sql(f"({column} IS NOT NULL AND {column} {op} ?)", (instant,))


def _on_string(field: _Field, op: _Token, value: _Token) -> _Condition:
    literal = value.literal
    assert literal is not None
    operator_text = "=" if op.text == ":" else op.text
    if operator_text in ("=", "!="):
        equal = operator_text == "="
        matches_text = _string_matcher(literal)

        def matches(job: dict) -> bool:
            text = field.get(job)
            return matches_text(text) == equal if isinstance(text, str) else not equal

        return _Condition(matches, _sql_equal(field, literal, equal))
    if literal.wild:
        raise FilterError(
            value.pos, f'wildcard "*" works only with "=", "!=" and ":", not {op.describe()}'
        )
    compare = _ORDER[operator_text]
    wanted = literal.text

    def in_order(job: dict) -> bool:
        text = field.get(job)
        return isinstance(text, str) and compare(text, wanted)

    return _Condition(in_order, _sql_order(field, operator_text, wanted))


def _restriction(field: _Field, op: _Token, value: _Token) -> _Condition:
    literal = value.literal
    assert literal is not None
    if field.kind == "labels":
        return _on_labels(op, literal)
    if op.text == ":" and literal.wild_start and not literal.text:
        return _Condition(field.present, _sql_present(field))
    if field.kind == "state":
        return _on_state(field, op, value)
    if field.kind == "time":
        return _on_time(field, "=" if op.text == ":" else op.text, value)
    return _on_string(field, op, value)


# ---------------------------------------------------------------------------------------------
# Boolean structure


def _match_all(job: dict) -> bool:
    return True


def _joined(parts: Sequence[_Sql], word: str) -> _Sql:
    """``parts`` joined by AND or OR as a balanced tree: SQLite allows 1,000 levels of nesting
    in an expression, and a filter of 8,192 characters may have over 1,000 terms."""
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    left, right = _joined(parts[:middle], word), _joined(parts[middle:], word)
    return _Sql(f"({left.text} {word} {right.text})", left.args + right.args)


def _combined(parts: Sequence[_Condition], word: str) -> _Condition:
    if len(parts) == 1:
        return parts[0]
    tests = tuple(part.test for part in parts)
    if word == "AND":
        test: Predicate = lambda job: all(t(job) for t in tests)  # noqa: E731
    else:
        test = lambda job: any(t(job) for t in tests)  # noqa: E731
    sqls = [part.sql for part in parts]
    sql = None if any(p is None for p in sqls) else _joined(sqls, word)  # type: ignore[arg-type]
    return _Condition(test, sql)


def _all_of(parts: Sequence[_Condition]) -> _Condition:
    return _combined(parts, "AND")


def _any_of(parts: Sequence[_Condition]) -> _Condition:
    return _combined(parts, "OR")


def _negate(part: _Condition) -> _Condition:
    test = part.test
    sql = None if part.sql is None else _Sql(f"(NOT {part.sql.text})", part.sql.args)
    return _Condition(lambda job: not test(job), sql)


def _expected(what: str, after: _Token | None, found: _Token) -> FilterError:
    where = f" after {after.describe()}" if after is not None else ""
    return FilterError(found.pos, f"expected {what}{where}, found {found.describe()}")


class _Parser:
    """Recursive descent over the AIP-160 EBNF, one method per rule:

    expression = sequence {"AND" sequence}      sequence = factor {factor}
    factor = term {"OR" term}                   term = ["NOT" | "-"] simple
    simple = restriction | "(" expression ")"   restriction = member operator value
    member = name {"." (name | string)}
    """

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._next = 0
        self._depth = 0

    def _peek(self) -> _Token:
        return self._tokens[self._next]

    def _take(self) -> _Token:
        token = self._tokens[self._next]
        self._next += 1
        return token

    def parse(self) -> _Condition:
        predicate = self._expression(None)
        token = self._peek()
        # A sequence runs on until AND, OR, ")" or the end, and the first two are taken above
        # it: whatever stops the whole expression early is a ")".
        if token.kind != "eof":
            raise FilterError(token.pos, f'{token.describe()} without a matching "("')
        return predicate

    def _expression(self, after: _Token | None) -> _Condition:
        parts = [self._sequence(after)]
        while self._peek().kind == "AND":
            parts.append(self._sequence(self._take()))
        return _all_of(parts)

    def _sequence(self, after: _Token | None) -> _Condition:
        parts = [self._factor(after)]
        while self._peek().kind not in ("AND", "OR", ")", "eof"):
            parts.append(self._factor(None))
        return _all_of(parts)

    def _factor(self, after: _Token | None) -> _Condition:
        parts = [self._term(after)]
        while self._peek().kind == "OR":
            parts.append(self._term(self._take()))
        return _any_of(parts)

    def _term(self, after: _Token | None) -> _Condition:
        if self._peek().kind in ("NOT", "-"):
            return _negate(self._simple(self._take()))
        return self._simple(after)

    def _simple(self, after: _Token | None) -> Predicate:
        token = self._peek()
        if token.kind == "(":
            return self._composite()
        if token.kind == "word":
            return self._restriction()
        raise _expected('a field name or "("', after, token)

    def _composite(self) -> _Condition:
        opening = self._take()
        if self._peek().kind == ")":
            raise FilterError(opening.pos, "empty parentheses")
        if self._depth == _MAX_DEPTH:
            raise FilterError(opening.pos, f"parentheses nested more than {_MAX_DEPTH} deep")
        self._depth += 1
        inner = self._expression(opening)
        self._depth -= 1
        closing = self._peek()
        if closing.kind != ")":
            raise FilterError(
                closing.pos,
                f'expected ")" to close the "(" at character {opening.pos}, '
                f"found {closing.describe()}",
            )
        self._take()
        return inner

    def _restriction(self) -> _Condition:
        field = self._member()
        op = self._peek()
        if op.kind != "op":
            raise FilterError(
                op.pos,
                f"expected a comparison operator (=, !=, <, <=, >, >= or :) after "
                f"{_quote(field.name)}, found {op.describe()}",
            )
        self._take()
        value = self._peek()
        if value.kind not in ("value", "string"):
            raise _expected("a value", op, value)
        self._take()
        return _restriction(field, op, value)

    def _member(self) -> _Field:
        parts = [self._take()]
        # Members are written without spaces: "labels.team", not "labels . team".
        while self._peek().kind == "." and self._peek().start == parts[-1].end:
            dot = self._take()
            part = self._peek()
            if part.kind not in ("word", "string", *_KEYWORDS) or part.start != dot.end:
                raise _expected("a field name", dot, part)
            parts.append(self._take())
        return _resolve_field(parts)


def _resolve_field(parts: Sequence[_Token]) -> _Field:
    written = ".".join(part.text for part in parts)
    names = [part.literal.plain if part.literal is not None else part.text for part in parts]
    if len(parts) == 1 and names[0] in _FIELDS:
        key, kind = _FIELDS[names[0]]
        return _json_field(written, key, kind)
    if len(parts) == 2 and names[0] == "labels":
        return _label_field(written, names[1])
    hint = " (AND, OR and NOT are upper case)" if written in ("and", "or", "not") else ""
    raise FilterError(parts[0].pos, f"unknown field {_quote(written)}{hint}; known: {_KNOWN}")


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
        return Filter(_match_all, _TRUE.text)
    condition = _Parser(_tokenize(text)).parse()
    if condition.sql is None:
        return Filter(condition.test, None)
    return Filter(condition.test, condition.sql.text, condition.sql.args)


def parse_filter(text: str | None) -> Predicate:
    """A predicate over proto3-JSON jobs for an AIP-160 filter (see :func:`compile_filter`)."""
    return compile_filter(text).test
