"""Run a command as a child process; measure its wall time and the memory of its process tree.

While the child runs, a thread samples every 50 ms the child and all its descendants (found
through the parent pid in ``/proc/<pid>/stat``), summing ``VmRSS`` from ``/proc/<pid>/status``
and ``Pss`` from ``/proc/<pid>/smaps_rollup``; the peaks of both sums are kept. RSS sums count
shared pages (libraries, copy-on-write memory of forked workers) once per process; PSS divides
each shared page among the processes that map it, so the PSS sum is the tree's real footprint.
The child's ``ru_maxrss`` (from ``wait4``: the largest single process of the tree) is kept too,
as it sees peaks shorter than the sampling period. Linux only.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

PERIOD = 0.05


@dataclass
class Measured:
    """One run: exit status, wall seconds, output, memory peaks in bytes."""

    returncode: int
    seconds: float
    stdout: str
    stderr: str
    peak_rss: int  # peak of the summed VmRSS over the process tree
    peak_pss: int  # peak of the summed Pss over the process tree
    max_rss: int  # ru_maxrss: the largest single process of the tree


def _children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, alive now."""
    children = _children_of()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _field_kb(path: str, field: bytes) -> int:
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def tree_memory(root: int) -> tuple[int, int]:
    """Summed (RSS, PSS) in bytes of ``root`` and its descendants."""
    rss = pss = 0
    for pid in process_tree(root):
        rss += _field_kb(f"/proc/{pid}/status", b"VmRSS:")
        pss += _field_kb(f"/proc/{pid}/smaps_rollup", b"Pss:")
    return rss, pss


class _Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_rss = self.peak_pss = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            rss, pss = tree_memory(self.pid)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.done.wait(PERIOD)


def run_measured(command: Sequence[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``command`` to its end; stdout and stderr go through temporary files."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(list(command), stdout=out, stderr=err, env=env)
        sampler = _Sampler(child.pid)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        sampler.done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=child.returncode,
            seconds=seconds,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            peak_rss=sampler.peak_rss,
            peak_pss=sampler.peak_pss,
            max_rss=usage.ru_maxrss * 1024,
        )


def warm_page_cache(path: str) -> None:
    """Read ``path`` once, so that no path pays for the first read from disk."""
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass
