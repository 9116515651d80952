"""Pool: the worker processes that count ranges and datasets, for ``stats --jobs`` and ``batch``.

One kind of pool (:func:`worker_pool`, a ProcessPoolExecutor of forked processes) with one
worker initializer: each worker keeps the run's Plan and a progress slot of its own, leaves
Ctrl-C to the main process and dies with it, even after SIGKILL. Leaving the pool's block by an
error or an interruption kills the workers: nothing goes on counting. :func:`count_ranges`
counts the ranges of one source (the main process counts the first itself).

Hands to the pipeline and the batch: an Accumulator per range, in file order; to tasks of
their own, :func:`worker_plan` and :func:`worker_report`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ..config.plan import Plan
from ..counting.accumulate import Accumulator
from ..counting.ranges import count_range
from ..io.sources import Range
from ..present.progress import Progress, reporter, slots


def count_ranges(
    ranges: list[Range],
    fmt: str,
    plan: Plan,
    progress: Progress | None,
    parts: list[tuple[str | None, str | None]] | None = None,
) -> list[Accumulator]:
    """The ranges of one source counted on ``len(ranges)`` processes, in file order; with
    ``parts``, range ``k`` writes its kept and dropped lines to ``parts[k]``."""
    part: list[Any] = parts if parts is not None else [None] * len(ranges)
    counts = None if progress is None or slots(progress.counts) < len(ranges) else progress.counts
    # The main process reads the first range itself: one process fewer to start and to hold
    # in memory, and it would only wait otherwise.
    with worker_pool(plan, len(ranges) - 1, counts, first_slot=1) as pool:
        with signals_blocked():  # the workers fork now: none sees a signal before it is set
            pending = [pool.submit(range_task, r, fmt, part[r.index]) for r in ranges[1:]]
        report = None if counts is None else reporter(counts, 0)
        first = count_range(ranges[0], fmt, plan, report, part[0])
        return [first] + [future.result() for future in pending]


def range_task(rng: Range, fmt: str, parts: tuple[str | None, str | None] | None) -> Accumulator:
    """A range counted in a pool worker, with the worker's plan and progress slot."""
    return count_range(rng, fmt, worker_plan(), worker_report(), parts)


# --- the pool and its workers ----------------------------------------------------------------


@contextlib.contextmanager
def worker_pool(
    plan: Plan, jobs: int, counts: Any = None, first_slot: int = 0
) -> Iterator[ProcessPoolExecutor]:
    """``jobs`` worker processes that know ``plan``; each reports progress to a slot of
    ``counts`` (from ``first_slot`` on). Submit the first tasks within
    :func:`signals_blocked`, so that no worker sees a signal before its handlers are set."""
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    next_slot = context.Value("i", first_slot) if counts is not None else None
    pool = ProcessPoolExecutor(
        max_workers=max(1, jobs),
        mp_context=context,
        initializer=_init_worker,
        initargs=(plan, counts, next_slot, os.getpid()),
    )
    try:
        yield pool
    except BaseException:
        with signals_held():
            stop_workers(pool)
        raise
    pool.shutdown()


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers and shut it down without waiting for their tasks."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(5)


# A pool worker's plan and progress reporter, set once when the pool starts it.
_worker: dict[str, Any] = {}


def _init_worker(plan: Plan, counts: Any, next_slot: Any, parent: int) -> None:
    die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the main process stops the pool, workers
    # ignore it. SIGTERM ends a worker (the main process decides what it means).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # blocked while the pool forked (signals_blocked)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    _worker["plan"] = plan
    _worker["report"] = None
    if counts is not None:
        with next_slot.get_lock():
            slot = next_slot.value
            next_slot.value += 1
        _worker["report"] = reporter(counts, slot % slots(counts))


def worker_plan() -> Plan:
    """The run's Plan, in a pool worker."""
    return _worker["plan"]


def worker_report() -> Callable[..., None] | None:
    """The progress reporter of this pool worker (None without a progress bar)."""
    return _worker["report"]


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


# --- signals while workers start and stop ----------------------------------------------------

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM wait (blocked, not lost) until the block ends; processes forked in
    it start with them blocked (a pool worker unblocks them once its handlers are set)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """No SIGINT or SIGTERM during the block (a second Ctrl-C while workers are stopped)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
