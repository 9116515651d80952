"""Pipeline: runs one source through the stages and returns its statistics.

source (blocks of lines) -> arrow_blocks, or formats line by line (an ExampleBatch, and drops)
-> counting (memo, tokenizer, too-long rule) -> accumulate. A large source is split into byte
ranges counted by worker processes, whose accumulators merge exactly. :func:`compute` is the
Python API; the CLI is a thin layer over it.

Hands to the caller: :class:`Stats`, whose ``to_dict()`` is the TuningDataStats document.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import report
from .accumulate import Accumulator, DatasetResult, reason
from .arrow_blocks import arrow_batch
from .examples import ExampleBatch, concat, from_examples
from .formats import FORMATS, TASKS, Drop, Example, detect_format, is_blank, parse_example
from .formats import sample_contents as _sample_contents
from .profiles import ModelProfile, get_profile
from .progress import Progress, reporter
from .source import LineBlock, SourceError, SourceInfo, read_blocks, splittable_size, stat_source
from .tokenizers import MemoCounter, Tokenizer, TokenizerChoice, choose_tokenizer

IMAGE_TOKENS = 258  # SPEC §2 [D]
DETECT_LINES = 1000  # CHOICES.md: format detection looks at most this far
# A file is split across processes only in shards of at least this size: below it, starting
# the workers costs more than they save.
MIN_SHARD_BYTES = 8 << 20
# Blocks with fewer non-blank lines go through the per-line path: Arrow's set-up costs more.
ARROW_MIN_LINES = 64


@dataclass(frozen=True)
class Options:
    """Everything a run is told; travels as one value through the layers."""

    format: str | None = None
    task: str = "supervised"
    model: str | None = None
    tokenizer: str | None = None
    tokenizer_model: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    max_tokens_per_example: int | None = None
    jobs: int | None = None  # processes for one source; None: Plan.processes decides
    shard_bytes: int = MIN_SHARD_BYTES  # the smallest byte range given to one worker
    arrow: bool = True  # parse large blocks with pyarrow.json (identical results, faster)
    memo: bool = True  # count each distinct long text once (identical results, faster)

    def check(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        for name in ("epochs", "batch_size", "max_tokens_per_example", "jobs", "shard_bytes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, not {value!r}")


@dataclass(frozen=True)
class Plan:
    """Options resolved against the model table and the installed tokenizers."""

    options: Options
    profile: ModelProfile
    choice: TokenizerChoice
    counter: Tokenizer  # the chosen tokenizer, behind a memo unless options.memo is off

    @property
    def distill(self) -> bool:
        return self.options.task == "distillation"

    @property
    def limit(self) -> int:
        return self.profile.max_tokens_per_example

    @property
    def processes(self) -> int:
        """Processes for one source: ``--jobs``, else one when the tokenizer counts on
        threads of its own (measured as fast on 2 cores, with one copy of the model; README,
        "Performance"), else one per core."""
        if self.options.jobs:
            return self.options.jobs
        return 1 if getattr(self.choice.tokenizer, "threaded", False) else os.cpu_count() or 1


def plan(options: Options) -> Plan:
    options.check()
    profile = get_profile(options.model, options.max_tokens_per_example)
    choice = choose_tokenizer(
        options.tokenizer, options.tokenizer_model, profile.gemini_tokenizer, profile.name
    )
    counter = MemoCounter(choice.tokenizer) if options.memo else choice.tokenizer
    return Plan(options, profile, choice, counter)


@dataclass
class SourceStats:
    """The statistics of one source (training or validation)."""

    uri: str
    format: str
    accumulator: Accumulator
    result: DatasetResult = field(init=False)

    def __post_init__(self) -> None:
        self.result = self.accumulator.result()

    # Line accounting: every line is kept, dropped or blank.
    @property
    def lines(self) -> int:
        return self.result.lines

    @property
    def kept(self) -> int:
        return self.result.examples

    @property
    def dropped(self) -> int:
        return self.result.dropped

    @property
    def blank(self) -> int:
        return self.result.blank


@dataclass
class Stats:
    """What :func:`compute` returns: training (and validation) statistics and how they were made."""

    training: SourceStats
    validation: SourceStats | None
    task: str
    model: str
    tokenizer: str
    exact: bool
    notes: list[str]
    epochs: int | None = None
    batch_size: int | None = None

    def to_dict(self, validation: bool = False) -> dict[str, Any]:
        """The TuningDataStats document (SPEC §6) of the training (or validation) source."""
        source = self.validation if validation else self.training
        if source is None:
            raise ValueError("no validation source was given")
        return report.tuning_data_stats(self, source)

    def to_json(self, indent: int | None = 2, validation: bool = False) -> str:
        return report.dumps(self.to_dict(validation), indent)


def compute(
    source: str,
    *,
    validation: str | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> Stats:
    """Compute the TuningDataStats of ``source`` (a path, ``-`` or any fsspec URL).

    ``options`` are the fields of :class:`Options` (``format``, ``task``, ``model``,
    ``tokenizer``, ``tokenizer_model``, ``epochs``, ``batch_size``,
    ``max_tokens_per_example``, ``jobs``...). ``progress`` draws a progress bar (the CLI gives
    one when stderr is a terminal). Raises :class:`SourceError` when a source cannot be used
    at all, ``ValueError`` for bad options.
    """
    run = plan(Options(**options))
    training = run_source(source, run, progress)
    checked = run_source(validation, run, progress) if validation is not None else None
    return make_stats(run, training, checked)


def make_stats(run: Plan, training: SourceStats, validation: SourceStats | None = None) -> Stats:
    """Wrap the statistics of the sources with what the run was told and found."""
    return Stats(
        training=training,
        validation=validation,
        task=run.options.task,
        model=run.profile.name,
        tokenizer=run.choice.tokenizer.name,
        exact=run.choice.exact,
        notes=[run.choice.note] if run.choice.note else [],
        epochs=run.options.epochs,
        batch_size=run.options.batch_size,
    )


def run_source(uri: str, run: Plan, progress: Progress | None = None) -> SourceStats:
    """Read one whole source into an Accumulator, split across processes when it is large."""
    info = stat_source(uri)
    expect = None if uri == "-" else info
    size = splittable_size(info)
    if progress is not None:
        progress.begin(uri, size)
    reader = read_blocks(uri, expect=expect)
    blocks: Iterator[LineBlock] = reader
    fmt = run.options.format
    if fmt is None:
        fmt, blocks = peek_format(reader, run.profile.format)
    ranges = shard_ranges(size, run.processes, run.options.shard_bytes)
    if size is not None and size >= run.options.shard_bytes:
        warm_before_fork(run)
    if len(ranges) == 1:
        report = None if progress is None else reporter(progress.counts, 0)
        acc, parsed = accumulate_blocks(blocks, fmt, run, report)
    else:
        reader.close()
        acc, parsed = _run_shards(info, fmt, run, ranges, progress)
    return finish_source(uri, fmt, acc, parsed)


def finish_source(uri: str, fmt: str, acc: Accumulator, parsed: int) -> SourceStats:
    """The statistics of a whole source, or SourceError when it holds no record at all."""
    if acc.blank == acc.last_line:
        raise SourceError(f"{uri}: empty: no records")
    if parsed == 0:
        raise SourceError(
            f"{uri}: not JSONL: no line is a JSON value (first: {_first_reason(acc)})"
        )
    return SourceStats(uri, fmt, acc)


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
    run: Plan,
    start: int,
    end: int | None,
    slot: int = 0,
    counts: Any = None,
) -> tuple[Accumulator, int]:
    """One shard: the lines that begin in [start, end), numbered from 1 (see Accumulator.shift).

    The source is read at the version ``info`` describes. Progress goes to ``counts`` (or, in
    a pool worker, to the counters it inherited).
    """
    counts = _worker_progress if counts is None else counts
    report = None if counts is None else reporter(counts, slot)
    blocks = read_blocks(info.uri, start=start, end=end, expect=info)
    return accumulate_blocks(blocks, fmt, run, report)


def accumulate_blocks(
    blocks: Iterable[LineBlock],
    fmt: str,
    run: Plan,
    report: Callable[[int, int], None] | None = None,
) -> tuple[Accumulator, int]:
    """Feed blocks into a new Accumulator; also return how many lines were JSON.

    A block is counted on a thread of its own while the next one is parsed: the tokenizers
    release the GIL while they count, so parsing (Python) and counting overlap on two cores.
    One block is in flight at a time; the accumulator does not depend on the order in which
    lines reach it (drops and samples are kept sorted).
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    acc = Accumulator()
    parsed = 0
    pending: tuple[ParsedBlock, Future, int] | None = None

    def finish(block: ParsedBlock, counted: Future, nbytes: int) -> None:
        seen = acc.examples + acc.dropped
        finish_block(block, counted.result(), fmt, run, acc)
        if report is not None:
            report(nbytes, acc.examples + acc.dropped - seen + block.dropped)

    with ThreadPoolExecutor(1, thread_name_prefix="tunestats-count") as counting:
        for block in blocks:
            prepared = parse_block(block, fmt, run, acc)
            parsed += prepared.parsed
            counted = counting.submit(count_block, prepared, run)
            if pending is not None:
                finish(*pending)
            pending = (prepared, counted, sum(map(len, block.lines)) + len(block.lines))
        if pending is not None:
            finish(*pending)
    return acc, parsed


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


def warm_before_fork(run: Plan) -> None:
    """Load the tokenizer's engine for large runs now: before a pool forks, so that the
    workers share it instead of each loading it (kitoken takes 0.6 s); or before a large
    source, which would switch to it anyway."""
    warm = getattr(run.choice.tokenizer, "warm", None)
    if warm is not None:
        warm()


def _run_shards(
    info: SourceInfo,
    fmt: str,
    run: Plan,
    ranges: list[tuple[int, int | None]],
    progress: Progress | None,
) -> tuple[Accumulator, int]:
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    counts = None if progress is None or len(progress.counts) < 2 * len(ranges) else progress.counts
    # The main process reads the first range itself: one process fewer to start and to hold
    # in memory, and it would only wait otherwise. A multiprocessing Pool, because leaving
    # its block terminates the workers: after Ctrl-C or an error, nothing goes on counting.
    parent = os.getpid()
    with context.Pool(len(ranges) - 1, initializer=_init_worker, initargs=(counts, parent)) as pool:
        pending = [
            pool.apply_async(run_range, (info, fmt, run, a, b, k))
            for k, (a, b) in enumerate(ranges)
            if k > 0
        ]
        first = run_range(info, fmt, run, *ranges[0], slot=0, counts=counts)
        shards = [first] + [result.get() for result in pending]
    return merge_shards(shards)


def merge_shards(shards: Iterable[tuple[Accumulator, int]]) -> tuple[Accumulator, int]:
    """Merge the (accumulator, JSON lines) of one source's shards, given in file order."""
    total, parsed = Accumulator(), 0
    for shard, shard_parsed in shards:  # each shard's lines start after the last one's
        total.merge(shard.shift(total.last_line))
        parsed += shard_parsed
    return total, parsed


def _first_reason(acc: Accumulator) -> str:
    if not acc.dropped_first:
        return "?"
    return reason(*acc.dropped_first[0])


def peek_format(reader: Iterator[LineBlock], fallback: str) -> tuple[str, Iterator[LineBlock]]:
    """Decide the format from the first records; return it and all blocks, the read ones again.

    Blocks are read only until a record decides (usually the first), at most DETECT_LINES
    non-blank lines; stdin cannot be read twice, so they are replayed, then released.
    """
    head: list[LineBlock] = []

    def lines() -> Iterator[bytes]:
        for block in reader:
            head.append(block)
            yield from (raw for raw in block.lines if not is_blank(raw))

    fmt = detect_format(itertools.islice(lines(), DETECT_LINES), fallback)
    return fmt, _replay(head, reader)


def _replay(head: list[LineBlock], blocks: Iterator[LineBlock]) -> Iterator[LineBlock]:
    while head:  # pop as we go: the peeked blocks are not kept for the whole run
        yield head.pop(0)
    yield from blocks


@dataclass
class ParsedBlock:
    """A block after parsing: the examples to count, and its lines (to show the samples)."""

    batch: ExampleBatch
    numbers: list[int]  # the line number of each non-blank line
    raws: list[bytes]  # those lines
    parsed: int  # how many of them were JSON
    dropped: int  # how many were dropped while parsing (already in the accumulator)

    def raw_of(self, line: int) -> bytes:
        return self.raws[self.numbers.index(line)]


def process_block(block: LineBlock, fmt: str, run: Plan, acc: Accumulator) -> int:
    """Parse, validate, count and accumulate one block; return how many lines were JSON."""
    prepared = parse_block(block, fmt, run, acc)
    finish_block(prepared, count_block(prepared, run), fmt, run, acc)
    return prepared.parsed


def parse_block(block: LineBlock, fmt: str, run: Plan, acc: Accumulator) -> ParsedBlock:
    """Parse and validate one block: blank and invalid lines go to ``acc`` now, the valid
    examples come back to be counted."""
    numbers: list[int] = []
    raws: list[bytes] = []
    for offset, raw in enumerate(block.lines):
        if is_blank(raw):
            acc.add_blank(1)
        else:
            numbers.append(block.first_line + offset)
            raws.append(raw)
    if block.lines:
        acc.see_line(block.first_line + len(block.lines) - 1)
    if not raws:
        return ParsedBlock(from_examples([]), numbers, raws, 0, 0)
    line_numbers = np.asarray(numbers, dtype=np.int64)
    fast = None
    if run.options.arrow and len(raws) >= ARROW_MIN_LINES:
        fast = arrow_batch(raws, line_numbers, fmt, run.distill)
    if fast is None:
        fast_batch, redo = None, range(len(raws))
    else:
        fast_batch, redo = fast[0], fast[1].tolist()
    examples: list[Example] = []
    parsed = len(raws) - len(redo)  # Arrow parsed every line of a block it took
    dropped = 0
    for i in redo:
        outcome = parse_example(raws[i], numbers[i], fmt, run.distill)
        if isinstance(outcome, Drop):
            acc.add_dropped(numbers[i], outcome.problem)
            parsed += outcome.json
            dropped += 1
        else:
            examples.append(outcome)
            parsed += 1
    batch = concat([b for b in (fast_batch, from_examples(examples)) if b is not None])
    return ParsedBlock(batch, numbers, raws, parsed, dropped)


def count_block(block: ParsedBlock, run: Plan) -> tuple[np.ndarray, np.ndarray]:
    """Per-example input (media included) and output tokens of a parsed block."""
    inputs, outputs = token_totals(block.batch, run.counter)
    return inputs + block.batch.images * IMAGE_TOKENS, outputs


def finish_block(
    block: ParsedBlock,
    counted: tuple[np.ndarray, np.ndarray],
    fmt: str,
    run: Plan,
    acc: Accumulator,
) -> None:
    """Apply the too-long rule to a counted block and accumulate the kept examples."""
    batch = block.batch
    if not len(batch):
        return
    inputs, outputs = counted
    too_long = inputs + outputs > run.limit
    for i in np.flatnonzero(too_long).tolist():
        line = int(batch.lines[i])
        acc.add_dropped(line, _too_long(int(inputs[i]), int(outputs[i]), run))
    keep = ~too_long
    acc.update_kept(
        inputs[keep],
        outputs[keep],
        batch.messages[keep],
        int(batch.characters[keep].sum()),
        int(batch.billable_characters[keep].sum()),
        int(batch.images[keep].sum()),
        int(batch.other_media[keep].sum()),
    )
    for line in batch.lines[keep].tolist():  # lines increase: stop at the first not wanted
        if not acc.wants_sample(line):
            break
        example = parse_example(block.raw_of(line), line, fmt, run.distill)
        assert isinstance(example, Example)  # it was kept once already
        acc.add_sample(line, _sample_contents(example, fmt))


def token_totals(batch: ExampleBatch, tokenizer: Tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """Per-example input and output token sums, tokenizing all texts of the batch at once."""
    n = len(batch)
    if not batch.texts:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    counts = tokenizer.count(batch.texts)
    out = batch.output
    # bincount sums in float64: exact, as every total stays far below 2**53.
    inputs = np.bincount(batch.owner[~out], weights=counts[~out], minlength=n)
    outputs = np.bincount(batch.owner[out], weights=counts[out], minlength=n)
    return inputs.astype(np.int64), outputs.astype(np.int64)


def _too_long(inputs: int, outputs: int, run: Plan) -> str:
    if run.options.max_tokens_per_example is not None:
        limit = f"the limit (--max-tokens-per-example) is {run.limit}"
    else:
        limit = f"the limit for {run.profile.name} is {run.limit}"
    return (
        f"example has {inputs + outputs} tokens ({inputs} input + {outputs} output, "
        f"{run.choice.tokenizer.name}); {limit}"
    )
