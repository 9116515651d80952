"""Parallel: one source counted in byte ranges by a pool of forked processes.

The main process counts the first range itself; each worker counts one range into an
Accumulator of its own (lines numbered from 1), and ``combine`` joins them in file order. Workers
leave Ctrl-C to the main process and die with it, even after SIGKILL.

Hands to the pipeline: the combined (Accumulator, JSON lines) of the whole source.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ..config.plan import Plan
from ..counting import combine
from ..counting.accumulate import Accumulator
from ..counting.blocks import accumulate_blocks
from ..io.lines import read_blocks
from ..io.outputs import Outputs, shard_sink
from ..io.sources import SourceInfo
from ..present.progress import Progress, reporter, slots


def shard_ranges(size: int | None, jobs: int, min_bytes: int) -> list[tuple[int, int | None]]:
    """Byte ranges [start, end) for the workers; the last one runs to the end of the source."""
    count = 1 if size is None else max(1, min(jobs, size // min_bytes))
    if count == 1:
        return [(0, None)]
    step = -(-size // count)
    return [(k * step, (k + 1) * step if k < count - 1 else None) for k in range(count)]


def run_range(
    info: SourceInfo,
    fmt: str,
    plan: Plan,
    start: int,
    end: int | None,
    report: Callable[..., None] | None = None,
    parts: tuple[str | None, str | None] | None = None,
) -> tuple[Accumulator, int]:
    """One shard: the lines that begin in [start, end), numbered from 1 (see Accumulator.shift).

    The source is read at the version ``info`` describes; progress goes to ``report``; with
    ``parts`` (local file names, see :meth:`Outputs.parts`), the shard's kept and dropped
    lines are written there.
    """
    blocks = read_blocks(
        info.uri, start=start, end=end, expect=info, max_line_bytes=plan.options.max_line_bytes
    )
    if parts is None:
        return accumulate_blocks(blocks, fmt, plan, report)
    with shard_sink(parts) as sink:
        return accumulate_blocks(blocks, fmt, plan, report, sink)


def _range_in_worker(
    info: SourceInfo,
    fmt: str,
    plan: Plan,
    start: int,
    end: int | None,
    slot: int,
    parts: tuple[str | None, str | None] | None,
) -> tuple[Accumulator, int]:
    """A range counted by a pool worker, reporting to the counters it inherited."""
    counts = _worker_progress
    report = None if counts is None else reporter(counts, slot)
    return run_range(info, fmt, plan, start, end, report, parts)


# A worker process's view of the progress counters, inherited when the pool forks it.
_worker_progress: Any = None


def _init_worker(counts: Any, parent: int) -> None:
    global _worker_progress
    _worker_progress = counts
    # Ctrl-C reaches the whole process group: the main process stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


_PR_SET_PDEATHSIG = 1
_PARENT_POLL_SECONDS = 0.5


def die_with_parent(parent: int) -> None:
    """End this pool worker when ``parent`` dies, even by SIGKILL: no orphan goes on counting.

    Linux: the kernel sends SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG). Everywhere,
    and in case that is refused: a thread checks the parent every half second.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent,), name="tunestats-parent", daemon=True
    ).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_POLL_SECONDS)
    os._exit(1)


def warm_for_large_run(plan: Plan) -> None:
    """Load the tokenizer's engine for large runs now: before a pool forks (so that the
    workers share it instead of each loading it: kitoken takes 0.6 s), or before a large
    source, which would switch to it anyway."""
    warm = getattr(plan.choice.tokenizer, "warm", None)
    if warm is not None:
        warm()


def run_shards(
    info: SourceInfo,
    fmt: str,
    plan: Plan,
    ranges: list[tuple[int, int | None]],
    progress: Progress | None,
    outputs: Outputs | None = None,
    check: Callable[[Accumulator, int], object] | None = None,
) -> tuple[Accumulator, int]:
    """The whole source from its ranges; with ``outputs``, its kept and dropped lines are
    written once the whole passes ``check`` (which raises when the source cannot be used)."""
    if not outputs:
        return combine.in_order(_run_shards(info, fmt, plan, ranges, progress, None))
    with outputs.parts(len(ranges)) as parts:
        shards = _run_shards(info, fmt, plan, ranges, progress, parts)
        # Shard k's lines were numbered from 1: they follow the lines of the shards before.
        before = [0]
        for acc, _ in shards[:-1]:
            before.append(before[-1] + acc.last_line)
        whole = combine.in_order(shards)
        if check is not None:
            check(*whole)
        outputs.join_parts(parts, before)
    return whole


def _run_shards(
    info: SourceInfo,
    fmt: str,
    plan: Plan,
    ranges: list[tuple[int, int | None]],
    progress: Progress | None,
    parts: list[tuple[str | None, str | None]] | None,
) -> list[tuple[Accumulator, int]]:
    """The shards of the ranges, in file order (the main process counts the first)."""
    part: list[Any] = parts if parts is not None else [None] * len(ranges)
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    counts = None if progress is None or slots(progress.counts) < len(ranges) else progress.counts
    # The main process reads the first range itself: one process fewer to start and to hold
    # in memory, and it would only wait otherwise. A multiprocessing Pool, because leaving
    # its block terminates the workers: after Ctrl-C or an error, nothing goes on counting.
    parent = os.getpid()
    with context.Pool(len(ranges) - 1, initializer=_init_worker, initargs=(counts, parent)) as pool:
        pending = [
            pool.apply_async(_range_in_worker, (info, fmt, plan, a, b, k, part[k]))
            for k, (a, b) in enumerate(ranges)
            if k > 0
        ]
        report = None if counts is None else reporter(counts, 0)
        first = run_range(info, fmt, plan, *ranges[0], report, part[0])
        return [first] + [result.get() for result in pending]
