"""Pipeline: runs one source through the stages and returns its statistics.

source (blocks of lines) -> the format, detected from the first records -> counting (one
process) or parallel (byte ranges on a pool, combined) -> results. :func:`compute` is the
Python API; the CLI is a thin layer over it.

Hands to the caller: :class:`~tunestats.results.Stats`, whose ``to_dict()`` is the
TuningDataStats document.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from .accumulate import Accumulator, reason
from .counting import accumulate_blocks
from .drops import KINDS
from .formats import detect_format, is_blank
from .options import Options, Plan, plan
from .outputs import Outputs
from .parallel import run_shards, shard_ranges, warm_for_large_run
from .progress import Progress, reporter
from .results import SourceStats, Stats, make_stats
from .source import LineBlock, SourceError, SourceInfo, read_blocks, splittable_size, stat_source

DETECT_LINES = 1000  # CHOICES.md: format detection looks at most this far


def compute(
    source: str,
    *,
    validation: str | None = None,
    progress: Progress | None = None,
    write_kept: str | None = None,
    write_dropped: str | None = None,
    **options: Any,
) -> Stats:
    """Compute the TuningDataStats of ``source`` (a path, ``-`` or any fsspec URL).

    ``options`` are the fields of :class:`Options` (``format``, ``task``, ``model``,
    ``tokenizer``, ``tokenizer_model``, ``epochs``, ``batch_size``,
    ``max_tokens_per_example``, ``jobs``...). ``progress`` draws a progress bar (the CLI gives
    one when stderr is a terminal). ``write_kept`` and ``write_dropped`` (paths or URLs) receive
    the training source's kept lines and its dropped lines (:mod:`tunestats.outputs`).
    Raises :class:`SourceError` when a source cannot be used
    at all, ``ValueError`` for bad options.
    """
    run = plan(Options(**options))
    outputs = Outputs(write_kept, write_dropped)
    outputs.check(source, validation)
    checked = None
    if validation is not None and outputs:  # a validation set that fails leaves no files
        checked = run_source(validation, run, progress)
    training = run_source(source, run, progress, outputs)
    if validation is not None and checked is None:
        checked = run_source(validation, run, progress)
    return make_stats(run, training, checked)


def run_source(
    uri: str, run: Plan, progress: Progress | None = None, outputs: Outputs | None = None
) -> SourceStats:
    """Read one whole source into an Accumulator, split across processes when it is large;
    write its kept and dropped lines to ``outputs`` (only when the whole source was read)."""
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
        warm_for_large_run(run)
    if len(ranges) == 1:
        report = None if progress is None else reporter(progress.counts, 0)
        if not outputs:
            acc, parsed = accumulate_blocks(blocks, fmt, run, report)
            return finish_source(uri, fmt, acc, parsed, info)
        with outputs.sink() as sink:
            acc, parsed = accumulate_blocks(blocks, fmt, run, report, sink)
            return finish_source(uri, fmt, acc, parsed, info)  # no files if the source fails
    reader.close()
    check = lambda acc, parsed: finish_source(uri, fmt, acc, parsed)  # noqa: E731
    acc, parsed = run_shards(info, fmt, run, ranges, progress, outputs, check)
    return finish_source(uri, fmt, acc, parsed, info)


def finish_source(
    uri: str, fmt: str, acc: Accumulator, parsed: int, info: SourceInfo | None = None
) -> SourceStats:
    """The statistics of a whole source, or SourceError when it holds no record at all."""
    if acc.blank == acc.last_line:
        raise SourceError(f"{uri}: empty: no records")
    if parsed == 0:
        raise SourceError(
            f"{uri}: not JSONL: no line is a JSON value (first: {_first_reason(acc)})"
            f"{_likely_fix(acc)}"
        )
    return SourceStats(uri, fmt, acc, info)


def _likely_fix(acc: Accumulator) -> str:
    """What the lines of a file that is not JSONL mostly look like, and the fix (drops.KINDS)."""
    if not acc.drop_kinds:
        return ""
    (code, _), _ = max(acc.drop_kinds.items(), key=lambda item: (item[1], item[0]))
    kind = KINDS[code]
    return f"; most lines are {kind.title}: {kind.hint}"


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
