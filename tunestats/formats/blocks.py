"""Blocks: the Arrow path, a whole block of lines parsed at once by pyarrow.json.

Each format has an explicit Arrow schema for its plain shape (text only: no media, calls,
tools or unknown keys). A block that Arrow cannot parse with it (a malformed line, an
unexpected key or type) returns None and goes through the per-line path whole. A block that
parses is checked with the format's vector checks for every rule of SPEC §4 that the schema
does not already enforce; the rows that break one are handed back to be redone by the
per-line path, which writes their reasons. So dropped-example accounting is the per-line
path's, always.

Hands to counting: an ExampleBatch of the rows that passed, and the rows to redo.
"""

from __future__ import annotations

import numpy as np

from . import REGISTRY
from .arrow import _arrow, _Columns, _concat, _mask, _parse, _schema, code_points_and_spaces
from .examples import ExampleBatch


def arrow_batch(
    lines: list[bytes], line_numbers: np.ndarray, fmt: str, distill: bool
) -> tuple[ExampleBatch, np.ndarray] | None:
    """Parse non-blank ``lines`` at once; None when Arrow cannot take the block."""
    _arrow()
    spec = REGISTRY[fmt]
    table = _parse(lines, _schema(fmt, spec.arrow_schema))
    if table is None:
        return None
    cols = _Columns(table.num_rows)
    spec.arrow_checks(table, cols, distill)
    return _batch(cols, line_numbers)


def _batch(cols: _Columns, line_numbers: np.ndarray) -> tuple[ExampleBatch, np.ndarray]:
    """The ExampleBatch of the rows that no check marked bad, and the rows that it marked."""
    good = ~cols.bad
    keep_rows = np.flatnonzero(good)
    new_index = np.cumsum(good) - 1
    texts = _concat(cols.texts)
    owner = np.concatenate(cols.owner) if cols.owner else np.zeros(0, np.int64)
    output = np.concatenate(cols.output) if cols.output else np.zeros(0, bool)
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
        messages=cols.messages[keep_rows],
        characters=characters,
        billable_characters=billable,
        images=zeros,
        other_media=zeros,
        texts=texts.to_pylist(),
        owner=owner.astype(np.int64),
        output=output.astype(bool),
    )
    return batch, np.flatnonzero(cols.bad)
