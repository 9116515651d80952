"""Source: opens a dataset and hands out blocks of whole lines with their line numbers.

Anything fsspec opens works (local paths, ``gs://``, ``memory://`` ...), plus ``-`` for
standard input. Compression is inferred from the name. The file is streamed in blocks of
``block_size`` bytes; only one block (and at most one partial line) is held at a time.

Hands to the next stage (formats): :class:`LineBlock` objects, each a list of raw lines (bytes,
without the ``\\n``) and the 1-based number of its first line.

Whole-source failures (cannot open, cannot decompress, not UTF-8 throughout) raise
:class:`SourceError`; everything wrong with a single line is left to the formats stage.
"""

from __future__ import annotations

import bz2
import lzma
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

BLOCK_SIZE = 1 << 19
_UTF8_BOM = b"\xef\xbb\xbf"
# UTF-32 marks first: the UTF-32-LE mark begins with the UTF-16-LE one.
_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
_SNIFF_BYTES = 64 << 10


class SourceError(Exception):
    """The source as a whole cannot be used (missing, unreadable, corrupt, not JSONL)."""


@dataclass(frozen=True)
class LineBlock:
    """Consecutive physical lines of a source; ``lines[k]`` is line ``first_line + k``."""

    first_line: int
    lines: list[bytes]


def _compression_for(uri: str) -> str | None:
    lower = uri.lower()
    for suffix, name in ((".gz", "gzip"), (".bz2", "bz2"), (".xz", "xz"), (".zst", "zstd")):
        if lower.endswith(suffix):
            return name
    return None


def open_binary(uri: str) -> BinaryIO:
    """Open ``uri`` for reading decompressed bytes; ``-`` is standard input."""
    if uri == "-":
        return sys.stdin.buffer
    compression = _compression_for(uri)
    try:
        if _is_local(uri):
            return _open_local(uri, compression)
        import fsspec  # only for URLs: a local run need not pay for importing it

        return fsspec.open(uri, mode="rb", compression=compression).open()
    except FileNotFoundError as exc:
        raise SourceError(f"{uri}: no such file or object") from exc
    except PermissionError as exc:
        raise SourceError(f"{uri}: permission denied") from exc
    except IsADirectoryError as exc:
        raise SourceError(f"{uri}: is a directory, not a file") from exc
    except (OSError, ValueError, ImportError) as exc:
        raise SourceError(f"{uri}: cannot open: {exc}") from exc


def _is_local(uri: str) -> bool:
    return "://" not in uri and not uri.startswith("file:")


def _open_local(path: str, compression: str | None) -> BinaryIO:
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if compression is None:
        return raw
    if compression == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if compression == "xz":
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)  # type: ignore[return-value]


# Errors that decompressors and file systems raise on corrupt or unreadable data.
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)


def _read_errors(uri: str) -> tuple[type[BaseException], ...]:
    if _compression_for(uri) != "zstd":
        return _READ_ERRORS
    import zstandard

    return (*_READ_ERRORS, zstandard.ZstdError)


def _check_start(uri: str, head: bytes) -> tuple[bytes, int]:
    """Reject sources that are not UTF-8 throughout; drop a UTF-8 byte-order mark.

    Returns the bytes that remain and the offset in the file where they start."""
    for bom, name in _WIDE_BOMS.items():
        if head.startswith(bom):
            raise SourceError(f"{uri}: not UTF-8: the file starts with a {name} byte-order mark")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise SourceError(f"{uri}: not UTF-8 text: NUL byte at offset {nul} (binary file?)")
    if head.startswith(_UTF8_BOM):
        return head[len(_UTF8_BOM) :], len(_UTF8_BOM)
    return head, 0


def read_blocks(
    uri: str, block_size: int = BLOCK_SIZE, start: int = 0, end: int | None = None
) -> Iterator[LineBlock]:
    """Yield the lines of ``uri`` in blocks; raise SourceError for whole-source failures.

    With a byte range, yield only the lines that *begin* in ``[start, end)``, numbered from 1:
    shards of one file then cover every line exactly once, whatever the cut points.
    """
    errors = _read_errors(uri)
    stream = open_binary(uri)
    try:
        yield from _blocks(uri, stream, block_size, errors, start, end)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _read(uri: str, stream: BinaryIO, size: int, errors: tuple[type[BaseException], ...]) -> bytes:
    try:
        return stream.read(size)
    except errors as exc:
        raise SourceError(f"{uri}: cannot read (corrupt or wrong compression?): {exc}") from exc


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
    start: int = 0,
    end: int | None = None,
) -> Iterator[LineBlock]:
    if start > 0:
        rest, pos = _skip_partial_line(uri, stream, start, block_size, errors)
    else:
        rest, pos = _check_start(uri, _read(uri, stream, _SNIFF_BYTES, errors))
    limit = end if end is not None else float("inf")
    if start == 0:
        # The first line begins at offset 0, its byte-order mark included: the first range
        # owns it however short the range is (the others skip it as a partial line).
        limit = max(limit, pos + 1)
    line_no = 1
    while pos < limit:  # ``rest`` starts at byte ``pos``, at the start of a line
        cut = rest.rfind(b"\n")
        if cut >= 0:
            lines = rest[:cut].split(b"\n")
            if pos + cut >= limit:  # the range ends inside this block
                lines = _lines_before(lines, pos, limit)
            yield LineBlock(line_no, lines)
            line_no += len(lines)
            pos += cut + 1
            rest = rest[cut + 1 :]
            if pos >= limit:
                return
        chunk = _read(uri, stream, block_size, errors)
        if not chunk:
            if rest:
                yield LineBlock(line_no, [rest])
            return
        rest = rest + chunk if rest else chunk


def _lines_before(lines: list[bytes], pos: int, limit: float) -> list[bytes]:
    """The leading lines that begin before ``limit``, the first one beginning at ``pos``."""
    kept = 0
    while kept < len(lines) and pos < limit:
        pos += len(lines[kept]) + 1
        kept += 1
    return lines[:kept]


def source_size(uri: str) -> int | None:
    """Size in bytes of an uncompressed, seekable source; None when it cannot be split."""
    if uri == "-" or _compression_for(uri) is not None:
        return None
    if _is_local(uri):
        try:
            return os.path.getsize(uri)
        except OSError:
            return None
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(uri)
        return int(fs.size(path))
    except (OSError, ValueError, TypeError):
        return None
