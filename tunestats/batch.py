"""Batch: many datasets in one run (``tunestats batch SOURCE... --out DEST``).

:func:`expand` turns files, prefixes and globs (local or any fsspec URL, ``gs://`` included)
into datasets with their version (generation, or size and mtime). :func:`run_batch` skips the
datasets whose record under DEST is for the same version and options, counts the others on all
cores (a large uncompressed file in byte ranges, like ``stats --jobs``; everything else whole),
writes one record per dataset (the TuningDataStats document plus the tokenizer and the
version) and a summary with one row per dataset as JSONL and Parquet.

A dataset that fails becomes a row with its error; the batch goes on. The pieces that count
(:func:`count_whole`, :func:`detect`, :func:`count_range`, :func:`merge_shards`,
:func:`make_record`) are plain functions of picklable values, which ``tunestats.beam`` reuses.

Hands to the CLI: :class:`BatchResult` (rows in input order, plus where the summary went).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any

from .accumulate import Accumulator
from .pipeline import (
    Options,
    Plan,
    accumulate_blocks,
    finish_source,
    make_stats,
    merge_shards,
    peek_format,
    plan,
    shard_ranges,
    warm_before_fork,
)
from .progress import Progress, reporter
from .report import tuning_data_stats
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
# Options that change the statistics; a record made with other values is recomputed.
_STAT_OPTIONS = (
    "format",
    "task",
    "model",
    "tokenizer",
    "tokenizer_model",
    "epochs",
    "batch_size",
    "max_tokens_per_example",
)
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
    if "://" in source and not source.startswith("file://"):
        return source.split("://", 1)[0]
    return None


def _uri(protocol: str | None, name: str) -> str:
    return name if protocol is None else f"{protocol}://{name}"


def record_path(dest: str, uri: str) -> str:
    """Where a dataset's record goes: DEST/<scheme>/<path of the source>.stats.json.

    Local sources go under ``local/`` by their absolute path; ``gs://b/x.jsonl`` under
    ``gs/b/x.jsonl.stats.json``. Equal sources always map to equal names.
    """
    if "://" in uri and not uri.startswith("file://"):
        scheme, rest = uri.split("://", 1)
    else:
        scheme, rest = "local", os.path.abspath(uri.removeprefix("file://"))
    return join_path(dest, scheme, rest.lstrip("/") + RECORD_SUFFIX)


def join_path(dest: str, *parts: str) -> str:
    return "/".join([dest.rstrip("/"), *parts])


# --- counting, one dataset or one range at a time ------------------------------------------


def options_key(run: Plan) -> dict[str, Any]:
    """The options that decide the statistics, as stored in a record."""
    key = {name: getattr(run.options, name) for name in _STAT_OPTIONS}
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
    """Count the lines that begin in [start, end), numbered from 1."""
    blocks = read_blocks(info.uri, start=start, end=end, expect=info)
    return accumulate_blocks(blocks, fmt, run, report)


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
        "tuningDataStats": tuning_data_stats(stats, source),
    }


def error_record(info: SourceInfo, exc: BaseException) -> dict[str, Any]:
    """The record of a dataset that could not be counted (never written under DEST)."""
    message = str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
    return {**_version(info), "error": message}


def _version(info: SourceInfo) -> dict[str, Any]:
    return {"uri": info.uri, "generation": info.generation, "mtime": info.mtime, "size": info.size}


def row_of(record: dict[str, Any], status: str, path: str | None) -> Row:
    if "error" in record:
        return Row(
            uri=record["uri"],
            status="failed",
            generation=record.get("generation"),
            mtime=record.get("mtime"),
            size=record.get("size"),
            error=record["error"],
        )
    return Row(
        uri=record["uri"],
        status=status,
        generation=record.get("generation"),
        mtime=record.get("mtime"),
        size=record.get("size"),
        format=record["format"],
        tokenizer=record["tokenizer"],
        exact=record["exactTokenCounts"],
        record=path,
        **record["summary"],
    )


# --- the batch -------------------------------------------------------------------------------


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
    """
    run = plan(Options(**options))
    expansions = [s if isinstance(s, Expansion) else _expand_one(s) for s in sources]
    work = plan_batch(expansions)
    rows: dict[str, Row] = dict(work.failed)
    todo: list[SourceInfo] = []
    for info in work.datasets:
        kept = None if force else _reusable(dest, info, run)
        if kept is not None:
            rows[info.uri] = row_of(kept, "unchanged", record_path(dest, info.uri))
        else:
            todo.append(info)
    jobs = run.options.jobs or os.cpu_count() or 1
    records = _count_all(todo, run, jobs, progress)
    for info in todo:
        record = records[info.uri]
        path = None
        if "error" not in record:
            path = record_path(dest, info.uri)
            write_bytes(path, json.dumps(record, indent=2, ensure_ascii=False).encode())
        rows[info.uri] = row_of(record, "computed", path)
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
    """The record under DEST when it is for this version of the dataset and these options."""
    try:
        record = json.loads(read_bytes(record_path(dest, info.uri)))
        kept = SourceInfo(info.uri, record["size"], record["generation"], record["mtime"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not kept.same_version(info) or record.get("options") != options_key(run):
        return None
    return record


def _count_all(
    todo: list[SourceInfo], run: Plan, jobs: int, progress: Progress | None
) -> dict[str, dict[str, Any]]:
    """Records of all datasets in ``todo``, counted on ``jobs`` processes."""
    if not todo:
        return {}
    if progress is not None:
        progress.begin(
            _label(0, len(todo)),
            None if any(i.compressed for i in todo) else sum(i.size or 0 for i in todo),
        )
    if jobs == 1:
        report = None if progress is None else reporter(progress.counts, 0)
        records = {}
        for k, info in enumerate(todo):
            records[info.uri] = count_whole(info, run, report)
            if progress is not None:
                progress.label = _label(k + 1, len(todo))
        return records
    if sum(i.size or 0 for i in todo) >= 2 * run.options.shard_bytes:
        warm_before_fork(run)
    return _Scheduler(todo, run, jobs, progress).execute()


def _label(done: int, total: int) -> str:
    return f"batch {done}/{total} datasets"


class _Scheduler:
    """Keeps ``jobs`` processes busy: whole datasets, and the ranges of large ones.

    A large uncompressed dataset first has its format detected (one small read), then its
    ranges are counted like any other task; its record is made when the last range is in.
    Largest datasets go first, so the batch does not end waiting for one big file.
    """

    def __init__(
        self, todo: list[SourceInfo], run: Plan, jobs: int, progress: Progress | None
    ) -> None:
        self.todo = sorted(todo, key=lambda i: -(i.size or 0))
        self.run, self.jobs, self.progress = run, jobs, progress
        self.records: dict[str, dict[str, Any]] = {}
        self.shards: dict[str, list[Any]] = {}
        self.formats: dict[str, str] = {}

    def execute(self) -> dict[str, dict[str, Any]]:
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        counts = None if self.progress is None else self.progress.counts
        slots = context.Value("i", 0) if counts is not None else None
        with ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.run, counts, slots),
        ) as pool:
            pending: dict[Future, tuple[str, SourceInfo, int]] = {}
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
        return self.records

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
            self.shards[info.uri] = [None] * len(ranges)
            for r, (start, end) in enumerate(ranges):
                task = pool.submit(_range_task, info, fmt, start, end)
                pending[task] = ("range", info, r)
        elif info.uri not in self.records:  # a range; the first error settles the dataset
            if isinstance(outcome, dict):
                self._finish(info, outcome)
                return
            shards = self.shards[info.uri]
            shards[k] = outcome
            if all(s is not None for s in shards):
                acc, parsed = merge_shards(shards)
                fmt = self.formats[info.uri]
                self._finish(info, make_record(info, self.run, fmt, acc, parsed))

    def _finish(self, info: SourceInfo, record: dict[str, Any]) -> None:
        self.records[info.uri] = record
        self.shards.pop(info.uri, None)
        if self.progress is not None:
            self.progress.label = _label(len(self.records), len(self.todo))


# A pool worker's plan and progress slot, set once when the pool starts it.
_worker: dict[str, Any] = {}


def _init_worker(run: Plan, counts: Any, slots: Any) -> None:
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
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, local)
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
    "BatchPlan",
    "BatchResult",
    "Expansion",
    "Row",
    "count_range",
    "count_whole",
    "detect",
    "expand",
    "make_record",
    "plan_batch",
    "read_bytes",
    "record_path",
    "run_batch",
    "split_ranges",
    "write_bytes",
]
