"""Compression: decompressed streams that are read to their proper end.

A compressed source is gzip, bzip2, xz or zstd, told by its name (and checked against its
first bytes) or, on standard input, by its first bytes. Every stream is read to its end: a
truncated stream, or bytes after its end, is a :class:`~tunestats.io.files.SourceError`.

Hands to :mod:`tunestats.io.sources`: :func:`decompressed`, a buffered reader of the bytes.
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

from . import uris
from .files import BLOCK_SIZE, SourceError, first_line
from .sniff import ZSTD_MAGIC, looks_like, zstd_skippable

_COMPRESSION_BY_SUFFIX = dict(uris.COMPRESSIONS)


# What each compression is called in messages, and the suffix it takes.
_COMPRESSION_NAMES = {"gzip": "gzip", "bz2": "bzip2", "xz": "xz", "zstd": "zstd"}


_SUFFIX_OF = {name: suffix for suffix, name in uris.COMPRESSIONS}


# Enough of a stream to tell its compression (bzip2: "BZh", a digit and a 6-byte block magic).
_HEAD_BYTES = 16


def decompressed(uri: str, raw: BinaryIO, named: str | None, close_raw: bool = True) -> BinaryIO:
    """``raw`` decompressed: as ``named`` says (which its first bytes must show), or, for
    standard input (``named`` None), as its first bytes show."""
    head = _read_head(raw, _HEAD_BYTES)
    shown = compression_of(head)
    if named is not None and head and shown != named:
        raise _misnamed(uri, named, head)
    stream: io.RawIOBase = _Prefixed(head, raw, close_raw)
    kind = named if named is not None else shown
    if kind is not None and head:
        stream = _Zstd(stream) if kind == "zstd" else _Decompressing(stream, kind)
    return io.BufferedReader(stream, BLOCK_SIZE)  # type: ignore[return-value]


def _read_head(raw: BinaryIO, size: int) -> bytes:
    head = b""
    while len(head) < size:
        data = raw.read(size - len(head))
        if not data:
            break
        head += data
    return head


def _misnamed(uri: str, named: str, head: bytes) -> SourceError:
    """The error for a file whose name says one compression and whose bytes say otherwise."""
    suffix, name = _SUFFIX_OF[named], _COMPRESSION_NAMES[named]
    shown = compression_of(head)
    if shown is not None:
        return SourceError(
            f"{uri}: named {suffix} but holds {_COMPRESSION_NAMES[shown]}-compressed data; "
            f"rename it {_SUFFIX_OF[shown]}"
        )
    looks = looks_like(head)
    if looks is not None:
        return SourceError(
            f"{uri}: named {suffix} but is not {name}-compressed: it looks {looks[0]}"
        )
    if all(c.isprintable() or c.isspace() for c in head.decode("utf-8", "ignore")):
        return SourceError(
            f"{uri}: named {suffix} but is not {name}-compressed: it starts like text; if it is "
            f"JSONL, rename it without {suffix}"
        )
    return SourceError(
        f"{uri}: named {suffix} but is not {name}-compressed: its first bytes are not {name}'s"
    )


class StreamEnd(Exception):
    """A compressed stream that does not end where the file does: truncated, or followed by
    other bytes, or corrupt. The message says which; :func:`_read` adds the source's name."""


def _truncated(name: str) -> StreamEnd:
    return StreamEnd(f"truncated {name} stream: the file ends before the compressed data does")


def _garbage(name: str) -> StreamEnd:
    return StreamEnd(f"trailing garbage after the {name} stream")


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were read already (to see what it holds): they come first.
    Standard input is left open when this is closed."""

    def __init__(self, head: bytes, raw: BinaryIO, close_raw: bool = True) -> None:
        self.head = head
        self.raw = raw
        self.close_raw = close_raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            data, self.head = self.head[: len(buffer)], self.head[len(buffer) :]
        else:
            data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed and self.close_raw:
            self.raw.close()
        super().close()


# Input handed to a decompressor at a time; its output is bounded by the size asked for.
_INPUT_BYTES = 1 << 16


# How each compressed stream begins; formats that allow it are read as several streams in a row
# (gzip members, bzip2 streams as pbzip2 writes them, xz streams).
_STARTS = {"gzip": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}


# Zero bytes after a stream are padding in these formats (xz's Stream Padding; gzip, as gzip
# and Python's gzip module read it): skipped. After bzip2 and zstd they are trailing garbage.
_PADDED = ("gzip", "xz")


_DECODE_ERRORS = (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError)


class _Inflate:
    """zlib's gzip decoder with the interface of bz2's and lzma's (which keep their input)."""

    def __init__(self) -> None:
        self.obj = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def decompress(self, data: bytes, size: int) -> bytes:
        return self.obj.decompress(self.obj.unconsumed_tail + data, max(size, 1))

    @property
    def needs_input(self) -> bool:
        return not self.obj.unconsumed_tail

    @property
    def eof(self) -> bool:
        return self.obj.eof

    @property
    def unused_data(self) -> bytes:
        return self.obj.unused_data


_DECODERS: dict[str, Callable[[], Any]] = {
    "gzip": _Inflate,
    "bz2": bz2.BZ2Decompressor,
    "xz": lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ),
}


class _Decompressing(io.RawIOBase):
    """A gzip, bzip2 or xz source read strictly to its end: each stream to its end-of-stream
    marker, then further streams or padding as the format allows, and nothing else. A
    truncated stream, or other bytes after it, raise :class:`StreamEnd` (the gzip, bz2 and
    lzma modules' readers let bytes after bzip2 and xz streams pass unnoticed)."""

    def __init__(self, raw: io.RawIOBase, kind: str) -> None:
        self.raw = raw
        self.kind = kind
        self.name = _COMPRESSION_NAMES[kind]
        self.decoder = _DECODERS[kind]()
        self.input = b""  # read from ``raw``, not yet given to the decoder
        self.raw_eof = False
        self.done = False
        self.starved = False  # the decoder gave nothing without input: read some

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._next(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()

    def _next(self, size: int) -> bytes:
        while not self.done:
            if self.decoder.eof:
                self._next_stream()
                continue
            if not self.input and not self.raw_eof and (self.decoder.needs_input or self.starved):
                self.input = self._fill()
            data, self.input = self.input, b""
            try:
                out = self.decoder.decompress(data, max(size, 1))  # 0 would mean "no limit"
            except _DECODE_ERRORS as exc:
                raise StreamEnd(f"corrupt {self.name} stream: {first_line(exc)}") from None
            if out:
                self.starved = False
                return out
            if not data and not self.decoder.eof:
                if self.raw_eof:
                    raise _truncated(self.name)
                self.starved = True
        return b""

    def _fill(self) -> bytes:
        data = self.raw.read(_INPUT_BYTES) or b""
        self.raw_eof = not data
        return data

    def _next_stream(self) -> None:
        """After the end of a stream: the end of the file, padding, or another stream."""
        rest = self.decoder.unused_data + self.input
        self.input = b""
        start = _STARTS[self.kind]
        while True:
            if self.kind in _PADDED:
                rest = rest.lstrip(b"\0")
            if len(rest) >= len(start) or self.raw_eof:
                break
            rest += self._fill()
        if not rest:
            self.done = True
        elif rest.startswith(start):
            self.decoder = _DECODERS[self.kind]()
            self.input = rest
        elif start.startswith(rest):  # the file ends inside the next stream's magic bytes
            raise _truncated(self.name)
        else:
            raise _garbage(self.name)


class _Zstd(io.RawIOBase):
    """A zstd source read to its end: zstandard's reader decodes (any number of frames, output
    bounded by the size asked for) while :class:`_ZstdFrames` checks where the data ends."""

    def __init__(self, raw: io.RawIOBase) -> None:
        import zstandard

        self.frames = _ZstdFrames(raw)
        self.error = zstandard.ZstdError
        self.reader = zstandard.ZstdDecompressor().stream_reader(
            self.frames, read_across_frames=True, closefd=False
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self.reader.readinto(buffer)
        except self.error as exc:
            raise StreamEnd(f"corrupt zstd stream: {first_line(exc)}") from None

    def close(self) -> None:
        if not self.closed:
            self.frames.raw.close()
        super().close()


class _ZstdFrames:
    """The compressed bytes of a zstd source on their way to the decoder, whose frames this
    follows (RFC 8878, 3.1: headers and block sizes only) to know where the data ends:
    zstandard's reader ends quietly at the end of its input, even inside a frame."""

    def __init__(self, raw: io.RawIOBase) -> None:
        self.raw = raw
        self.state = "magic"  # what the next ``want`` bytes are, once ``skip`` are passed
        self.want = 4
        self.skip = 0
        self.header = b""
        self.checksum = False
        self.frames = 0

    def read(self, size: int) -> bytes:
        data = self.raw.read(size) or b""
        if data:
            self._feed(data)
        elif self.state == "magic" and self.header and not ZSTD_MAGIC.startswith(self.header):
            raise _garbage("zstd")
        elif self.skip or self.header or self.state != "magic":
            raise _truncated("zstd")
        return data

    def _feed(self, data: bytes) -> None:
        at, end = 0, len(data)
        while at < end:
            if self.skip:
                step = min(self.skip, end - at)
                self.skip -= step
                at += step
                continue
            take = min(self.want - len(self.header), end - at)
            self.header += data[at : at + take]
            at += take
            if len(self.header) == self.want:
                header, self.header = self.header, b""
                self._header(header)

    def _header(self, header: bytes) -> None:
        if self.state == "magic":
            if header == ZSTD_MAGIC:
                self._expect("frame", 1)
            elif zstd_skippable(header):
                self._expect("skippable", 4)
            else:
                raise _garbage("zstd")
        elif self.state == "frame":  # Frame_Header_Descriptor, then the rest of the header
            flags = header[0]
            if flags & 0x08:
                raise StreamEnd("corrupt zstd stream: a frame header's reserved bit is set")
            self.checksum = bool(flags & 0x04)
            single = bool(flags & 0x20)
            content_size = (1 if single else 0, 2, 4, 8)[flags >> 6]
            self._expect("block", 3, (0 if single else 1) + (0, 1, 2, 4)[flags & 3] + content_size)
        elif self.state == "block":
            value = int.from_bytes(header, "little")
            kind = (value >> 1) & 3
            if kind == 3:
                raise StreamEnd("corrupt zstd stream: a block of the reserved type")
            size = 1 if kind == 1 else value >> 3  # an RLE block holds its one byte
            if value & 1:  # the frame's last block, then its checksum
                self.frames += 1
                self._expect("magic", 4, size + (4 if self.checksum else 0))
            else:
                self._expect("block", 3, size)
        else:  # a skippable frame's size
            self.frames += 1
            self._expect("magic", 4, int.from_bytes(header, "little"))

    def _expect(self, state: str, want: int, skip: int = 0) -> None:
        self.state, self.want, self.skip = state, want, skip


def compression_of(head: bytes) -> str | None:
    """The compression that the first bytes of a stream show (a name of uris.COMPRESSIONS)."""
    looks = looks_like(head[:_HEAD_BYTES])
    return None if looks is None or looks[1] is None else _COMPRESSION_BY_SUFFIX[looks[1]]
