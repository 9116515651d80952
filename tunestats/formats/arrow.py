"""Arrow: the vector machinery that the formats' Arrow checks are written with.

pyarrow is imported on first use; arrays go to numpy and back through their buffers;
:func:`_parse` reads a whole block with a format's explicit schema, or says it cannot;
:class:`_Columns` holds a block's texts (per text its row and side) and the rows that break a
rule; :func:`_list_info`, :func:`_turns` and :func:`_is` are the per-line rules' vector forms;
:func:`code_points_and_spaces` counts characters and white space over a whole array.

Hands to the format modules these tools, and to ``blocks`` (the Arrow path) the parsed table
and the filled-in columns, from which it builds the ExampleBatch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

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


def _schema(name: str, build: Callable[[Any], Any]) -> Any:
    """The Arrow schema ``build(pyarrow)`` of format ``name``, built once, after _arrow()."""
    if name not in _SCHEMAS:
        _SCHEMAS[name] = build(_pa)
    return _SCHEMAS[name]


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


def _concat(arrays: list[Any]) -> Any:
    """One Arrow string array of the string arrays ``arrays``."""
    return _pa.chunked_array(arrays, type=_pa.string()).combine_chunks()


def _parse(lines: list[bytes], schema: Any) -> Any | None:
    # Every line must be whole objects: starting with `{` and ending with `}`. pyarrow reads a
    # newline as white space, so a record broken over two lines (and another line holding two)
    # would otherwise shift rows against lines; and pyarrow 26 crashes on a first row that is
    # not an object (a bare `null`).
    if not all(line.lstrip()[:1] == b"{" and line.rstrip()[-1:] == b"}" for line in lines):
        return None
    data = b"\n".join(lines)
    longest = max(map(len, lines)) + 1
    options = _pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
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
