"""Outputs: the kept lines of a source (a clean file to submit) and its dropped lines.

As counting decides each block, a :class:`LineSink` writes the block's kept lines, byte for
byte, each followed by ``\\n``, and its dropped lines as JSONL records (line number, drop code,
reason, and the line itself), both in the order of the source. A split run gives each range a
sink of its own on local temporary files (lines numbered from 1, drops kept raw), and
:meth:`Outputs.join_parts` writes them out in file order with the line numbers of the whole:
the files are identical to those of one process. Destinations are written by
:mod:`tunestats.io.writing` (never half a file; what a killed run left is removed).

Hands to the pipeline: :class:`Outputs` (the two destinations) and its sinks.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import os
import pickle
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson

from . import uris
from .writing import Destination, host_tag, left_by_a_dead_run, release, reserve


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
        folder = reserve(lambda: tempfile.mkdtemp(prefix=f"{_PARTS}{host_tag()}-{os.getpid()}-"))
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
            release(folder)

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
def range_sink(paths: tuple[str | None, str | None]) -> Iterator[LineSink]:
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


# A temporary file is ".NAME.tunestats-HOST-PID-N.tmp" beside its destination (HOST at most 40
# characters, a NAME of over 150 bytes as a hash: the name stays under 255); the parts of a
# split run are in a folder "tunestats-lines-HOST-PID-XXXXXXXX" of the system's temporary
# directory. Versions before these names wrote ".NAME.tunestats-PID-HEX" (removed too).
_PARTS = "tunestats-lines-"


_PARTS_FOLDER = re.compile(r"(?P<host>.+)-(?P<pid>\d+)-[a-z0-9_]+")


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
                if left_by_a_dead_run(match["host"], int(match["pid"]), path):
                    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _opened_all(outputs: Outputs) -> Iterator[tuple[Destination | None, Destination | None]]:
    """Both destinations, opened; they appear together once the block ends well (local
    files are renamed last, after every file is complete), else neither does."""
    opened: list[Destination] = []
    try:
        if outputs.kept is not None:
            opened.append(Destination(outputs.kept, "--write-kept"))
        if outputs.dropped is not None:
            opened.append(Destination(outputs.dropped, "--write-dropped"))
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
