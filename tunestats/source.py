"""Source: opens a dataset and hands out blocks of whole lines with their line numbers.

Anything fsspec opens works (local paths, ``gs://``, ``memory://`` ...), plus ``-`` for
standard input. Compression is inferred from the name. The file is streamed in blocks of
``block_size`` bytes; only one block (and at most one partial line) is held at a time.

Hands to the next stage (formats): :class:`LineBlock` objects, each a list of raw lines (bytes,
without the ``\\n``) and the 1-based number of its first line.

Whole-source failures (cannot open, cannot decompress, not UTF-8 throughout, changed while it
was read) raise :class:`SourceError` with a one-line message; everything wrong with a single line
is left to the formats stage.

:func:`stat_source` gives a source's :class:`SourceInfo` (size, and the ``gs://`` generation or
the modification time). Reading checks that version at the start and at the end, and reads a
``gs://`` object at that one generation, so a source rewritten during a run is an error, never
a mix of two versions.
"""

from __future__ import annotations

import bz2
import functools
import lzma
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from . import uris

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


class SourceError(Exception):
    """The source as a whole cannot be used (missing, unreadable, corrupt, not JSONL)."""


@dataclass(frozen=True)
class LineBlock:
    """Consecutive physical lines of a source; ``lines[k]`` is line ``first_line + k``."""

    first_line: int
    lines: list[bytes]


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

    def same_version(self, other: SourceInfo) -> bool:
        if self.generation is not None or other.generation is not None:
            return self.generation == other.generation
        return (self.size, self.mtime) == (other.size, other.mtime)


def open_binary(uri: str, generation: str | None = None) -> BinaryIO:
    """Open ``uri`` for reading decompressed bytes; ``-`` is standard input.

    With ``generation``, a ``gs://`` object is read at that generation only.
    """
    if uri == "-":
        return sys.stdin.buffer
    compression = uris.compression(uri)
    try:
        if uris.is_plain_path(uri):
            return _open_local(uri, compression)
        if generation is not None and _is_gcs(uri):
            fs, path = filesystem_and_path(uri, version_aware=True)
            raw = fs.open(f"{path}#{generation}", "rb")
            return _decompress(raw, compression)
        fsspec = _fsspec()
        options = gcs_options(uri) if _is_gcs(uri) else {}
        return fsspec.open(uri, mode="rb", compression=compression, **options).open()
    except Exception as exc:
        raise open_error(uri, exc) from exc


def _decompress(raw: BinaryIO, compression: str | None) -> BinaryIO:
    if compression is None:
        return raw
    from fsspec.compression import compr

    return compr[compression](raw, mode="rb")


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
    if not uris.is_plain_path(uri) and uri != "-":
        # Remote file systems raise their own types (HTTP, connection, auth errors) once
        # their retries are spent; each ends the source with a one-line message.
        return (Exception,)
    if uris.compression(uri) != "zstd":
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
    """Reject a source that is something else than UTF-8 text; drop a UTF-8 byte-order mark.

    Returns the bytes that remain and the offset in the file where they start."""
    for bom, name in _WIDE_BOMS.items():
        if head.startswith(bom):
            raise SourceError(f"{uri}: not UTF-8: the file starts with a {name} byte-order mark")
    looks = looks_like(head)
    if looks is not None:
        what, suffix = looks
        if suffix is None:
            fix = "tunestats reads JSONL text"
        elif uri == "-":
            fix = f"decompress it first, or give a file named {suffix}"
        else:
            fix = f"name it {suffix}"
        raise SourceError(f"{uri}: not JSONL text: it looks {what}; {fix}")
    if head.startswith(_UTF8_BOM):
        return head[len(_UTF8_BOM) :], len(_UTF8_BOM)
    return head, 0


def looks_like(head: bytes) -> tuple[str, str | None] | None:
    """What the first bytes of a source say it is, when that is not text: (what, suffix)."""
    for magic, what, suffix in _MAGIC:
        if head.startswith(magic):
            return ("like " + what if what.startswith("a ") else what), suffix
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        return "bzip2-compressed", ".bz2"
    sample = head[:64]
    if len(sample) >= 8 and sample[1::2].count(0) == len(sample) // 2 and 0 not in sample[0::2]:
        return "UTF-16-LE encoded (no byte-order mark)", None
    if len(sample) >= 8 and sample[0::2].count(0) == len(sample) // 2 and 0 not in sample[1::2]:
        return "UTF-16-BE encoded (no byte-order mark)", None
    return None


def read_blocks(
    uri: str,
    block_size: int = BLOCK_SIZE,
    start: int = 0,
    end: int | None = None,
    expect: SourceInfo | None = None,
) -> Iterator[LineBlock]:
    """Yield the lines of ``uri`` in blocks; raise SourceError for whole-source failures.

    With a byte range, yield only the lines that *begin* in ``[start, end)``, numbered from 1:
    shards of one file then cover every line exactly once, whatever the cut points.
    With ``expect`` (from :func:`stat_source`), a ``gs://`` object is read at that generation,
    and a source whose version is no longer ``expect``'s when the reading ends is an error.
    """
    errors = _read_errors(uri)
    stream = open_binary(uri, expect.generation if expect is not None else None)
    try:
        yield from _blocks(uri, stream, block_size, errors, start, end)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if expect is not None:
        check_unchanged(expect)


def _read(uri: str, stream: BinaryIO, size: int, errors: tuple[type[BaseException], ...]) -> bytes:
    try:
        return stream.read(size)
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


def stat_source(uri: str) -> SourceInfo:
    """Size and version of ``uri``; raise SourceError when it cannot be found or opened."""
    if uri == "-":
        return SourceInfo(uri, None)
    try:
        if uris.is_plain_path(uri):
            st = os.stat(uri)
            if os.path.isdir(uri):
                raise IsADirectoryError(uri)
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
    if info.uri == "-" or info.compressed:
        return None
    return info.size
