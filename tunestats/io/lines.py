"""Lines: a source's bytes as blocks of whole lines, with their line numbers.

The file is streamed in blocks of ``block_size`` bytes; only one block and at most one partial
line are held at a time, and a line longer than ``max_line_bytes`` is never held: it is counted
as it streams by and handed on as a :class:`LongLine`, which the counting stage drops. A source
that is not JSONL text (a CSV file, UTF-16, a zip archive ...) is named for what it is.

Hands to the next stage (formats): :class:`LineBlock` objects, each a list of raw lines (bytes,
without the ``\\n``) and the 1-based number of its first line.

Whole-source failures (cannot open, cannot decompress, a truncated compressed stream or bytes
after it, not UTF-8 throughout, changed while it was read) raise
:class:`~tunestats.io.files.SourceError` with a one-line message; everything wrong with a
single line is left to the formats stage.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from .compression import StreamEnd
from .files import BLOCK_SIZE, SourceError, read_error, read_errors
from .sniff import SNIFF_BYTES, check_start
from .sources import SourceInfo, check_unchanged, open_binary

# The longest line read (CHOICES.md, "Reading"): above any record Vertex takes (it holds ten
# inline parts of 20 MB as base64, 26.7 MB each), and what one process can hold and parse in a
# few times its size. A longer line is dropped unread (--max-line-bytes).
MAX_LINE_BYTES = 256 << 20


TOO_LONG_LINE = "too-long-line"  # its drop code (tunestats.formats.drops.KINDS)


class LongLine(bytes):
    """Stands in for a line longer than the maximum, whose bytes are never held: they are
    counted as they stream by. Empty itself; the counting stage drops it with ``problem``
    (code ``too-long-line``). It is always alone in its :class:`LineBlock`."""

    length: int  # the line's bytes, without its newline
    limit: int  # the maximum it is over

    def __new__(cls, length: int, limit: int) -> LongLine:
        line = super().__new__(cls)
        line.length = length
        line.limit = limit
        return line

    def __reduce__(self) -> tuple[Any, ...]:  # pickled by a shard's --write-dropped sink
        return (LongLine, (self.length, self.limit))

    def __repr__(self) -> str:
        return f"LongLine({self.length}, {self.limit})"

    @property
    def problem(self) -> str:
        return (
            f"is {self.length:,} bytes long; lines may be at most {self.limit:,} bytes "
            "(--max-line-bytes)"
        )


@dataclass(frozen=True)
class LineBlock:
    """Consecutive physical lines of a source; ``lines[k]`` is line ``first_line + k``."""

    first_line: int
    lines: list[bytes]

    @functools.cached_property  # read by progress and by the accumulator: summed once
    def nbytes(self) -> int:
        """The bytes of the source these lines span, a newline after each (a long line's
        included: it was read, only not held)."""
        if len(self.lines) == 1 and isinstance(self.lines[0], LongLine):
            return self.lines[0].length + 1
        return sum(map(len, self.lines)) + len(self.lines)


def read_blocks(
    uri: str,
    block_size: int = BLOCK_SIZE,
    start: int = 0,
    end: int | None = None,
    expect: SourceInfo | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[LineBlock]:
    """Yield the lines of ``uri`` in blocks; raise SourceError for whole-source failures.

    With a byte range, yield only the lines that *begin* in ``[start, end)``, numbered from 1:
    shards of one file then cover every line exactly once, whatever the cut points.
    With ``expect`` (from :func:`stat_source`), a ``gs://`` object is read at that generation,
    and a source whose version is no longer ``expect``'s when the reading ends is an error.
    A line longer than ``max_line_bytes`` comes as a :class:`LongLine`, alone in its block.
    """
    errors = read_errors(uri)
    stream = open_binary(uri, expect.generation if expect is not None else None)
    try:
        lines = _Lines(max_line_bytes)
        yield from _blocks(uri, stream, block_size, errors, lines, start, end)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if expect is not None and not expect.stream:
        check_unchanged(expect)


def _read(uri: str, stream: BinaryIO, size: int, errors: tuple[type[BaseException], ...]) -> bytes:
    try:
        return stream.read(size)
    except StreamEnd as exc:
        raise SourceError(f"{uri}: {exc}") from None
    except errors as exc:
        raise read_error(uri, exc) from exc


def _skip_partial_line(
    uri: str, stream: BinaryIO, start: int, block_size: int, errors: tuple[type[BaseException], ...]
) -> tuple[bytes, int]:
    """Position after the line that straddles ``start``: return (bytes read past it, offset)."""
    stream.seek(start - 1)  # a line begins at ``start`` exactly when byte start-1 is a newline
    pos = start - 1
    while True:
        chunk = _read(uri, stream, block_size, errors)
        if not chunk:
            return b"", pos
        newline = chunk.find(b"\n")
        if newline >= 0:
            return chunk[newline + 1 :], pos + newline + 1
        pos += len(chunk)


def _blocks(
    uri: str,
    stream: BinaryIO,
    block_size: int,
    errors: tuple[type[BaseException], ...],
    lines: _Lines,
    start: int = 0,
    end: int | None = None,
) -> Iterator[LineBlock]:
    if start > 0:
        chunk, pos = _skip_partial_line(uri, stream, start, block_size, errors)
    else:
        chunk, pos = check_start(uri, _read(uri, stream, SNIFF_BYTES, errors))
    limit = end if end is not None else float("inf")
    if start == 0:
        # The first line begins at offset 0, its byte-order mark included: the first range
        # owns it however short the range is (the others skip it as a partial line).
        limit = max(limit, pos + 1)
    line_no = 1
    end_of_source = False
    while True:  # ``pos``: where the first line not handed out yet begins
        for group in lines.finish() if end_of_source else lines.feed(chunk):
            # To the end of the source every line is ours: no need to walk their lengths.
            kept, pos = (group, pos) if end is None else _lines_before(group, pos, limit)
            if kept:
                yield LineBlock(line_no, kept)
            line_no += len(kept)
            if len(kept) < len(group):
                return
        if end_of_source or pos >= limit:
            return
        chunk = _read(uri, stream, block_size, errors)
        end_of_source = not chunk


class _Lines:
    """Cuts a stream's chunks into lines, in time linear in their bytes: each chunk is split
    once, and a line that spans chunks is joined once. It holds at most one partial line, of
    at most ``max_line`` bytes: a longer one is only counted from then on, and comes out as a
    :class:`LongLine`, alone in its group."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.parts: list[bytes] = []  # the partial line, unless it is over the maximum
        self.size = 0  # its bytes so far
        self.long = False

    def feed(self, chunk: bytes) -> list[list[bytes]]:
        """The groups of lines that ``chunk`` ends (in order; each long line alone)."""
        last = chunk.rfind(b"\n")
        if last < 0:
            self._add(chunk)
            return []
        lines = chunk[:last].split(b"\n")
        if self.size:
            self._add(lines[0])
            lines[0] = self._take()
        self._add(chunk[last + 1 :])
        if last > self.max_line:  # only then can a line inside the chunk be over the maximum
            lines = [self._checked(line) for line in lines]
        elif not isinstance(lines[0], LongLine):
            return [lines]
        return _groups(lines)

    def finish(self) -> list[list[bytes]]:
        """The last line, which no newline ends, if the source has one."""
        return [[self._take()]] if self.size else []

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.long:
            return
        if self.size > self.max_line:
            self.long = True
            self.parts = []
        elif data:
            self.parts.append(data)

    def _take(self) -> bytes:
        line = LongLine(self.size, self.max_line) if self.long else b"".join(self.parts)
        self.parts, self.size, self.long = [], 0, False
        return line

    def _checked(self, line: bytes) -> bytes:
        if len(line) > self.max_line and not isinstance(line, LongLine):
            return LongLine(len(line), self.max_line)
        return line


def _groups(lines: list[bytes]) -> list[list[bytes]]:
    """``lines`` cut before and after each LongLine."""
    groups: list[list[bytes]] = []
    run: list[bytes] = []
    for line in lines:
        if isinstance(line, LongLine):
            if run:
                groups.append(run)
            groups.append([line])
            run = []
        else:
            run.append(line)
    if run:
        groups.append(run)
    return groups


def _length(line: bytes) -> int:
    return line.length if isinstance(line, LongLine) else len(line)


def _lines_before(lines: list[bytes], pos: int, limit: float) -> tuple[list[bytes], int]:
    """The leading lines that begin before ``limit``, the first one beginning at ``pos``, and
    where the line after them begins."""
    kept = 0
    while kept < len(lines) and pos < limit:
        pos += _length(lines[kept]) + 1
        kept += 1
    return lines[:kept], pos
