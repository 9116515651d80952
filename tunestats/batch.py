"""Batch: many datasets in one run (``tunestats batch SOURCE... --out DEST``).

:func:`expand` turns files, prefixes and globs (local or any fsspec URL, ``gs://`` included)
into datasets with their version (generation, or size and mtime). :func:`run_batch` skips the
datasets whose record under DEST is for the same version and options, counts the others on all
cores (a large uncompressed file in byte ranges, like ``stats --jobs``; everything else whole),
writes one record per dataset (the TuningDataStats document plus the tokenizer and the
version) and a summary with one row per dataset as JSONL and Parquet.

Each record is written as soon as its dataset is counted, so a batch that is stopped (SIGINT,
SIGTERM, even SIGKILL) keeps every finished one and a rerun reuses them. A dataset that fails
becomes a row with its error, and so does one whose record cannot be written or that has no
valid example (its record is written all the same); the batch goes on. The pieces that count
(:func:`count_whole`, :func:`detect`, :func:`count_range`, :func:`merge_shards`,
:func:`make_record`) are plain functions of picklable values, which ``tunestats.beam`` reuses.

Hands to the CLI: :class:`BatchResult` (rows in input order, plus where the summary went), or
:class:`BatchInterrupted` when SIGINT or SIGTERM stopped the batch (no summary is written then).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from . import combine
from .accumulate import Accumulator
from .counting import accumulate_blocks
from .options import Options, Plan, numbers_options, plan
from .parallel import die_with_parent, run_range, shard_ranges, warm_before_fork
from .pipeline import finish_source, peek_format
from .progress import Progress, reporter
from .results import make_stats
from .source import (
    SourceError,
    SourceInfo,
    info_of,
    read_blocks,
    splittable_size,
    stat_source,
)

# What a prefix (a directory, or gs://bucket/path/) expands to: the dataset files under it.
DATASET_SUFFIXES = (".jsonl", ".ndjson")
COMPRESSED_SUFFIXES = ("", ".gz", ".bz2", ".xz", ".zst")
# The smallest byte range of a split dataset in tunestats.beam, where workers are machines and
# each range costs a task. (The local batch splits like ``stats --jobs``: Options.shard_bytes.)
BATCH_SHARD_BYTES = 64 << 20
RECORD_SUFFIX = ".stats.json"
SUMMARY_NAME = "summary"
_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Row:
    """One line of the summary: a dataset, what was found, or why it failed."""

    uri: str
    status: str  # "computed", "unchanged" (record reused) or "failed"
    generation: str | None = None
    mtime: float | None = None
    size: int | None = None
    format: str | None = None
    tokenizer: str | None = None
    exact: bool | None = None  # the token counts are exact for the model (else estimates)
    examples: int | None = None
    dropped: int | None = None
    billable_tokens: int | None = None
    input_p95: int | None = None
    input_max: int | None = None
    output_p95: int | None = None
    output_max: int | None = None
    record: str | None = None  # where the dataset's record is
    error: str | None = None


@dataclass
class BatchResult:
    rows: list[Row]
    summary_jsonl: str
    summary_parquet: str

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.status == "failed"]


# --- finding datasets ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expansion:
    """The datasets one SOURCE argument names, or why it names none."""

    source: str
    datasets: list[SourceInfo] = field(default_factory=list)
    error: str | None = None


def is_dataset_name(name: str) -> bool:
    lower = name.lower()
    return any(lower.endswith(s + c) for s in DATASET_SUFFIXES for c in COMPRESSED_SUFFIXES)


def expand(sources: Sequence[str]) -> list[Expansion]:
    """Each SOURCE as datasets: a file is itself, a prefix the dataset files under it (by
    name: .jsonl or .ndjson, maybe compressed), a glob every file it matches."""
    return [_expand_one(source) for source in sources]


def _expand_one(source: str) -> Expansion:
    from .source import filesystem  # fsspec only once a batch runs

    try:
        fs = filesystem(source)
        path = fs._strip_protocol(source)
        if any(c in path for c in _GLOB_CHARS):
            found = fs.glob(path, detail=True)
            entries = {name: info for name, info in found.items() if info.get("type") == "file"}
        elif fs.isdir(path):
            found = fs.find(path, detail=True)
            entries = {name: info for name, info in found.items() if is_dataset_name(name)}
        else:
            entries = {path: fs.info(path)}
    except Exception as exc:
        from .source import open_error

        return Expansion(source, error=str(open_error(source, exc)))
    if not entries:
        return Expansion(source, error=f"{source}: matches no dataset")
    protocol = _protocol(source)
    datasets = [info_of(_uri(protocol, name), entries[name]) for name in sorted(entries)]
    return Expansion(source, datasets)


def _protocol(source: str) -> str | None:
    if "://" in source and not source.startswith(_LOCAL_SCHEMES):
        return source.split("://", 1)[0]
    return None


def _uri(protocol: str | None, name: str) -> str:
    return name if protocol is None else f"{protocol}://{name}"


# Record names: characters kept as they are (ASCII), the mark before a name's hash, and limits
# (a file name is at most 255 bytes on common file systems; a GCS object name 1,024 bytes, DEST's
# prefix included).
_LOCAL_SCHEMES = ("file://", "local://")
_SAFE_ASCII = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+=,@ ")
_HASH_MARK = "~"
_HASH_CHARS = 16
MAX_NAME_BYTES = 160  # one directory or file name of a record, before "~hash" and the suffix
MAX_RECORD_BYTES = 512  # a record's whole path under DEST


def record_path(dest: str, uri: str) -> str:
    """Where a dataset's record goes: DEST/<scheme>/<path of the source>.stats.json, always
    inside DEST, one record per URI.

    Local sources go under ``local/`` by their absolute path; ``gs://b/x.jsonl`` under
    ``gs/b/x.jsonl.stats.json``. The path is cut at ``/``; each part keeps letters, digits,
    non-ASCII printable characters and ``-_.+=,@`` and space, everything else is written ``%XX``
    (its UTF-8 bytes). Empty, ``.`` and ``..`` parts are left out, a part longer than
    :data:`MAX_NAME_BYTES` is cut, and a path longer than :data:`MAX_RECORD_BYTES` loses
    directories; whenever one of these changes the name, ``~`` and 16 hex digits of the SHA-256
    of the URI are added to it, so distinct URIs never share a record. Equal sources always map
    to equal names.
    """
    if "://" in uri and not uri.startswith(_LOCAL_SCHEMES):
        scheme, rest = uri.split("://", 1)
    else:
        scheme = "local"
        rest = os.path.abspath(uri.split("://", 1)[1] if "://" in uri else uri)
    scheme_name, exact = _record_name(scheme)
    raw = rest.lstrip("/").split("/")  # fsspec ignores the slashes after "://"; so do records
    parts = [part for part in raw if part not in ("", ".", "..")]
    exact = exact and len(parts) == len(raw) and bool(parts)
    names = []
    for part in parts:
        name, whole = _record_name(part)
        names.append(name)
        exact = exact and whole
    last = names.pop() if names else ""
    for whole in (True, False) if exact else (False,):
        tail = RECORD_SUFFIX if whole else f"{_HASH_MARK}{_uri_hash(uri)}{RECORD_SUFFIX}"
        budget = MAX_RECORD_BYTES - _size(scheme_name) - _size(last + tail) - 2
        kept = []
        for name in names:  # leading directories while they fit
            budget -= _size(name) + 1
            if budget < 0:
                break
            kept.append(name)
        if not whole or len(kept) == len(names):
            break
    return join_path(dest, scheme_name, *kept, last + tail)


def _record_name(part: str) -> tuple[str, bool]:
    """One part of a record path, safe in any file system or bucket, and whether it is whole
    (not cut to :data:`MAX_NAME_BYTES`)."""
    pieces, size = [], 0
    for char in part:
        if char in _SAFE_ASCII or (not char.isascii() and char.isprintable()):
            piece = char
        else:  # surrogatepass: lone surrogates too, as bytes no real character has
            piece = "".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))
        size += _size(piece)
        if size > MAX_NAME_BYTES:
            return "".join(pieces), False
        pieces.append(piece)
    return "".join(pieces), True


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _uri_hash(uri: str) -> str:
    return hashlib.sha256(uri.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]


def join_path(dest: str, *parts: str) -> str:
    base = dest.rstrip("/")
    if not base and not dest:
        base = "."  # an empty DEST is the working directory, never the root
    return "/".join([base, *parts])


# --- counting, one dataset or one range at a time ------------------------------------------


def options_key(run: Plan) -> dict[str, Any]:
    """The options that decide the statistics, as stored in a record."""
    key = numbers_options(run.options)
    key["model"] = run.profile.name
    key["tokenizer"] = run.choice.tokenizer.name
    return key


def count_whole(info: SourceInfo, run: Plan, report: Any = None) -> dict[str, Any]:
    """Detect, read and count one dataset in this process; return its record.

    The dataset is stat'ed again first: one rewritten since it was listed is counted as it is
    now, and its record names the version that was read.
    """
    try:
        info = stat_source(info.uri)
        reader = read_blocks(info.uri, expect=info)
        fmt, blocks = (
            (run.options.format, reader)
            if run.options.format
            else peek_format(reader, run.profile.format)
        )
        acc, parsed = accumulate_blocks(blocks, fmt, run, report)
        return make_record(info, run, fmt, acc, parsed)
    except Exception as exc:
        return error_record(info, exc)


def detect(info: SourceInfo, run: Plan) -> str:
    """The format of a dataset (from its first records) unless the options fix it."""
    if run.options.format:
        return run.options.format
    reader = read_blocks(info.uri, expect=info)
    try:
        fmt, _ = peek_format(reader, run.profile.format)
    finally:
        reader.close()
    return fmt


def split_ranges(info: SourceInfo, jobs: int, min_bytes: int) -> list[tuple[int, int | None]]:
    """Byte ranges for one dataset: one when it is small or compressed."""
    return shard_ranges(splittable_size(info), jobs, min_bytes)


def count_range(
    info: SourceInfo, fmt: str, run: Plan, start: int, end: int | None, report: Any = None
) -> tuple[Accumulator, int]:
    """Count the lines that begin in [start, end), numbered from 1 (the range task of the
    local batch and of Beam's workers: :func:`tunestats.parallel.run_range`)."""
    return run_range(info, fmt, run, start, end, report)


def make_record(
    info: SourceInfo, run: Plan, fmt: str, acc: Accumulator, parsed: int
) -> dict[str, Any]:
    """A dataset's record: what it is, how it was counted, and its TuningDataStats."""
    try:
        source = finish_source(info.uri, fmt, acc, parsed)
    except SourceError as exc:
        return error_record(info, exc)
    stats = make_stats(run, source)
    r = source.result
    outputs = r.output_tokens if stats.task == "supervised" else None  # SPEC §6: none reported
    return {
        **_version(info),
        "format": fmt,
        "task": stats.task,
        "model": stats.model,
        "tokenizer": stats.tokenizer,
        "exactTokenCounts": stats.exact,
        "options": options_key(run),
        "lines": r.lines,
        "blankLines": r.blank,
        "summary": {
            "examples": r.examples,
            "dropped": r.dropped,
            "billable_tokens": r.billable_tokens,
            "input_p95": r.input_tokens.p95 if r.input_tokens else None,
            "input_max": r.input_tokens.max if r.input_tokens else None,
            "output_p95": outputs.p95 if outputs else None,
            "output_max": outputs.max if outputs else None,
        },
        "tuningDataStats": stats.to_dict(),
    }


def error_record(info: SourceInfo, exc: BaseException) -> dict[str, Any]:
    """The record of a dataset that could not be counted (never written under DEST)."""
    message = str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
    return {**_version(info), "error": message}


def _version(info: SourceInfo) -> dict[str, Any]:
    return {"uri": info.uri, "generation": info.generation, "mtime": info.mtime, "size": info.size}


def row_of(record: dict[str, Any], status: str, path: str | None) -> Row:
    """A record's summary row. One with no valid example is a failed row (as ``tunestats
    stats`` exits 1 for it) that still links to its record: the dropped reasons are there."""
    if "error" in record:
        return Row(
            uri=record["uri"],
            status="failed",
            generation=record.get("generation"),
            mtime=record.get("mtime"),
            size=record.get("size"),
            error=record["error"],
        )
    error = no_valid_example(record)
    return Row(
        uri=record["uri"],
        status=status if error is None else "failed",
        generation=record.get("generation"),
        mtime=record.get("mtime"),
        size=record.get("size"),
        format=record["format"],
        tokenizer=record["tokenizer"],
        exact=record["exactTokenCounts"],
        record=path,
        error=error,
        **record["summary"],
    )


def no_valid_example(record: dict[str, Any]) -> str | None:
    """Why a counted dataset is unusable: it has no valid example (None when it has one)."""
    summary = record["summary"]
    if summary["examples"]:
        return None
    doc = record.get("tuningDataStats") or {}
    stats = doc.get("supervisedTuningDataStats") or doc.get("distillationDataStats", {}).get(
        "trainingDatasetStats", {}
    )
    reasons = stats.get("droppedExampleReasons") or ["?"]
    return f"{record['uri']}: no valid example ({summary['dropped']} dropped; first: {reasons[0]})"


def record_bytes(record: dict[str, Any]) -> bytes:
    return json.dumps(record, indent=2, ensure_ascii=False).encode()


def save_record(dest: str, record: dict[str, Any]) -> Row:
    """Write a counted dataset's record under DEST and return its row (an error record is not
    written). A record that cannot be written makes a failed row that says why."""
    if "error" in record:
        return row_of(record, "computed", None)
    path = record_path(dest, record["uri"])
    try:
        write_bytes(path, record_bytes(record))
    except Exception as exc:  # OSError locally; gcsfs raises its own types too
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if not isinstance(exc, OSError):
            reason = f"{type(exc).__name__}: {reason}"
        row = row_of(record, "computed", None)
        return replace(row, status="failed", error=f"{path}: cannot write the record: {reason}")
    return row_of(record, "computed", path)


# --- the batch -------------------------------------------------------------------------------


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


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
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
def _signals_held() -> Iterator[None]:
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


def run_batch(
    sources: Sequence[str] | Sequence[Expansion],
    dest: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
    **options: Any,
) -> BatchResult:
    """Count every dataset that ``sources`` name and write records and summary under ``dest``.

    ``sources`` are SOURCE arguments, or their :func:`expand` (to fix the listing first).
    ``options`` are those of :class:`~tunestats.Options`; ``jobs`` is the number of processes.
    Each record is written as soon as its dataset is counted. SIGINT (KeyboardInterrupt) or
    SIGTERM stops the workers and raises :class:`BatchInterrupted`; no summary is written then.
    """
    rows: dict[str, Row] = {}
    order: list[str] = []
    try:
        with _sigterm_interrupts():
            run = plan(Options(**options))
            expansions = [s if isinstance(s, Expansion) else _expand_one(s) for s in sources]
            work = plan_batch(expansions)
            order = work.order
            rows.update(work.failed)
            todo: list[SourceInfo] = []
            for info in work.datasets:
                kept = None if force else _reusable(dest, info, run)
                if kept is not None:
                    rows[info.uri] = row_of(kept, "unchanged", record_path(dest, info.uri))
                else:
                    todo.append(info)

            def finished(info: SourceInfo, record: dict[str, Any]) -> None:
                rows[info.uri] = save_record(dest, record)

            jobs = run.options.jobs or os.cpu_count() or 1
            _count_all(todo, run, jobs, progress, finished)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        done = [rows[uri] for uri in order if uri in rows]
        raise BatchInterrupted(signum, done, len(order), dest) from None
    ordered = [rows[uri] for uri in work.order]
    jsonl, parquet = write_summary(dest, ordered)
    return BatchResult(ordered, jsonl, parquet)


@dataclass
class BatchPlan:
    """The expanded SOURCE arguments: datasets to count, in order, and the sources that failed."""

    order: list[str]  # summary order: every dataset once, and each failed source
    failed: dict[str, Row]  # rows of sources that name no dataset, by source
    datasets: list[SourceInfo]  # to count, each once


def plan_batch(expansions: Sequence[Expansion]) -> BatchPlan:
    """Datasets in the order of their SOURCE arguments, each once (where first named)."""
    result = BatchPlan([], {}, [])
    seen: set[str] = set()
    for expansion in expansions:
        if expansion.error is not None:
            result.order.append(expansion.source)
            result.failed[expansion.source] = Row(
                uri=expansion.source, status="failed", error=expansion.error
            )
        for info in expansion.datasets:
            if info.uri in seen or info.uri in result.failed:
                continue  # named twice: counted once
            seen.add(info.uri)
            result.order.append(info.uri)
            result.datasets.append(info)
    return result


def _reusable(dest: str, info: SourceInfo, run: Plan) -> dict[str, Any] | None:
    """The record under DEST when it is for this dataset, this version and these options."""
    try:
        record = json.loads(read_bytes(record_path(dest, info.uri)))
        kept = SourceInfo(info.uri, record["size"], record["generation"], record["mtime"])
        same = record["uri"] == info.uri and kept.same_version(info)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not same or record.get("options") != options_key(run):
        return None
    return record


Finished = Callable[[SourceInfo, dict[str, Any]], None]


def _count_all(
    todo: list[SourceInfo], run: Plan, jobs: int, progress: Progress | None, finished: Finished
) -> None:
    """Count all datasets in ``todo`` on ``jobs`` processes; hand each record to ``finished``
    (in this process) as soon as it is made."""
    if not todo:
        return
    if progress is not None:
        progress.begin(
            _label(0, len(todo)),
            None if any(i.compressed for i in todo) else sum(i.size or 0 for i in todo),
        )
    if jobs == 1:
        report = None if progress is None else reporter(progress.counts, 0)
        for k, info in enumerate(todo):
            finished(info, count_whole(info, run, report))
            if progress is not None:
                progress.label = _label(k + 1, len(todo))
        return
    if sum(i.size or 0 for i in todo) >= 2 * run.options.shard_bytes:
        warm_before_fork(run)
    _Scheduler(todo, run, jobs, progress, finished).execute()


def _label(done: int, total: int) -> str:
    return f"batch {done}/{total} datasets"


class _Scheduler:
    """Keeps ``jobs`` processes busy: whole datasets, and the ranges of large ones.

    A large uncompressed dataset first has its format detected (one small read), then its
    ranges are counted like any other task; its record is made when the last range is in.
    Largest datasets go first, so the batch does not end waiting for one big file. When the
    batch is interrupted the workers are killed (they hold nothing that is not in a record);
    when this process dies they die too (:func:`_init_worker`).
    """

    def __init__(
        self,
        todo: list[SourceInfo],
        run: Plan,
        jobs: int,
        progress: Progress | None,
        finished: Finished,
    ) -> None:
        self.todo = sorted(todo, key=lambda i: -(i.size or 0))
        self.run, self.jobs, self.progress, self.finished = run, jobs, progress, finished
        self.done: set[str] = set()
        self.shards: dict[str, tuple[combine.Combined, int]] = {}
        self.formats: dict[str, str] = {}

    def execute(self) -> None:
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        counts = None if self.progress is None else self.progress.counts
        slots = context.Value("i", 0) if counts is not None else None
        pool = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.run, counts, slots, os.getpid()),
        )
        try:
            pending: dict[Future, tuple[str, SourceInfo, int]] = {}
            with _signals_blocked():  # the workers fork now: none sees a signal before it is set
                for info in self.todo:
                    if len(split_ranges(info, self.jobs, self.run.options.shard_bytes)) > 1:
                        pending[pool.submit(_detect_task, info)] = ("detect", info, 0)
                    else:
                        pending[pool.submit(_whole_task, info)] = ("whole", info, 0)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    kind, info, k = pending.pop(future)
                    self._collect(pool, pending, kind, info, k, future)
        except BaseException:
            with _signals_held():
                _stop_workers(pool)
            raise
        pool.shutdown()

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
            outcome = error_record(info, exc)
        if kind == "whole":
            self._finish(info, outcome)
        elif kind == "detect":
            if isinstance(outcome, dict):  # an error record
                self._finish(info, outcome)
                return
            fmt, info = outcome
            ranges = split_ranges(info, self.jobs, self.run.options.shard_bytes)
            self.formats[info.uri] = fmt
            self.shards[info.uri] = (combine.create(), len(ranges))
            for r, (start, end) in enumerate(ranges):
                task = pool.submit(_range_task, info, fmt, start, end)
                pending[task] = ("range", info, r)
        elif info.uri not in self.done:  # a range; the first error settles the dataset
            if isinstance(outcome, dict):
                self._finish(info, outcome)
                return
            combined, count = self.shards[info.uri]
            combine.add(combined, k, *outcome)
            if sum(s.last - s.first + 1 for s in combined.segments) == count:
                acc, parsed = combine.extract(combined, count)
                fmt = self.formats[info.uri]
                self._finish(info, make_record(info, self.run, fmt, acc, parsed))

    def _finish(self, info: SourceInfo, record: dict[str, Any]) -> None:
        self.done.add(info.uri)
        self.shards.pop(info.uri, None)
        self.finished(info, record)
        if self.progress is not None:
            self.progress.label = _label(len(self.done), len(self.todo))


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers and shut it down without waiting for their tasks."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(5)


# A pool worker's plan and progress slot, set once when the pool starts it.
_worker: dict[str, Any] = {}


def _init_worker(run: Plan, counts: Any, slots: Any, parent: int) -> None:
    die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the main process stops the batch, workers
    # ignore it. SIGTERM ends a worker (the main process turns it into an interruption).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # blocked while the pool forked (_signals_blocked)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    _worker["run"] = run
    _worker["report"] = None
    if counts is not None:
        with slots.get_lock():
            slot = slots.value
            slots.value += 1
        _worker["report"] = reporter(counts, slot % (len(counts) // 2))


def _whole_task(info: SourceInfo) -> dict[str, Any]:
    return count_whole(info, _worker["run"], _worker["report"])


def _detect_task(info: SourceInfo) -> tuple[str, SourceInfo] | dict[str, Any]:
    try:
        info = stat_source(info.uri)  # as in count_whole: count the dataset as it is now
        return detect(info, _worker["run"]), info
    except Exception as exc:
        return error_record(info, exc)


def _range_task(
    info: SourceInfo, fmt: str, start: int, end: int | None
) -> tuple[Accumulator, int] | dict[str, Any]:
    try:
        return count_range(info, fmt, _worker["run"], start, end, _worker["report"])
    except Exception as exc:
        return error_record(info, exc)


# --- output ----------------------------------------------------------------------------------


def write_summary(dest: str, rows: list[Row]) -> tuple[str, str]:
    """DEST/summary.jsonl and DEST/summary.parquet, one row per dataset, in input order."""
    jsonl = join_path(dest, SUMMARY_NAME + ".jsonl")
    parquet = join_path(dest, SUMMARY_NAME + ".parquet")
    lines = [json.dumps(asdict(row), ensure_ascii=False) for row in rows]
    write_bytes(jsonl, ("\n".join(lines) + "\n").encode() if lines else b"")
    write_bytes(parquet, _parquet_bytes(rows))
    return jsonl, parquet


def _parquet_bytes(rows: list[Row]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"mtime": pa.float64(), "size": pa.int64(), "exact": pa.bool_()}
    for name in Row.__dataclass_fields__:
        kind = Row.__dataclass_fields__[name].type
        if name not in types:
            types[name] = pa.int64() if "int" in str(kind) else pa.string()
    columns = {
        name: pa.array([getattr(r, name) for r in rows], type=t) for name, t in types.items()
    }
    table = pa.table({name: columns[name] for name in Row.__dataclass_fields__})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def write_bytes(path: str, data: bytes) -> None:
    """Write a whole file, local (atomically: never a half record) or through fsspec."""
    if "://" not in path or path.startswith("file://"):
        local = path.removeprefix("file://")
        os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
        tmp = f"{local}.tmp{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, local)
        except BaseException:  # a full disk, or an interrupt: leave no partial file behind
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        return
    from .source import filesystem

    fs = filesystem(path)
    fs.pipe_file(fs._strip_protocol(path), data)


def read_bytes(path: str) -> bytes:
    if "://" not in path or path.startswith("file://"):
        with open(path.removeprefix("file://"), "rb") as f:
            return f.read()
    from .source import filesystem

    fs = filesystem(path)
    return fs.cat_file(fs._strip_protocol(path))


def _tokenizer_cell(row: Row) -> str:
    """The tokenizer's short name, and whether its counts are exact for the model."""
    name = row.tokenizer or ""
    if name.startswith("gemini:"):  # the file name without .spiece.model / .model
        name = name.removeprefix("gemini:").split(".", 1)[0]
    return f"{name} ({'exact' if row.exact else 'ESTIMATE'})"


def table(rows: list[Row]) -> str:
    """The summary as a text table for the terminal."""
    head = (
        "dataset",
        "format",
        "tokenizer",
        "examples",
        "dropped",
        "billable",
        "in p95",
        "in max",
        "out p95",
        "out max",
        "status",
    )
    body = []
    for r in rows:
        if r.status == "failed":
            body.append((r.uri, "", "", "", "", "", "", "", "", "", f"FAILED: {r.error}"))
            continue
        cells = (
            r.examples,
            r.dropped,
            r.billable_tokens,
            r.input_p95,
            r.input_max,
            r.output_p95,
            r.output_max,
        )
        numbers = ("-" if c is None else f"{c:,}" for c in cells)
        body.append((r.uri, r.format or "", _tokenizer_cell(r), *numbers, r.status))
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head) - 1)]
    out = []
    for cells in [head, *body]:
        left = [str(c).ljust(w) for c, w in zip(cells[:3], widths)]
        nums = [str(c).rjust(w) for c, w in zip(cells[3:-1], widths[3:])]
        out.append("  ".join([*left, *nums, str(cells[-1])]))
    return "\n".join(out)


__all__ = [
    "BatchInterrupted",
    "BatchPlan",
    "BatchResult",
    "Expansion",
    "Row",
    "count_range",
    "count_whole",
    "detect",
    "expand",
    "make_record",
    "no_valid_example",
    "plan_batch",
    "read_bytes",
    "record_path",
    "run_batch",
    "save_record",
    "split_ranges",
    "write_bytes",
]
