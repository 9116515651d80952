"""Figures: what the container readers of ``measure`` share, given and handed back.

A reader is given a :class:`MediaObject`: the object's first bytes, kind and container, and a
:class:`Reader`, the caller's file as the readers see it (it notes any ``OSError`` of the file
itself and stops a reader that wanders past a read budget). It hands back to ``measure``
:class:`Figures`: what it could take, or a problem in words for a user (:func:`unreadable`,
:func:`install_hint`); it raises :class:`BadBytes` when the bytes are not what their container
says.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO


class _OverBudget(Exception):
    pass


class BadBytes(Exception):
    """The bytes are not what their container says; the message is for a user."""


class Reader(io.RawIOBase):
    """The caller's file, as the readers see it: notes any OSError the file itself raises (the
    readers turn some into their own errors) and stops a reader that wanders past the budget."""

    def __init__(self, f: BinaryIO, size: int, max_bytes: int, max_reads: int) -> None:
        super().__init__()
        self._f = f
        self._size = size
        self._max_bytes = max_bytes  # the budget: past it the reader raises and is given up
        self._max_reads = max_reads
        self.bytes_read = 0
        self.reads = 0
        self.io_error: OSError | None = None
        self.over_budget = False

    def _file(self, call: Callable[[], object]) -> object:
        try:
            return call()
        except OSError as error:
            self.io_error = self.io_error or error
            raise

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = max(0, self._size - self.tell())
        self.reads += 1
        if self.bytes_read + n > self._max_bytes or self.reads > self._max_reads:
            self.over_budget = True
            raise _OverBudget("over the read budget")
        data = self._file(lambda: self._f.read(n))
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file(lambda: self._f.seek(offset, whence))

    def tell(self) -> int:
        return self._file(self._f.tell)

    def read_at(self, offset: int, n: int) -> bytes:
        self.seek(offset)
        return self.read(n)

    def close(self) -> None:
        pass  # the caller's file stays open: readers close what they are given


@dataclass(frozen=True)
class MediaObject:
    """One object, as a container's reader is given it."""

    reader: Reader
    size: int
    head: bytes
    kind: str
    container: str


@dataclass(frozen=True)
class Figures:
    """What a reader took (None: not taken, or not its kind's); ``measure`` makes a Measurement."""

    width: int | None = None
    height: int | None = None
    duration: float | None = None
    has_audio: bool | None = None
    has_video: bool | None = None
    pages: int | None = None
    problem: str | None = None


_LABELS = {
    "jpeg": "JPEG",
    "webp": "WebP",
    "mov": "QuickTime movie",
    "ogg": "Ogg",
    "opus": "Opus",
    "webm": "WebM",
    "mkv": "Matroska",
    "mpeg": "MPEG",
    "ts": "MPEG-TS",
}
_EXTENSIONS = {"mpeg": "mpg", "asf": "wmv"}


def _label(container: str) -> str:
    return _LABELS.get(container, container.upper())


def unreadable(container: str, reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:  # PyAV's: "[Errno 5] ...: '<none>'"
        reason = reason.strerror
    text = " ".join(str(reason).split())[:200] or type(reason).__name__
    return f"not a readable {_label(container)}: {text}"


def install_hint(obj: MediaObject, why: str = "") -> str:
    extension = _EXTENSIONS.get(obj.container, obj.container)
    if obj.container == "ogg" and obj.kind == "video":
        extension = "ogv"
    if obj.container == "asf" and obj.kind == "audio":
        extension = "wma"
    return f"install tunestats[media] to measure .{extension} {obj.kind}{why}"
