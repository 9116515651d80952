"""Arrow path: a whole block of lines parsed at once by pyarrow.json, checked with vectors.

Each format has an explicit Arrow schema for its plain shape (text only: no media, calls,
tools or unknown keys). A block that Arrow cannot parse with it (a malformed line, an
unexpected key or type) returns None and goes through the per-line path whole. A block that
parses is checked with vector operations for every rule of SPEC §4 that the schema does not
already enforce; the rows that break one are handed back to be redone by the per-line path,
which writes their reasons. So dropped-example accounting is the per-line path's, always.

Hands to counting: an ExampleBatch of the rows that passed, and the rows to redo.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .examples import ExampleBatch

_pa: Any = None
_pc: Any = None
_pj: Any = None
_SCHEMAS: dict[str, Any] = {}


def _arrow() -> None:
    """Import pyarrow on first use: small runs never pay for it."""
    global _pa, _pc, _pj
    if _pa is not None:
        return
    import pyarrow
    import pyarrow.compute
    import pyarrow.json

    _pa, _pc, _pj = pyarrow, pyarrow.compute, pyarrow.json
    # malloc gives freed block memory back; mimalloc (the default) keeps it, per process.
    _pa.set_memory_pool(_pa.system_memory_pool())
    part = _pa.struct([("text", _pa.string())])
    content = _pa.struct([("role", _pa.string()), ("parts", _pa.list_(part))])
    message = _pa.list_(_pa.struct([("role", _pa.string()), ("content", _pa.string())]))
    _SCHEMAS.update(
        {
            "gemini": _pa.schema(
                [("systemInstruction", content), ("contents", _pa.list_(content))]
            ),
            "gemini-messages": _pa.schema([("messages", message)]),
            "openai-chat": _pa.schema([("messages", message)]),
            "palm": _pa.schema([("input_text", _pa.string()), ("output_text", _pa.string())]),
            "prompt-completion": _pa.schema(
                [("prompt", _pa.string()), ("completion", _pa.string())]
            ),
        }
    )


# Arrays go to numpy through their buffers, and masks come back the same way: pyarrow's own
# conversions (to_numpy, pa.array) import pandas when it is installed, 35 MB per process.


def _ints(array: Any) -> np.ndarray:
    """An int32/int64 Arrow array without nulls, as int64."""
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    dtype = np.int32 if array.type.bit_width == 32 else np.int64
    values = np.frombuffer(array.buffers()[1], dtype=dtype)
    return values[array.offset : array.offset + len(array)].astype(np.int64)


def _bits(buffer: Any, offset: int, n: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), bitorder="little")
    return bits[offset : offset + n].astype(bool)


def _valid(array: Any) -> np.ndarray:
    """Per value: not null."""
    validity = array.buffers()[0]
    if validity is None or len(array) == 0:
        return np.ones(len(array), dtype=bool)
    return _bits(validity, array.offset, len(array))


def _true(array: Any) -> np.ndarray:
    """A boolean Arrow array as numpy; null counts as False."""
    if len(array) == 0:
        return np.zeros(0, dtype=bool)
    return _bits(array.buffers()[1], array.offset, len(array)) & _valid(array)


def _mask(values: np.ndarray) -> Any:
    """A numpy bool array as an Arrow one, for ``filter``."""
    packed = np.packbits(values, bitorder="little")
    return _pa.Array.from_buffers(_pa.bool_(), len(values), [None, _pa.py_buffer(packed)])


def _strings(values: tuple[str, ...]) -> Any:
    data = [v.encode() for v in values]
    offsets = np.cumsum([0] + [len(d) for d in data]).astype(np.int32)
    buffers = [None, _pa.py_buffer(offsets), _pa.py_buffer(b"".join(data))]
    return _pa.Array.from_buffers(_pa.string(), len(values), buffers)


def _parse(lines: list[bytes], fmt: str) -> Any | None:
    # Every line must be whole objects: starting with `{` and ending with `}`. pyarrow reads a
    # newline as white space, so a record broken over two lines (and another line holding two)
    # would otherwise shift rows against lines; and pyarrow 26 crashes on a first row that is
    # not an object (a bare `null`).
    if not all(line.lstrip()[:1] == b"{" and line.rstrip()[-1:] == b"}" for line in lines):
        return None
    data = b"\n".join(lines)
    longest = max(map(len, lines)) + 1
    options = _pj.ParseOptions(explicit_schema=_SCHEMAS[fmt], unexpected_field_behavior="error")
    read = _pj.ReadOptions(use_threads=False, block_size=max(1 << 20, longest))
    try:
        table = _pj.read_json(_pa.py_buffer(data), read_options=read, parse_options=options)
        table.validate(full=True)  # Arrow does not check UTF-8 while parsing
    except (_pa.ArrowInvalid, _pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(lines):  # two values on one line, or a trailing `null`
        return None
    return table.combine_chunks()


class _Columns:
    """Texts of a block as flat columns: per text its row, side, and whether it counts chars."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.bad = np.zeros(rows, dtype=bool)
        self.messages = np.zeros(rows, dtype=np.int64)
        self.texts: list[Any] = []  # Arrow string arrays
        self.owner: list[np.ndarray] = []
        self.output: list[np.ndarray] = []

    def add(self, texts: Any, owner: np.ndarray, output: np.ndarray | bool) -> None:
        self.bad[owner[~_valid(texts)]] = True
        self.texts.append(texts)
        self.owner.append(owner)
        self.output.append(np.broadcast_to(output, owner.shape))

    def batch(self, line_numbers: np.ndarray) -> tuple[ExampleBatch, np.ndarray]:
        good = ~self.bad
        keep_rows = np.flatnonzero(good)
        new_index = np.cumsum(good) - 1
        texts = _pa.chunked_array(self.texts, type=_pa.string()).combine_chunks()
        owner = np.concatenate(self.owner) if self.owner else np.zeros(0, np.int64)
        output = np.concatenate(self.output) if self.output else np.zeros(0, bool)
        mask = good[owner]
        texts = texts.filter(_mask(mask))
        owner = new_index[owner[mask]]
        output = output[mask]
        n = len(keep_rows)
        lengths, spaces = code_points_and_spaces(texts)
        characters = np.bincount(owner, weights=lengths, minlength=n).astype(np.int64)
        billable = characters - np.bincount(owner, weights=spaces, minlength=n).astype(np.int64)
        nonempty = lengths > 0  # empty texts count 0 tokens: no work for the tokenizer
        if not nonempty.all():
            texts, owner, output = texts.filter(_mask(nonempty)), owner[nonempty], output[nonempty]
        zeros = np.zeros(n, dtype=np.int64)
        batch = ExampleBatch(
            lines=line_numbers[keep_rows],
            messages=self.messages[keep_rows],
            characters=characters,
            billable_characters=billable,
            images=zeros,
            other_media=zeros,
            texts=texts.to_pylist(),
            owner=owner.astype(np.int64),
            output=output.astype(bool),
        )
        return batch, np.flatnonzero(self.bad)


def _col(table: Any, name: str) -> Any:
    return table.column(name).combine_chunks()


# White space is what str.isspace() says (tests check every code point): in ASCII 9-13 and
# 28-32, and these, as UTF-8.
_WIDE_SPACES = [
    bytes(chr(c), "utf-8")
    for c in (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
]
assert {p[0] for p in _WIDE_SPACES} == {0xC2, 0xE1, 0xE2, 0xE3}


def code_points_and_spaces(texts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per string of a non-null Arrow string array: code points, and how many are white space.

    Works on the UTF-8 bytes with numpy: a regex over the text took a fifth of the run time.
    """
    _arrow()
    n = len(texts)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, offsets_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[texts.offset : texts.offset + n + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    data = np.zeros(0, np.uint8)
    if end > start:
        data = np.frombuffer(data_buffer, dtype=np.uint8)[start:end]
    bounds = (offsets - start).astype(np.int64)

    starts = bounds[:-1]
    nonempty = bounds[1:] > starts

    def per_text(marks: np.ndarray) -> np.ndarray:
        # The texts lie back to back in ``data``: without the empty ones, each segment of
        # reduceat ends where the next begins, the last at the end of ``data``.
        counts = np.zeros(n, dtype=np.int64)
        if nonempty.any():
            counts[nonempty] = np.add.reduceat(
                marks.view(np.uint8), starts[nonempty], dtype=np.int64
            )
        return counts

    code_points = _ints(_pc.utf8_length(texts))
    # str.isspace() in ASCII: 9-13, 28-32 (comparisons beat a lookup table here)
    spaces = ((data - np.uint8(9)) <= 4) | ((data - np.uint8(28)) <= 4)
    leads = np.flatnonzero((data == 0xC2) | ((data - np.uint8(0xE1)) <= 2))
    if len(leads):
        padded = np.concatenate([data, np.zeros(2, np.uint8)])  # a pattern may not run off
        for pattern in _WIDE_SPACES:
            hit = np.ones(len(leads), dtype=bool)
            for j, byte in enumerate(pattern):
                hit &= padded[leads + j] == byte
            spaces[leads[hit]] = True
    return code_points, per_text(spaces)


def _is(values: Any, *wanted: str) -> np.ndarray:
    """Per value: is it one of ``wanted`` (a null is not). No fill_null: its first call
    costs 36 MB of memory in pyarrow 26."""
    return _true(_pc.is_in(values, value_set=_strings(wanted), skip_nulls=True))


def _list_info(lists: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    """(flat values, parent row of each value, length of each list with nulls as 0)."""
    lengths = np.diff(_ints(lists.offsets))
    lengths[~_valid(lists)] = 0
    return _pc.list_flatten(lists), _ints(_pc.list_parent_indices(lists)), lengths


def _turns(roles: Any, row: np.ndarray, allowed: tuple[str, str], single: np.ndarray) -> tuple:
    """Role codes (0 first allowed, 1 second) and a bad mask per turn: unknown or missing
    role (missing is allowed in single-turn rows, as the first role), or the same as the turn
    before in the same row."""
    is_null = ~_valid(roles)
    code = _is(roles, allowed[1]).astype(np.int64)
    known = _is(roles, *allowed)
    bad = ~known & ~(is_null & single[row])
    same = np.zeros(len(code), dtype=bool)
    same[1:] = (row[1:] == row[:-1]) & (code[1:] == code[:-1])
    return code, bad | same


def _gemini(table: Any, cols: _Columns, distill: bool) -> None:
    contents, row, count = _list_info(_col(table, "contents"))
    cols.bad |= count == 0
    cols.messages = count
    cols.bad[row[~_valid(contents)]] = True
    code, bad_turn = _turns(contents.field("role"), row, ("user", "model"), count == 1)
    cols.bad[row[bad_turn]] = True
    if not distill:
        has_model = np.bincount(row, weights=code, minlength=cols.rows) > 0
        cols.bad |= ~has_model
    parts, part_content, part_count = _list_info(contents.field("parts"))
    cols.bad[row[part_count == 0]] = True
    cols.bad[row[part_content[~_valid(parts)]]] = True
    output = (code[part_content] == 1) & (not distill)
    cols.add(parts.field("text"), row[part_content], output)

    system = _col(table, "systemInstruction")
    present = _valid(system)
    sys_parts, sys_row, sys_count = _list_info(system.field("parts"))
    cols.bad |= present & (sys_count == 0)
    cols.bad[sys_row[~_valid(sys_parts)]] = True
    keep = present[sys_row]  # parts of an absent systemInstruction do not exist
    texts = sys_parts.field("text").filter(_mask(keep))
    cols.add(texts, sys_row[keep], False)


def _messages(table: Any, cols: _Columns, distill: bool, fmt: str) -> None:
    messages, row, count = _list_info(_col(table, "messages"))
    cols.bad |= count == 0
    cols.bad[row[~_valid(messages)]] = True
    roles = messages.field("role")
    is_system = _is(roles, "system")
    first = np.ones(len(row), dtype=bool)
    first[1:] = row[1:] != row[:-1]
    leading_system = is_system & first
    other = ~leading_system
    writer = "model" if fmt == "gemini-messages" else "assistant"
    if fmt == "gemini-messages":
        # system only first; the other turns alternate user/model
        cols.bad[row[is_system & ~first]] = True
        turn_roles = roles.filter(_mask(other))
        code, bad_turn = _turns(turn_roles, row[other], ("user", "model"), (count == 1))
        cols.bad[row[other][bad_turn]] = True
    else:
        # openai-chat: any order; a missing role only in single-message rows
        allowed = ("system", "user", "assistant", "tool")
        known = _is(roles, *allowed)
        missing_ok = ~_valid(roles) & (count == 1)[row]
        cols.bad[row[~known & ~missing_ok]] = True
        code = _is(roles, writer).astype(np.int64)[other]
    turns = np.bincount(row[other], minlength=cols.rows)
    cols.bad |= turns == 0
    cols.messages = turns.astype(np.int64)
    if not distill:
        cols.bad |= np.bincount(row[other], weights=code, minlength=cols.rows) == 0
    output = np.zeros(len(row), dtype=bool)
    if not distill:
        output[other] = code == 1
    cols.add(messages.field("content"), row, output)


def _pair(table: Any, cols: _Columns, distill: bool, input_key: str, output_key: str) -> None:
    rows = np.arange(cols.rows)
    cols.messages = np.full(cols.rows, 2, dtype=np.int64)
    cols.add(_col(table, input_key), rows, False)
    out = _col(table, output_key)
    if distill:  # the output may be missing in distillation
        present = _valid(out)
        cols.add(out.filter(_mask(present)), rows[present], False)
    else:
        cols.add(out, rows, True)


def arrow_batch(
    lines: list[bytes], line_numbers: np.ndarray, fmt: str, distill: bool
) -> tuple[ExampleBatch, np.ndarray] | None:
    """Parse non-blank ``lines`` at once; None when Arrow cannot take the block."""
    _arrow()
    table = _parse(lines, fmt)
    if table is None:
        return None
    cols = _Columns(table.num_rows)
    if fmt == "gemini":
        _gemini(table, cols, distill)
    elif fmt in ("gemini-messages", "openai-chat"):
        _messages(table, cols, distill, fmt)
    elif fmt == "palm":
        _pair(table, cols, distill, "input_text", "output_text")
    else:
        _pair(table, cols, distill, "prompt", "completion")
    return cols.batch(line_numbers)
