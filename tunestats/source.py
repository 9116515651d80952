"""Source: opens a dataset and hands out blocks of whole lines with their line numbers.

Anything fsspec opens works (local paths, ``gs://``, ``memory://`` ...), plus ``-`` for
standard input and named pipes (read as streams). Compression is inferred from the name (from
the first bytes on standard input) and every compressed stream is read to its proper end. The
file is streamed in blocks of ``block_size`` bytes; only one block and at most one partial line
are held at a time, and a line longer than ``max_line_bytes`` is never held: it is counted as
it streams by and handed on as a :class:`LongLine`, which the counting stage drops.

Hands to the next stage (formats): :class:`LineBlock` objects, each a list of raw lines (bytes,
without the ``\\n``) and the 1-based number of its first line.

Whole-source failures (cannot open, cannot decompress, a truncated compressed stream or bytes
after it, not UTF-8 throughout, changed while it was read) raise :class:`SourceError` with a
one-line message; everything wrong with a single line is left to the formats stage.

:func:`stat_source` gives a source's :class:`SourceInfo` (size, and the ``gs://`` generation or
the modification time). Reading checks that version at the start and at the end, and reads a
``gs://`` object at that one generation, so a source rewritten during a run is an error, never
a mix of two versions.
"""

from __future__ import annotations

import bz2
import functools
import io
import lzma
import os
import stat
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from . import uris

BLOCK_SIZE = 1 << 19
# The longest line read (CHOICES.md, "Reading"): above any record Vertex takes (it holds ten
# inline parts of 20 MB as base64, 26.7 MB each), and what one process can hold and parse in a
# few times its size. A longer line is dropped unread (--max-line-bytes).
MAX_LINE_BYTES = 256 << 20
TOO_LONG_LINE = "too-long-line"  # its drop code (tunestats.drops.KINDS)
_UTF8_BOM = b"\xef\xbb\xbf"
# UTF-32 marks first: the UTF-32-LE mark begins with the UTF-16-LE one.
_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
_SNIFF_BYTES = 64 << 10
# What a source that is not JSONL text often is instead (CHOICES.md, "Reading"): the first
# bytes decide, so a NUL byte inside a line of text only drops that line.
_MAGIC = (
    (b"\x1f\x8b", "gzip-compressed", ".gz"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", ".zst"),
    (b"\xfd7zXZ\x00", "xz-compressed", ".xz"),
    (b"PK\x03\x04", "a zip archive", None),
    (b"PK\x05\x06", "a zip archive", None),
    (b"PAR1", "a Parquet file", None),
)
# bzip2: "BZh", the block size, then the magic of a block or of the end of the stream.
_BZIP2_BLOCKS = (b"1AY&SY", b"\x17rE8P\x90")
_COMPRESSION_BY_SUFFIX = dict(uris.COMPRESSIONS)
# What each compression is called in messages, and the suffix it takes.
_COMPRESSION_NAMES = {"gzip": "gzip", "bz2": "bzip2", "xz": "xz", "zstd": "zstd"}
_SUFFIX_OF = {name: suffix for suffix, name in uris.COMPRESSIONS}
# A CSV or TSV file: this many of its first lines, each with at least two fields.
_CSV_LINES = 2


class SourceError(Exception):
    """The source as a whole cannot be used (missing, unreadable, corrupt, not JSONL)."""


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

    @property
    def nbytes(self) -> int:
        """The bytes of the source these lines span, a newline after each (a long line's
        included: it was read, only not held)."""
        if len(self.lines) == 1 and isinstance(self.lines[0], LongLine):
            return self.lines[0].length + 1
        return sum(map(len, self.lines)) + len(self.lines)


@dataclass(frozen=True)
class SourceInfo:
    """What identifies one version of a source: a rerun with equal info may reuse results."""

    uri: str
    size: int | None  # bytes as stored (compressed size for a compressed source)
    generation: str | None = None  # the object generation, for gs://
    mtime: float | None = None  # seconds since the epoch, when there is no generation

    @property
    def compressed(self) -> bool:
        return uris.compression(self.uri) is not None

    @property
    def stream(self) -> bool:
        """Standard input or a named pipe: read once, as it comes (no size, no version)."""
        return (
            self.size is None
            and self.generation is None
            and self.mtime is None
            and (self.uri == "-" or uris.is_plain_path(self.uri))
        )

    def same_version(self, other: SourceInfo) -> bool:
        if self.generation is not None or other.generation is not None:
            return self.generation == other.generation
        return (self.size, self.mtime) == (other.size, other.mtime)


def open_binary(uri: str, generation: str | None = None) -> BinaryIO:
    """Open ``uri`` for reading decompressed bytes; ``-`` is standard input.

    A name with a compression suffix must hold that compression (else SourceError, naming what
    it holds); standard input is decompressed when its first bytes are gzip, zstd, bzip2 or
    xz. With ``generation``, a ``gs://`` object is read at that generation only.
    """
    if uri == "-":
        return _decompressed(uri, sys.stdin.buffer, None, close_raw=False)
    compression = uris.compression(uri)
    try:
        if uris.is_plain_path(uri):
            raw = open(uri, "rb")  # noqa: SIM115 - the caller closes it
        elif generation is not None and _is_gcs(uri):
            fs, path = filesystem_and_path(uri, version_aware=True)
            raw = fs.open(f"{path}#{generation}", "rb")
        else:
            options = gcs_options(uri) if _is_gcs(uri) else {}
            raw = _fsspec().open(uri, mode="rb", **options).open()
    except Exception as exc:
        raise open_error(uri, exc) from exc
    if compression is None:
        return raw
    try:
        return _decompressed(uri, raw, compression)
    except BaseException as exc:
        raw.close()
        if isinstance(exc, Exception):
            raise open_error(uri, exc) from exc
        raise


# Enough of a stream to tell its compression (bzip2: "BZh", a digit and a 6-byte block magic).
_HEAD_BYTES = 16


def _decompressed(uri: str, raw: BinaryIO, named: str | None, close_raw: bool = True) -> BinaryIO:
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


class _StreamEnd(Exception):
    """A compressed stream that does not end where the file does: truncated, or followed by
    other bytes, or corrupt. The message says which; :func:`_read` adds the source's name."""


def _truncated(name: str) -> _StreamEnd:
    return _StreamEnd(f"truncated {name} stream: the file ends before the compressed data does")


def _garbage(name: str) -> _StreamEnd:
    return _StreamEnd(f"trailing garbage after the {name} stream")


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
    truncated stream, or other bytes after it, raise :class:`_StreamEnd` (the gzip, bz2 and
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
                raise _StreamEnd(f"corrupt {self.name} stream: {first_line(exc)}") from None
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
            raise _StreamEnd(f"corrupt zstd stream: {first_line(exc)}") from None

    def close(self) -> None:
        if not self.closed:
            self.frames.raw.close()
        super().close()


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _zstd_skippable(magic: bytes) -> bool:
    return magic[1:4] == b"\x2a\x4d\x18" and magic[0] & 0xF0 == 0x50


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
        elif self.state == "magic" and self.header and not _ZSTD_MAGIC.startswith(self.header):
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
            if header == _ZSTD_MAGIC:
                self._expect("frame", 1)
            elif _zstd_skippable(header):
                self._expect("skippable", 4)
            else:
                raise _garbage("zstd")
        elif self.state == "frame":  # Frame_Header_Descriptor, then the rest of the header
            flags = header[0]
            if flags & 0x08:
                raise _StreamEnd("corrupt zstd stream: a frame header's reserved bit is set")
            self.checksum = bool(flags & 0x04)
            single = bool(flags & 0x20)
            content_size = (1 if single else 0, 2, 4, 8)[flags >> 6]
            self._expect("block", 3, (0 if single else 1) + (0, 1, 2, 4)[flags & 3] + content_size)
        elif self.state == "block":
            value = int.from_bytes(header, "little")
            kind = (value >> 1) & 3
            if kind == 3:
                raise _StreamEnd("corrupt zstd stream: a block of the reserved type")
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


def _fsspec() -> Any:
    """fsspec, imported only for URLs: a local run need not pay for it."""
    # gcsfs reads this when imported; its default probes every bucket for a zonal or
    # hierarchical layout, with a credentials lookup of its own each time, and waits about
    # 60 s for emulators that do not serve it (CHOICES.md). Plain reads need none of it.
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    import fsspec

    return fsspec


def filesystem(uri: str, **options: Any) -> Any:
    return filesystem_and_path(uri, **options)[0]


def filesystem_and_path(uri: str, **options: Any) -> tuple[Any, str]:
    """fsspec's file system for ``uri`` and the path within it (``url_to_fs``)."""
    if _is_gcs(uri):
        options = {**gcs_options(uri), **options}
    return _fsspec().core.url_to_fs(uri, **options)


def gcs_options(uri: str) -> dict[str, Any]:
    """gcsfs options for ``uri``, after the checks that fail at once instead of retrying for a
    minute (CHOICES.md, "Cloud Storage"): the endpoint's host name must resolve (no network
    is not a transient fault), and credentials that exist must refresh (an authentication
    failure is not either). Without any credentials, access is anonymous (public buckets).

    With ``STORAGE_EMULATOR_HOST`` set, that endpoint is the only one reached, anonymously:
    no credentials are looked up, so neither the metadata server nor any Google host is
    asked (CHOICES.md, "What tunestats contacts")."""
    try:
        return dict(_gcs_options(emulator_endpoint()))
    except _Unreachable as exc:
        raise SourceError(f"{uri}: {exc}") from None


def emulator_endpoint() -> str | None:
    """The local Cloud Storage server that ``STORAGE_EMULATOR_HOST`` names, as a URL (the
    scheme defaults to http, as Google's clients and gcsfs read it), or None."""
    value = os.environ.get("STORAGE_EMULATOR_HOST", "").strip()
    if value in ("", "default"):  # gcsfs reads "default" as unset too
        return None
    return value.rstrip("/") if "://" in value else f"http://{value.rstrip('/')}"


class _Unreachable(Exception):
    pass


@functools.cache
def _gcs_options(emulator: str | None) -> tuple[tuple[str, Any], ...]:
    import socket
    from urllib.parse import urlsplit

    host = _GCS_HOST
    try:
        if emulator:
            endpoint = urlsplit(emulator)
            host = endpoint.hostname or emulator
            port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
        else:
            port = 443
        socket.getaddrinfo(host, port)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise _Unreachable(f"cannot reach {host}: {exc} (no network, or no DNS?)") from None
    if emulator:
        # Anonymous, at that endpoint: gcsfs's default would ask google-auth for
        # credentials, which probes the metadata server (169.254.169.254) first.
        return (("token", "anon"), ("endpoint_url", emulator))
    import google.auth
    import google.auth.exceptions
    from google.auth.transport.requests import Request

    try:
        credentials, _ = google.auth.default(scopes=[_READ_SCOPE])
    except google.auth.exceptions.DefaultCredentialsError:
        return (("token", "anon"),)
    try:
        credentials.refresh(Request())
    except google.auth.exceptions.GoogleAuthError as exc:
        raise _Unreachable(f"not authenticated: Google credentials do not refresh: {exc}") from None
    return ()


_GCS_HOST = "storage.googleapis.com"
_READ_SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"


def _is_gcs(uri: str) -> bool:
    return uri.startswith(("gs://", "gcs://"))


def open_error(uri: str, exc: BaseException) -> SourceError:
    """One line that says what is wrong with opening ``uri``."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, FileNotFoundError):
        if _is_gcs(uri) and not _bucket_exists(uri):
            return SourceError(f"{uri}: no such bucket: {_bucket(uri)}")
        return SourceError(f"{uri}: no such file or object")
    if isinstance(exc, PermissionError) or "Forbidden" in str(exc) or _http_code(exc) == 403:
        return SourceError(f"{uri}: access denied: {first_line(exc)}")
    if _http_code(exc) == 401:
        return SourceError(f"{uri}: not authenticated (check the credentials): {first_line(exc)}")
    if isinstance(exc, IsADirectoryError):
        return SourceError(f"{uri}: is a directory, not a file")
    if isinstance(exc, (OSError, ValueError, ImportError)):
        return SourceError(f"{uri}: cannot open: {first_line(exc)}")
    return SourceError(f"{uri}: cannot open: {type(exc).__name__}: {first_line(exc)}")


def first_line(exc: BaseException) -> str:
    """An error's message in one line (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _http_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def _bucket(uri: str) -> str:
    return uris.after_scheme(uri).split("/", 1)[0]


def _bucket_exists(uri: str) -> bool:
    try:
        return bool(filesystem(uri).exists(_bucket(uri)))
    except Exception:  # the question is only asked to word an error: assume it exists
        return True


# Errors that decompressors and file systems raise on corrupt or unreadable data.
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)


def _read_errors(uri: str) -> tuple[type[BaseException], ...]:
    if not uris.is_plain_path(uri) and uri != "-":
        # Remote file systems raise their own types (HTTP, connection, auth errors) once
        # their retries are spent; each ends the source with a one-line message.
        return (Exception,)
    if uris.compression(uri) != "zstd" and uri != "-":
        return _READ_ERRORS
    import zstandard

    return (*_READ_ERRORS, zstandard.ZstdError)


def _read_error(uri: str, exc: BaseException) -> SourceError:
    if uris.is_plain_path(uri) or uri == "-":
        return SourceError(f"{uri}: cannot read (corrupt or wrong compression?): {exc}")
    if isinstance(exc, FileNotFoundError):
        return SourceError(f"{uri}: changed while it was read: this generation is gone")
    if isinstance(exc, (EOFError, zlib.error, lzma.LZMAError)) or "zstd" in type(exc).__name__:
        return SourceError(f"{uri}: cannot read (corrupt or wrong compression?): {exc}")
    return SourceError(f"{uri}: cannot read: {type(exc).__name__}: {first_line(exc)}")


def _check_start(uri: str, head: bytes) -> tuple[bytes, int]:
    """Reject a source that is something else than UTF-8 JSONL text; drop a UTF-8 byte-order
    mark.

    Returns the bytes that remain and the offset in the file where they start."""
    for bom, name in _WIDE_BOMS.items():
        if head.startswith(bom):
            raise SourceError(f"{uri}: not UTF-8: the file starts with a {name} byte-order mark")
    looks = looks_like(head)
    if looks is not None:
        what, suffix = looks
        if suffix is None:
            fix = _TEXT_FIXES.get(what, "tunestats reads JSONL text")
        elif uri == "-" or uris.compression(uri):  # decompressed once already: it is twice
            fix = f"decompress it first, or give a file named {suffix}"
        else:
            fix = f"name it {suffix}"
        raise SourceError(f"{uri}: not JSONL text: it looks {what}; {fix}")
    if head.startswith(_UTF8_BOM):
        return head[len(_UTF8_BOM) :], len(_UTF8_BOM)
    return head, 0


_CSV = "like CSV (comma-separated values)"
_TSV = "like TSV (tab-separated values)"
_TEXT_FIXES = {
    what: "convert each row to a JSON object, one object per line (JSONL)" for what in (_CSV, _TSV)
}


def looks_like(head: bytes) -> tuple[str, str | None] | None:
    """What the first bytes of a source say it is, when that is not JSONL text: (what, the
    suffix of a compressed file)."""
    for magic, what, suffix in _MAGIC:
        if head.startswith(magic):
            return ("like " + what if what.startswith("a ") else what), suffix
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in _BZIP2_BLOCKS:
        return "bzip2-compressed", ".bz2"
    if _zstd_skippable(head[:4]):  # zstd data may begin with a skippable frame
        return "zstd-compressed", ".zst"
    sample = head[:64]
    if len(sample) >= 8 and sample[1::2].count(0) == len(sample) // 2 and 0 not in sample[0::2]:
        return "UTF-16-LE encoded (no byte-order mark)", None
    if len(sample) >= 8 and sample[0::2].count(0) == len(sample) // 2 and 0 not in sample[1::2]:
        return "UTF-16-BE encoded (no byte-order mark)", None
    return _delimited(head)


def _delimited(head: bytes) -> tuple[str, None] | None:
    """CSV or TSV: no ``{`` in the first bytes (no JSON object begins there), and the first
    lines (up to 100 that they hold whole, at least two, none a JSON array) have the same
    number of fields, at least two."""
    import csv

    if b"{" in head:
        return None
    cut = head.rfind(b"\n")
    text = head[: cut if cut >= 0 else len(head)].decode("utf-8", "replace")
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()][:100]
    if len(lines) < _CSV_LINES or any(line.lstrip().startswith("[") for line in lines):
        return None  # JSON arrays have commas too
    delimiter = "\t" if "\t" in lines[0] else ","
    try:
        widths = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
    except csv.Error:
        return None
    if len(widths) != 1 or widths.pop() < 2:
        return None
    return (_TSV if delimiter == "\t" else _CSV), None


def compression_of(head: bytes) -> str | None:
    """The compression that the first bytes of a stream show (a name of uris.COMPRESSIONS)."""
    looks = looks_like(head[:_HEAD_BYTES])
    return None if looks is None or looks[1] is None else _COMPRESSION_BY_SUFFIX[looks[1]]


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
    errors = _read_errors(uri)
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
    except _StreamEnd as exc:
        raise SourceError(f"{uri}: {exc}") from None
    except errors as exc:
        raise _read_error(uri, exc) from exc


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
        chunk, pos = _check_start(uri, _read(uri, stream, _SNIFF_BYTES, errors))
    limit = end if end is not None else float("inf")
    if start == 0:
        # The first line begins at offset 0, its byte-order mark included: the first range
        # owns it however short the range is (the others skip it as a partial line).
        limit = max(limit, pos + 1)
    line_no = 1
    end_of_source = False
    while True:  # ``pos``: where the first line not handed out yet begins
        for group in lines.finish() if end_of_source else lines.feed(chunk):
            kept = _lines_before(group, pos, limit)
            if kept:
                yield LineBlock(line_no, kept)
            line_no += len(kept)
            pos += sum(map(_length, kept)) + len(kept)
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


def _lines_before(lines: list[bytes], pos: int, limit: float) -> list[bytes]:
    """The leading lines that begin before ``limit``, the first one beginning at ``pos``."""
    kept = 0
    while kept < len(lines) and pos < limit:
        pos += _length(lines[kept]) + 1
        kept += 1
    return lines[:kept]


def stat_source(uri: str) -> SourceInfo:
    """Size and version of ``uri``; raise SourceError when it cannot be found or opened."""
    if uri == "-":
        return SourceInfo(uri, None)
    try:
        if uris.is_plain_path(uri):
            st = os.stat(uri)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(uri)
            if stat.S_ISCHR(st.st_mode):  # /dev/zero, /dev/urandom, a terminal: never ends
                raise SourceError(f"{uri}: is a character device, not a file")
            if stat.S_ISFIFO(st.st_mode):  # a named pipe: a stream, read once as it comes
                return SourceInfo(uri, None)
            return SourceInfo(uri, st.st_size, mtime=st.st_mtime)
        info = filesystem(uri).info(uri)
    except Exception as exc:
        raise open_error(uri, exc) from exc
    if info.get("type") == "directory":
        raise SourceError(f"{uri}: is a directory or prefix, not a file")
    return info_of(uri, info)


def info_of(uri: str, info: dict[str, Any]) -> SourceInfo:
    """A SourceInfo from an fsspec ``info``/``find`` entry."""
    size = info.get("size")
    generation = info.get("generation")
    return SourceInfo(
        uri,
        None if size is None else int(size),
        generation=None if generation in (None, "") else str(generation),
        mtime=None if generation else _mtime(info),
    )


def _mtime(info: dict[str, Any]) -> float | None:
    for key in ("mtime", "LastModified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return None


def check_unchanged(expect: SourceInfo) -> None:
    """Raise SourceError when the source is no longer the version ``expect`` describes."""
    try:
        now = stat_source(expect.uri)
    except SourceError as exc:
        raise SourceError(f"{expect.uri}: changed while it was read: {exc}") from exc
    if not now.same_version(expect):
        raise SourceError(
            f"{expect.uri}: changed while it was read ({_version(expect)} became "
            f"{_version(now)}); run again"
        )


def _version(info: SourceInfo) -> str:
    if info.generation is not None:
        return f"generation {info.generation}"
    return f"size {info.size}, modified {info.mtime}"


def splittable_size(info: SourceInfo) -> int | None:
    """Size in bytes of an uncompressed, seekable source; None when it cannot be split."""
    if info.stream or info.compressed:
        return None
    return info.size
