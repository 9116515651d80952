"""Outputs: the kept lines of a source (a clean file to submit) and its dropped lines.

As counting decides each block, a :class:`LineSink` writes the block's kept lines, byte for
byte, each followed by ``\\n``, and its dropped lines as JSONL records (line number, drop code,
reason, and the line itself), both in the order of the source. A split run gives each shard a
sink of its own on local temporary files (lines numbered from 1, drops kept raw), and
:func:`join_parts` writes them out in file order with the line numbers of the whole: the files
are identical to those of one process. Destinations are local paths (written to a temporary
name and renamed: never half a file) or any fsspec URL (``gs://``); a name ending in a
compression suffix is compressed. A temporary name says which process on which host made it, so
that what a killed run left (``kill -9`` leaves it no time to clean up) is removed by the next
run that writes the same destination, or any split run.

Hands to the pipeline: :class:`Outputs` (the two destinations) and its sinks.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import errno
import hashlib
import itertools
import os
import pickle
import re
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import numpy as np
import orjson

from . import uris
from .source import filesystem_and_path, first_line


def dropped_record(line: int, problem: str, code: str, raw: bytes) -> bytes:
    """One line of ``--write-dropped``: where, what kind, why, and the line as it was (as
    ``text`` when it is UTF-8, else as ``base64``)."""
    record: dict[str, Any] = {"line": line, "code": code, "reason": f"line {line}: {problem}"}
    try:
        record["text"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        record["base64"] = base64.b64encode(raw).decode("ascii")
    return orjson.dumps(record) + b"\n"


class Writable(Protocol):
    def write(self, data: bytes) -> Any: ...


class LineSink:
    """Writes the kept and dropped lines of the blocks given to it (either stream may be None).

    ``raw_drops``: a shard's sink pickles (line, problem, code, raw) for :func:`join_parts`,
    which alone knows the shard's first line.
    """

    def __init__(
        self, kept: Writable | None, dropped: Writable | None, raw_drops: bool = False
    ) -> None:
        self.kept = kept
        self.dropped = dropped
        self.raw_drops = raw_drops

    def block(
        self,
        numbers: list[int],
        raws: list[bytes],
        kept: np.ndarray,
        drops: list[tuple[int, str, str]],
    ) -> None:
        """One block: the numbers and bytes of its non-blank lines (ascending), the numbers of
        its kept lines and the (line, problem, code) of its dropped ones (in any order)."""
        if self.kept is not None and len(kept):
            at = np.searchsorted(np.asarray(numbers), np.sort(kept)).tolist()
            self.kept.write(b"".join(raws[i] + b"\n" for i in at))
        if self.dropped is not None and drops:
            for line, problem, code in sorted(drops):
                raw = raws[bisect.bisect_left(numbers, line)]
                if self.raw_drops:
                    self.dropped.write(pickle.dumps((line, problem, code, raw)))
                else:
                    self.dropped.write(dropped_record(line, problem, code, raw))


@dataclass(frozen=True)
class Outputs:
    """Where ``--write-kept`` and ``--write-dropped`` go (None: not written)."""

    kept: str | None = None
    dropped: str | None = None

    def __bool__(self) -> bool:
        return self.kept is not None or self.dropped is not None

    def check(self, *sources: str | None) -> None:
        """ValueError when the two destinations are one file, or one is a source: the run
        would overwrite what it reads, or one output the other."""
        options = (("--write-kept", self.kept), ("--write-dropped", self.dropped))
        named = [(option, path) for option, path in options if path is not None]
        seen = {_same_file_key(s): f"the source {s}" for s in sources if s not in (None, "-")}
        for option, path in named:
            key = _same_file_key(path)
            if key in seen:
                raise ValueError(f"{option} {path} is {seen[key]}; give another path")
            seen[key] = f"the {option} path"

    @contextlib.contextmanager
    def sink(self) -> Iterator[LineSink]:
        """A sink writing straight to the destinations; they appear only if all went well."""
        with _opened_all(self) as (kept, dropped):
            yield LineSink(kept, dropped)

    @contextlib.contextmanager
    def parts(self, count: int) -> Iterator[list[tuple[str | None, str | None]]]:
        """Local temporary files for ``count`` shards, removed afterwards."""
        _remove_stale_parts(tempfile.gettempdir())
        with _writing_lock:  # taken before it exists: no other thread can think it stale
            folder = tempfile.mkdtemp(prefix=f"{_PARTS}{_host()}-{os.getpid()}-")
            _writing.add(folder)
        try:
            yield [
                (
                    os.path.join(folder, f"kept.{k}") if self.kept else None,
                    os.path.join(folder, f"dropped.{k}") if self.dropped else None,
                )
                for k in range(count)
            ]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            with _writing_lock:
                _writing.discard(folder)

    def join_parts(
        self, parts: list[tuple[str | None, str | None]], first_lines: list[int]
    ) -> None:
        """Write the shards' files in order; shard ``k``'s lines follow ``first_lines[k]``."""
        with _opened_all(self) as (kept, dropped):
            for (kept_part, dropped_part), before in zip(parts, first_lines):
                if kept is not None and kept_part is not None:
                    with open(kept_part, "rb") as f:
                        shutil.copyfileobj(f, kept, 1 << 20)
                if dropped is not None and dropped_part is not None:
                    for line, problem, code, raw in _pickles(dropped_part):
                        dropped.write(dropped_record(line + before, problem, code, raw))


def _same_file_key(path: str) -> str:
    """Equal for two names of one file (local paths resolved; URLs as written)."""
    return os.path.realpath(uris.local_path(path)) if uris.is_local(path) else path


@contextlib.contextmanager
def shard_sink(paths: tuple[str | None, str | None]) -> Iterator[LineSink]:
    """A shard's sink on its local part files (see :meth:`Outputs.parts`)."""
    kept_path, dropped_path = paths
    with contextlib.ExitStack() as stack:
        kept = stack.enter_context(open(kept_path, "wb")) if kept_path else None
        dropped = stack.enter_context(open(dropped_path, "wb")) if dropped_path else None
        yield LineSink(kept, dropped, raw_drops=True)


def _pickles(path: str) -> Iterator[Any]:
    with open(path, "rb") as f:
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


class OutputError(Exception):
    """A destination cannot be written; the message names it."""


class _Destination:
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
            with _writing_lock:
                _writing.discard(self.tmp)
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
            with _writing_lock:
                _writing.discard(self.tmp)
            self.tmp = None


# --- temporary names, and what a killed run left ----------------------------------------------

# A temporary file is ".NAME.tunestats-HOST-PID-N.tmp" beside its destination (HOST at most 40
# characters, a NAME of over 150 bytes as a hash: the name stays under 255); the parts of a
# split run are in a folder "tunestats-lines-HOST-PID-XXXXXXXX" of the system's temporary
# directory. Versions before these names wrote ".NAME.tunestats-PID-HEX" (removed too).
_PARTS = "tunestats-lines-"
_TEMP = re.compile(r"(?P<host>.+)-(?P<pid>\d+)-\d+\.tmp")
_OLD_TEMP = re.compile(r"(?P<pid>\d+)-[0-9a-f]+")
_PARTS_FOLDER = re.compile(r"(?P<host>.+)-(?P<pid>\d+)-[a-z0-9_]+")
_numbers = itertools.count()
_writing: set[str] = set()  # this process's temporary files and folders still in use
_writing_lock = threading.Lock()


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:40] or "host"


def _temp_prefix(name: str) -> str:
    """ ".NAME.tunestats-": a NAME so long that the temporary name would pass the usual limit of
    255 bytes is replaced by its hash."""
    if len(os.fsencode(name)) > 150:
        name = hashlib.sha1(os.fsencode(name)).hexdigest()[:16]
    return f".{name}.tunestats-"


def _temp_path(folder: str, name: str) -> str:
    with _writing_lock:
        number = next(_numbers)
        path = os.path.join(folder, f"{_temp_prefix(name)}{_host()}-{os.getpid()}-{number}.tmp")
        _writing.add(path)
    return path


def _left_by_a_dead_run(host: str, pid: int, path: str) -> bool:
    """Whether ``path``, made by process ``pid`` of ``host``, was left by a run that ended
    without cleaning up: its process, on this host, is no longer running."""
    if host != _host():  # another host's, in a shared folder: it may be running there
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
            if owner is not None and _left_by_a_dead_run(*owner, path):
                with contextlib.suppress(OSError):
                    os.remove(path)


def _temp_owner(rest: str) -> tuple[str, int] | None:
    """The host and process in a temporary name (after ".NAME.tunestats-"), None if not one."""
    if match := _TEMP.fullmatch(rest):
        return match["host"], int(match["pid"])
    if match := _OLD_TEMP.fullmatch(rest):
        return _host(), int(match["pid"])
    return None


def _remove_stale_parts(folder: str) -> None:
    """Remove the part folders that killed split runs of this user left in ``folder``."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        for entry in os.listdir(folder):
            match = entry.startswith(_PARTS) and _PARTS_FOLDER.fullmatch(entry[len(_PARTS) :])
            if not match:
                continue
            path = os.path.join(folder, entry)
            with contextlib.suppress(OSError):
                info = os.lstat(path)  # a folder of this user's, not a link to one
                if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):
                    continue
                if _left_by_a_dead_run(match["host"], int(match["pid"]), path):
                    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _opened_all(outputs: Outputs) -> Iterator[tuple[_Destination | None, _Destination | None]]:
    """Both destinations, opened; they appear together once the block ends well (local
    files are renamed last, after every file is complete), else neither does."""
    opened: list[_Destination] = []
    try:
        if outputs.kept is not None:
            opened.append(_Destination(outputs.kept, "--write-kept"))
        if outputs.dropped is not None:
            opened.append(_Destination(outputs.dropped, "--write-dropped"))
        yield (
            next((d for d in opened if d.path == outputs.kept), None),
            next((d for d in opened if d.path == outputs.dropped), None),
        )
        for destination in opened:
            destination.finish()
        for destination in opened:
            destination.commit()
    except BaseException:
        for destination in opened:
            destination.discard()
        raise


def _compressor(raw: BinaryIO, compression: str | None) -> BinaryIO:
    if compression is None:
        return raw
    from fsspec.compression import compr

    return compr[compression](raw, mode="wb")
