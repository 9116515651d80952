"""Run: the batch itself, on all cores, resumable and interruptible.

Skips the datasets whose record is for the same version and options, counts the others on a
pool (largest first; large files in byte ranges, joined by ``combine``), writes each record as
soon as its dataset is done, and the summary at the end. SIGINT and SIGTERM stop the workers
and keep every finished record.

Hands to the CLI: :class:`BatchResult` (rows in input order, plus where the summary went), or
:class:`BatchInterrupted`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ..config.options import Options
from ..config.plan import Plan, make_plan
from ..counting import combine
from ..counting.accumulate import Accumulator
from ..counting.ranges import Failure
from ..io import uris
from ..io.sources import Range, SourceInfo, split, stat_source
from ..present.progress import Progress, reporter
from ..run.pool import (
    range_task,
    signals_blocked,
    warm_for_large_run,
    worker_plan,
    worker_pool,
    worker_report,
)
from .expand import Expansion, expand_one, without_outputs
from .paths import record_path
from .records import Record, count_whole, detect, make_record, stored_record
from .summary import Row, row_of, save_record, write_summary


@dataclass
class BatchResult:
    rows: list[Row]
    summary_jsonl: str
    summary_parquet: str

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.status == "failed"]


# --- stopping a batch: SIGINT and SIGTERM ---------------------------------------------------------


class BatchInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the batch.

    The records of the datasets that were done are under DEST (a rerun reuses them); the
    summary is not written. ``rows`` are those datasets' rows in input order, ``total`` the
    number of rows the batch would have had; ``exit_code`` is 128 + the signal's number (130
    for SIGINT, 143 for SIGTERM), as a shell reports a process that the signal ended.
    """

    def __init__(self, signum: int, rows: list[Row], total: int, dest: str) -> None:
        self.signum, self.rows, self.total, self.dest = signum, rows, total, dest
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(
            f"interrupted ({name}): {len(rows)} of {total} datasets done (their records are "
            f"kept under {dest}, no summary written); run the batch again to count the rest"
        )


class _Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM during a batch, as SIGINT raises KeyboardInterrupt."""

    signum = signal.SIGTERM


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """During the block, SIGTERM interrupts the main thread like SIGINT (unless a handler of
    the caller's, or SIG_IGN, is in place: that one stays)."""
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


# --- the batch ------------------------------------------------------------------------------------


def run_batch(
    sources: Sequence[str] | Sequence[Expansion],
    dest: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
    outputs: Sequence[str] = (),
    **options: Any,
) -> BatchResult:
    """Count every dataset that ``sources`` name and write records and summary under ``dest``.

    ``sources`` are SOURCE arguments, or their :func:`expand` (to fix the listing first).
    Files under ``dest`` and under each of ``outputs`` (other folders the caller writes, such
    as the CLI's ``--html DIR``) are never datasets: a batch does not read its own outputs.
    ``options`` are those of :class:`~tunestats.Options`; ``jobs`` is the number of processes.
    Each record is written as soon as its dataset is counted. SIGINT (KeyboardInterrupt) or
    SIGTERM stops the workers and raises :class:`BatchInterrupted`; no summary is written then.
    """
    rows: dict[str, Row] = {}
    order: list[str] = []
    try:
        with _sigterm_interrupts():
            plan = make_plan(Options(**options))
            mine = [dest, *outputs]
            expansions = [
                without_outputs(s, mine) if isinstance(s, Expansion) else expand_one(s, mine)
                for s in sources
            ]
            work = work_of(expansions)
            order = work.order
            rows.update(work.failed)
            todo: list[SourceInfo] = []
            for info in work.datasets:
                kept = None if force else stored_record(dest, info, plan)
                if kept is not None:
                    rows[info.uri] = row_of(kept, "unchanged", record_path(dest, info.uri))
                else:
                    todo.append(info)

            def finished(info: SourceInfo, record: Record) -> None:
                rows[info.uri] = save_record(dest, record)

            jobs = plan.options.jobs or os.cpu_count() or 1
            _count_all(todo, plan, jobs, progress, finished)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        done = [rows[uri] for uri in order if uri in rows]
        raise BatchInterrupted(signum, done, len(order), dest) from None
    ordered = [rows[uri] for uri in work.order]
    jsonl, parquet = write_summary(dest, ordered)
    return BatchResult(ordered, jsonl, parquet)


# --- finding datasets -----------------------------------------------------------------------------


@dataclass
class Work:
    """The expanded SOURCE arguments: datasets to count, in order, and the sources that failed."""

    order: list[str]  # summary order: every dataset once, and each failed source
    failed: dict[str, Row]  # rows of sources that name no dataset, by source
    datasets: list[SourceInfo]  # to count, each once


def work_of(expansions: Sequence[Expansion]) -> Work:
    """Datasets in the order of their SOURCE arguments, each once (where first named).

    A dataset whose name is not UTF-8 is a failed row, not counted: the summary and the
    records are UTF-8 JSON and Parquet, and could not name it (nor could Cloud Storage)."""
    result = Work([], {}, [])
    seen: set[str] = set()
    for expansion in expansions:
        if expansion.error is not None:
            _fail(result, expansion.source, expansion.error)
        for info in expansion.datasets:
            if info.uri in seen or info.uri in result.failed:
                continue  # named twice: counted once
            if not uris.is_utf8(info.uri):
                _fail(result, info.uri, f"{info.uri}: {NOT_UTF8}")
                continue
            seen.add(info.uri)
            result.order.append(info.uri)
            result.datasets.append(info)
    return result


NOT_UTF8 = (
    "the file name is not UTF-8, so the summary and records cannot name it (nor can Cloud "
    "Storage); rename it to count it in a batch (tunestats stats reads it as it is)"
)


def _fail(work: Work, key: str, error: str) -> None:
    """A failed row; keyed by the name as given, shown with any byte that is not UTF-8 escaped
    (so the row is valid text, and never mistaken for a file whose name is that text)."""
    work.order.append(key)
    work.failed[key] = Row(uri=uris.shown(key), status="failed", error=uris.shown(error))


Finished = Callable[[SourceInfo, Record], None]


# --- counting on the pool -------------------------------------------------------------------------


def _count_all(
    todo: list[SourceInfo], plan: Plan, jobs: int, progress: Progress | None, finished: Finished
) -> None:
    """Count all datasets in ``todo`` on ``jobs`` processes; hand each record to ``finished``
    (in this process) as soon as it is made."""
    if not todo:
        return
    if progress is not None:
        progress.begin(
            _label(0, len(todo)),
            None if any(i.compressed for i in todo) else sum(i.size or 0 for i in todo),
            items=len(todo),
        )
    if jobs == 1:
        report = None if progress is None else reporter(progress.counts, 0)
        for k, info in enumerate(todo):
            finished(info, count_whole(info, plan, report))
            if progress is not None:
                progress.advance(_label(k + 1, len(todo)), k + 1)
        return
    if sum(i.size or 0 for i in todo) >= 2 * plan.options.shard_bytes:
        warm_for_large_run(plan)
    _Scheduler(todo, plan, jobs, progress, finished).execute()


def _label(done: int, total: int) -> str:
    return f"batch {done}/{total} datasets"


class _Scheduler:
    """Keeps ``jobs`` processes busy: whole datasets, and the ranges of large ones.

    A large uncompressed dataset first has its format detected (one small read), then its
    ranges are counted like any other task; its record is made when the last range is in.
    Largest datasets go first, so the batch does not end waiting for one big file. When the
    batch is interrupted the workers are killed (they hold nothing that is not in a record);
    when this process dies they die too (:mod:`tunestats.run.pool`).
    """

    def __init__(
        self,
        todo: list[SourceInfo],
        plan: Plan,
        jobs: int,
        progress: Progress | None,
        finished: Finished,
    ) -> None:
        self.todo = sorted(todo, key=lambda i: -(i.size or 0))
        self.plan, self.jobs, self.progress, self.finished = plan, jobs, progress, finished
        self.done: set[str] = set()
        self.shards: dict[str, tuple[combine.Combined, int]] = {}
        self.formats: dict[str, str] = {}

    def execute(self) -> None:
        counts = None if self.progress is None else self.progress.counts
        with worker_pool(self.plan, self.jobs, counts) as pool:
            pending: dict[Future, tuple[str, SourceInfo, int]] = {}
            with signals_blocked():  # the workers fork now: none sees a signal before it is set
                for info in self.todo:
                    if len(self._split(info)) > 1:
                        pending[pool.submit(_detect_task, info)] = ("detect", info, 0)
                    else:
                        pending[pool.submit(_whole_task, info)] = ("whole", info, 0)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    kind, info, k = pending.pop(future)
                    self._collect(pool, pending, kind, info, k, future)

    def _split(self, info: SourceInfo) -> list[Range]:
        return split(info, self.plan.options.shard_bytes, self.jobs)

    def _collect(
        self,
        pool: ProcessPoolExecutor,
        pending: dict[Future, tuple[str, SourceInfo, int]],
        kind: str,
        info: SourceInfo,
        k: int,
        future: Future,
    ) -> None:
        try:
            outcome = future.result()
        except Exception as exc:  # a worker died, or a task failed outside its own guard
            outcome = Failure.of(info, exc)
        if isinstance(outcome, Failure):  # the first error settles the dataset
            if info.uri not in self.done:
                self._finish(info, Record.failed(outcome))
        elif kind == "whole":
            self._finish(info, outcome)
        elif kind == "detect":
            fmt, info = outcome
            ranges = self._split(info)
            self.formats[info.uri] = fmt
            self.shards[info.uri] = (combine.create(), len(ranges))
            for rng in ranges:
                pending[pool.submit(_range_task, rng, fmt)] = ("range", info, rng.index)
        elif info.uri not in self.done:  # a range
            combined, count = self.shards[info.uri]
            combine.add(combined, k, outcome)
            if sum(s.last - s.first + 1 for s in combined.segments) == count:
                acc = combine.extract(combined, count)
                fmt = self.formats[info.uri]
                self._finish(info, make_record(info, self.plan, fmt, acc))

    def _finish(self, info: SourceInfo, record: Record) -> None:
        self.done.add(info.uri)
        self.shards.pop(info.uri, None)
        self.finished(info, record)
        if self.progress is not None:
            self.progress.advance(_label(len(self.done), len(self.todo)), len(self.done))


def _whole_task(info: SourceInfo) -> Record:
    return count_whole(info, worker_plan(), worker_report())


def _detect_task(info: SourceInfo) -> tuple[str, SourceInfo] | Failure:
    try:
        info = stat_source(info.uri)  # as in count_whole: count the dataset as it is now
        return detect(info, worker_plan()), info
    except Exception as exc:
        return Failure.of(info, exc)


def _range_task(rng: Range, fmt: str) -> Accumulator | Failure:
    try:
        return range_task(rng, fmt, None)
    except Exception as exc:
        return Failure.of(rng.info, exc)
