"""Read: each distinct media object of a run measured once, concurrently, with bounded waits.

A :class:`MediaReader` takes object keys (a ``gs://``, ``http(s)://`` or local URI, or the
digest of inline bytes) as soon as a block is parsed, reads them on a bounded pool of threads
(gcsfs and fsspec's HTTP file system serve many threads at once on their own event loop), and
keeps one :class:`Outcome` per key for the rest of the run: a dataset whose 300,000 parts
share a few objects reads each of them once. Only as much of an object is read as
``measure`` needs (a range read of the header; an MP4's index or a PDF's trailer where they
are), through the file systems of :mod:`tunestats.io.files`, so ``gs://`` has the same
credentials, endpoint and one-line errors as datasets.

Hands to ``media.stage``: an :class:`Outcome` per key: a :class:`Measurement`, or "missing",
or why the object could not be read (permission denied, timed out...).
"""

from __future__ import annotations

import io
import os
import queue
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..io import uris
from .kinds import HEAD_BYTES
from .measure import Measurement, measure

THREADS = 32  # objects read at once: enough to hide a remote store's latency (benchmarks/media.py)
TIMEOUT_SECONDS = 60.0  # one object's reading, from its start (--media-timeout; CHOICES.md)


@dataclass(frozen=True)
class Outcome:
    """What reading one object gave: a measurement, or ``status`` "missing" / "not read"."""

    measurement: Measurement | None
    status: str = "read"  # "read", "missing", "not read"
    reason: str = ""  # for "not read": "permission denied", "timed out after 60 s"...


@dataclass(frozen=True)
class Access:
    """Which object URIs a run may read: ``http(s)://`` only from the command line and the
    Python API (never in the emulator), local paths unless the emulator says otherwise."""

    http: bool = True
    local: bool = True
    # False in the emulator: a local path must be a regular file outside /proc, /sys and /dev
    # (its links resolved), as its datasets must (CHOICES.md, "Emulator").
    any_local_file: bool = True

    def refusal(self, uri: str) -> str | None:
        scheme = uris.scheme(uri)
        if scheme in ("http", "https") and not self.http:
            return "http(s) URIs are not read here"
        if uris.is_local(uri) and not self.local:
            return "local paths are not read here"
        if uris.is_local(uri) and not self.any_local_file:
            return _not_a_plain_file(uris.local_path(uri))
        return None


def _not_a_plain_file(path: str) -> str | None:
    """Why a local media path may not be read by a server (None: it may, or it is missing,
    which reading reports as such)."""
    import stat

    try:
        real = os.path.realpath(path, strict=True)
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return f"cannot be examined: {exc}"
    from ..io.files import system_dir

    if system_dir(real) is not None:
        return f"{real} is a system file (under /proc, /sys or /dev)"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return None


ANY = Access()  # the command line and the Python API: any URI


class MediaReader:
    """Measures objects on a pool of threads; each key is read at most once."""

    def __init__(
        self, access: Access = ANY, threads: int = THREADS, timeout: float | None = None
    ) -> None:
        self.access = access
        self.threads = threads
        self.timeout = TIMEOUT_SECONDS if timeout is None else timeout
        self._pool: _DaemonPool | None = None
        self._futures: dict[str, Future[Outcome]] = {}
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()
        self._reported: set[str] = set()  # keys whose outcome a block has had (progress)

    def submit(self, key: str, data: bytes | None = None) -> None:
        """Start measuring ``key`` (inline ``data`` when given) unless it was asked before."""
        with self._lock:
            if key in self._futures:
                return
            if self._pool is None:
                self._pool = _DaemonPool(self.threads)
            self._futures[key] = self._pool.submit(self._measure, key, data)

    def outcomes(self, keys: Iterable[str]) -> dict[str, Outcome]:
        """The outcome of each key (submitted before), waiting at most TIMEOUT_SECONDS for any
        one object from the moment its reading started."""
        result: dict[str, Outcome] = {}
        for key in dict.fromkeys(keys):
            future = self._futures[key]
            while key not in result:
                started = self._started.get(key)
                wait = 1.0 if started is None else started + self.timeout - time.monotonic()
                try:
                    result[key] = future.result(timeout=max(wait, 0.0))
                except TimeoutError:
                    if started is not None:  # not merely queued: its own time is up
                        result[key] = _timed_out(self.timeout)
                        self._futures[key] = _done(result[key])
        return result

    def newly_read(self, keys: Iterable[str]) -> int:
        """How many of ``keys`` no earlier call named: the objects read for one block."""
        with self._lock:
            new = set(keys) - self._reported
            self._reported |= new
        return len(new)

    def _measure(self, key: str, data: bytes | None) -> Outcome:
        self._started[key] = time.monotonic()
        if data is not None:
            return Outcome(measure(io.BytesIO(data), len(data)))
        refused = self.access.refusal(key)
        if refused:
            return Outcome(None, "not read", refused)
        return read_object(key)


class _DaemonPool:
    """At most ``threads`` daemon threads, started as tasks come and ended when idle.

    Daemon threads: a read that timed out may hang until its server answers, and must not hold
    the process at exit (the interpreter joins ThreadPoolExecutor's threads). Ending when idle:
    a long-lived process (the emulator's workers, a batch) keeps no threads between runs.
    """

    IDLE_SECONDS = 2.0

    def __init__(self, threads: int) -> None:
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._most = threads
        self._live = 0
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._tasks.put((future, fn, args))
        with self._lock:
            if self._idle == 0 and self._live < self._most:
                self._live += 1
                threading.Thread(target=self._work, name="tunestats-media", daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            try:
                task = self._tasks.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                task = None
            with self._lock:
                self._idle -= 1
                if task is None:
                    if not self._tasks.empty():  # put just now: submit counted us as idle
                        continue
                    self._live -= 1
                    return
            future, fn, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the waiter, as an executor would
                future.set_exception(exc)


def read_object(uri: str) -> Outcome:
    """Open ``uri`` through fsspec (gcsfs for gs://) and measure it; classify what fails."""
    from ..io.files import filesystem_and_path

    try:
        if uris.is_plain_path(uri):
            with open(uri, "rb") as f:
                size = _size(f)
                return Outcome(measure(f, size))
        fs, path = filesystem_and_path(uri)
        # One request for the head: an object shorter than that is all there, and needs no
        # second request for its size (most images, many PDFs).
        head = fs.cat_file(path, start=0, end=HEAD_BYTES)
        if len(head) < HEAD_BYTES:
            return Outcome(measure(io.BytesIO(head), len(head)))
        with fs.open(path, "rb", block_size=HEAD_BYTES, cache_type="readahead") as f:
            return Outcome(measure(_HeadFirst(head, f), f.size))
    except Exception as exc:  # every file system raises its own types
        return classify(exc)


class _HeadFirst(io.RawIOBase):
    """A remote file whose first bytes were read already: those come from memory."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self.head, self.rest, self.pos = head, rest, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.rest.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int = -1) -> bytes:
        end = self.rest.size if size is None or size < 0 else min(self.pos + size, self.rest.size)
        if end <= len(self.head):
            data = self.head[self.pos : end]
        else:
            self.rest.seek(self.pos)
            data = self.rest.read(end - self.pos)
        self.pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _size(f: Any) -> int:
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(0)
    return size


def classify(exc: BaseException) -> Outcome:
    """Missing (the object does not exist), or not read and why, in a few words."""
    from ..io.files import SourceError, first_line

    text = first_line(exc)
    code = getattr(exc, "code", None) or getattr(exc, "status", None)
    if isinstance(exc, FileNotFoundError) or code == 404:
        return Outcome(None, "missing", "no such object")
    if isinstance(exc, PermissionError) or code == 403 or "Forbidden" in text:
        return Outcome(None, "not read", "permission denied")
    if code == 401:
        return Outcome(None, "not read", "not authenticated")
    if isinstance(exc, TimeoutError):
        return Outcome(None, "not read", "timed out")
    if isinstance(exc, SourceError):  # no network, credentials that do not refresh
        return Outcome(None, "not read", text.split(": ", 1)[-1])
    if isinstance(exc, IsADirectoryError):
        return Outcome(None, "not read", "a directory, not a file")
    return Outcome(None, "not read", f"cannot read: {type(exc).__name__}: {text}"[:200])


def _timed_out(seconds: float) -> Outcome:
    return Outcome(None, "not read", f"timed out after {seconds:g} s")


def _done(outcome: Outcome) -> Future[Outcome]:
    future: Future[Outcome] = Future()
    future.set_result(outcome)
    return future
