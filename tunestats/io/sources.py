"""Sources: a dataset to read, its version, and the byte ranges it is counted in.

:func:`stat_source` gives a source's :class:`SourceInfo` (size, and the ``gs://`` generation or
the modification time). Reading checks that version at the start and at the end, and reads a
``gs://`` object at that one generation, so a source rewritten during a run is an error, never
a mix of two versions. :func:`open_binary` opens it, decompressed; ``-`` is standard input.

Hands to :mod:`tunestats.io.lines`: an open stream of a source's bytes.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO

from . import uris
from .compression import decompressed
from .files import (
    SourceError,
    filesystem,
    filesystem_and_path,
    fsspec_module,
    gcs_options,
    is_gcs,
    open_error,
)


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
        return decompressed(uri, sys.stdin.buffer, None, close_raw=False)
    compression = uris.compression(uri)
    try:
        if uris.is_plain_path(uri):
            raw = open(uri, "rb")  # noqa: SIM115 - the caller closes it
        elif generation is not None and is_gcs(uri):
            fs, path = filesystem_and_path(uri, version_aware=True)
            raw = fs.open(f"{path}#{generation}", "rb")
        else:
            options = gcs_options(uri) if is_gcs(uri) else {}
            raw = fsspec_module().open(uri, mode="rb", **options).open()
    except Exception as exc:
        raise open_error(uri, exc) from exc
    if compression is None:
        return raw
    try:
        return decompressed(uri, raw, compression)
    except BaseException as exc:
        raw.close()
        if isinstance(exc, Exception):
            raise open_error(uri, exc) from exc
        raise


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


@dataclass(frozen=True)
class Range:
    """One byte range of one source: the unit of work of ``stats --jobs``, ``batch`` and Beam.

    Its lines are those that begin in [start, end) (``end`` None: to the end of the source),
    read at the version ``info`` describes and numbered from 1."""

    info: SourceInfo
    index: int  # position among the source's ranges, in file order
    count: int  # how many ranges the source has
    start: int
    end: int | None


def split(info: SourceInfo, min_bytes: int, most: int | None = None) -> list[Range]:
    """A source's ranges: as many of at least ``min_bytes`` as fit, at most ``most``; one for a
    small, compressed or streamed source (:func:`splittable_size`)."""
    bounds = byte_ranges(splittable_size(info), most, min_bytes)
    return [Range(info, k, len(bounds), start, end) for k, (start, end) in enumerate(bounds)]


def byte_ranges(size: int | None, most: int | None, min_bytes: int) -> list[tuple[int, int | None]]:
    """[start, end) bounds of equal ranges of ``size`` bytes, each at least ``min_bytes``
    (at most ``most`` of them); the last runs to the end of the source."""
    fit = 1 if size is None else max(1, size // min_bytes)
    count = fit if most is None else max(1, min(most, fit))
    if count == 1:
        return [(0, None)]
    step = -(-size // count)  # type: ignore[operator]
    return [(k * step, (k + 1) * step if k < count - 1 else None) for k in range(count)]
