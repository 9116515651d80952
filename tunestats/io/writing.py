"""Writing: whole files and streamed destinations that never show half a file.

A local destination is written under a temporary name beside it and renamed when complete; an
fsspec destination (``gs://``) is streamed and made only when complete. A temporary name says
which process on which host made it, so that what a killed run left (``kill -9`` leaves it no
time to clean up) is removed by the next run that writes the same destination. A name ending in
a compression suffix is compressed.

Hands to the other stages: :func:`write_bytes` (a whole file) and :class:`Destination` (a file
written in pieces), whose failures are :class:`OutputError` naming the destination.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import re
import socket
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from . import uris
from .files import filesystem_and_path, first_line


class OutputError(Exception):
    """A destination cannot be written; the message names it."""


class Destination:
    """One output file: written under a temporary name (local) or streamed (fsspec), and made
    visible by :meth:`commit`, or removed by :meth:`discard`."""

    def __init__(self, path: str, option: str) -> None:
        self.path, self.option = path, option
        self.tmp: str | None = None
        self.raw: Any = None
        self.remote: tuple[Any, str] | None = None  # (filesystem, path) of an fsspec object
        self.uploaded = False  # an fsspec object exists (its file was closed)
        try:
            if uris.is_local(path):
                local = uris.local_path(path)
                if os.path.isdir(local):  # else the rename at the end would fail, too late
                    raise IsADirectoryError(errno.EISDIR, "is a directory", local)
                folder, name = os.path.split(os.path.abspath(local))
                _remove_stale_temps(folder, name)
                # A name of our own, opened with "x": the umask applies, as to any new file.
                self.tmp = _temp_path(folder, name)
                self.raw = open(self.tmp, "xb")  # noqa: SIM115 (closed by finish or discard)
            else:
                fs, inner = filesystem_and_path(path)
                self.remote = (fs, inner)
                self.raw = fs.open(inner, "wb")
            self.file = _compressor(self.raw, uris.compression(path))
        except Exception as exc:
            error = self.error(exc)
            self.discard()
            raise error from exc

    def write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except Exception as exc:
            raise self.error(exc) from exc

    def error(self, exc: BaseException) -> OutputError:
        reason = first_line(exc)
        if uris.is_local(self.path) and isinstance(exc, OSError) and exc.strerror:
            reason = exc.strerror  # not the temporary name, which the user never gave
        return OutputError(f"{self.option} {self.path}: cannot write: {reason}")

    def finish(self) -> None:
        """Flush and close (the data is complete); local files are not yet renamed."""
        try:
            if self.file is not self.raw:
                self.file.close()
            self.raw.close()  # an fsspec file commits its object here
            self.uploaded = self.remote is not None
        except Exception as exc:
            error = self.error(exc)
            self.discard()
            raise error from exc

    def commit(self) -> None:
        if self.tmp is not None:
            try:
                os.replace(self.tmp, uris.local_path(self.path))
            except OSError as exc:
                error = self.error(exc)
                self.discard()
                raise error from exc
            release(self.tmp)
            self.tmp = None

    def discard(self) -> None:
        """Leave nothing behind: the temporary file, the fsspec upload, or its object."""
        if self.uploaded:  # another destination failed after this one's object was made
            fs, inner = self.remote  # type: ignore[misc]
            with contextlib.suppress(Exception):
                fs.rm(inner)
            self.uploaded = False
        elif self.remote is not None and self.raw is not None:
            # Closing an fsspec file would commit what it holds: discard it, so no object.
            with contextlib.suppress(Exception):
                self.raw.discard()
        elif self.raw is not None:
            with contextlib.suppress(Exception):
                self.raw.close()
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(self.tmp)
            release(self.tmp)
            self.tmp = None


_TEMP = re.compile(r"(?P<host>.+)-(?P<pid>\d+)-\d+\.tmp")


_OLD_TEMP = re.compile(r"(?P<pid>\d+)-[0-9a-f]+")


_numbers = itertools.count()


_writing: set[str] = set()  # this process's temporary files and folders still in use


_writing_lock = threading.Lock()


def host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:40] or "host"


def _temp_prefix(name: str) -> str:
    """ ".NAME.tunestats-": a NAME so long that the temporary name would pass the usual limit of
    255 bytes is replaced by its hash."""
    if len(os.fsencode(name)) > 150:
        name = hashlib.sha1(os.fsencode(name)).hexdigest()[:16]
    return f".{name}.tunestats-"


def reserve(make: Callable[[], str]) -> str:
    """Make a temporary file or folder with ``make`` and mark it in use by this process."""
    with _writing_lock:  # taken before it exists: no other thread can think it stale
        path = make()
        _writing.add(path)
    return path


def release(path: str) -> None:
    """Mark a temporary file or folder of :func:`reserve` no longer in use."""
    with _writing_lock:
        _writing.discard(path)


def _temp_path(folder: str, name: str) -> str:
    """A temporary name of this process beside ``folder/name``, marked in use (not made)."""
    prefix = f"{_temp_prefix(name)}{host_tag()}-{os.getpid()}-"
    return reserve(lambda: os.path.join(folder, f"{prefix}{next(_numbers)}.tmp"))


def left_by_a_dead_run(host: str, pid: int, path: str) -> bool:
    """Whether ``path``, made by process ``pid`` of ``host``, was left by a run that ended
    without cleaning up: its process, on this host, is no longer running."""
    if host != host_tag():  # another host's, in a shared folder: it may be running there
        return False
    if pid == os.getpid():  # this process, or a dead one that had its number
        with _writing_lock:
            return path not in _writing
    return not _running(pid)


def _running(pid: int) -> bool:
    if os.name != "posix":  # no harmless way to ask: keep what it wrote
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's process
        return True
    return True


def _remove_stale_temps(folder: str, name: str) -> None:
    """Remove the temporary files of the destination ``folder/name`` that killed runs left."""
    prefix = _temp_prefix(name)
    with contextlib.suppress(OSError):
        for entry in os.listdir(folder):
            owner = _temp_owner(entry[len(prefix) :]) if entry.startswith(prefix) else None
            path = os.path.join(folder, entry)
            if owner is not None and left_by_a_dead_run(*owner, path):
                with contextlib.suppress(OSError):
                    os.remove(path)


def _temp_owner(rest: str) -> tuple[str, int] | None:
    """The host and process in a temporary name (after ".NAME.tunestats-"), None if not one."""
    if match := _TEMP.fullmatch(rest):
        return match["host"], int(match["pid"])
    if match := _OLD_TEMP.fullmatch(rest):
        return host_tag(), int(match["pid"])
    return None


def _compressor(raw: BinaryIO, compression: str | None) -> BinaryIO:
    if compression is None:
        return raw
    from fsspec.compression import compr

    return compr[compression](raw, mode="wb")


def write_bytes(path: str, data: bytes) -> None:
    """Write a whole file: local under a temporary name, renamed when complete (never half a
    file), or through fsspec. Failures are the file system's own (callers word them)."""
    if not uris.is_local(path):
        fs, inner = filesystem_and_path(path)
        fs.pipe_file(inner, data)
        return
    folder, name = os.path.split(os.path.abspath(uris.local_path(path)))
    os.makedirs(folder, exist_ok=True)
    tmp = _temp_path(folder, name)
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, uris.local_path(path))
    except BaseException:  # a full disk, or an interrupt: leave no partial file behind
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    finally:
        release(tmp)
