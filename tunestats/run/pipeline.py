"""Pipeline: runs one source through the stages and returns its statistics.

io (blocks of lines) -> the format, detected from the first records -> counting (one
process) or run.pool (byte ranges on a pool, combined) -> job.results. :func:`compute` is the
Python API; the CLI is a thin layer over it.

Hands to the caller: :class:`~tunestats.job.results.Stats`, whose ``to_dict()`` is the
TuningDataStats document.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..config.options import Options
from ..config.plan import Plan, make_plan
from ..counting import combine
from ..counting.accumulate import Accumulator, reason
from ..counting.blocks import accumulate_blocks
from ..formats import detect_format, is_blank, record_format
from ..formats.drops import KINDS
from ..io.files import SourceError
from ..io.lines import TOO_LONG_LINE, LineBlock, read_blocks
from ..io.outputs import Outputs
from ..io.sources import SourceInfo, split, splittable_size, stat_source
from ..job.results import SourceStats, Stats, make_stats
from ..present.progress import Progress, reporter
from .pool import count_ranges, warm_for_large_run

DETECT_LINES = 1000  # CHOICES.md: format detection looks at most this far
# ... and holds at most this many bytes of lines for the replay (one block may go over).
DETECT_BYTES = 64 << 20


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
    the training source's kept lines and its dropped lines (:mod:`tunestats.io.outputs`).
    Raises :class:`SourceError` when a source cannot be used
    at all, ``ValueError`` for bad options.
    """
    plan = make_plan(Options(**options))
    outputs = Outputs(write_kept, write_dropped)
    outputs.check(source, validation)
    checked = None
    if validation is not None and outputs:  # a validation set that fails leaves no files
        checked = run_source(validation, plan, progress)
    training = run_source(source, plan, progress, outputs)
    if validation is not None and checked is None:
        checked = run_source(validation, plan, progress)
    return make_stats(plan, training, checked)


def run_source(
    uri: str, plan: Plan, progress: Progress | None = None, outputs: Outputs | None = None
) -> SourceStats:
    """Read one whole source into an Accumulator, split across processes when it is large;
    write its kept and dropped lines to ``outputs`` (only when the whole source was read)."""
    info = stat_source(uri)
    expect = None if info.stream else info  # stdin and named pipes are read once, as they come
    size = splittable_size(info)
    if progress is not None:
        progress.begin(uri, size)
    reader = read_blocks(uri, expect=expect, max_line_bytes=plan.options.max_line_bytes)
    blocks: Iterator[LineBlock] = reader
    fmt = plan.options.format
    detection = None
    if fmt is None:
        detection, blocks = detect(reader, plan.profile.format)
        fmt = detection.format
    ranges = split(info, plan.options.shard_bytes, plan.processes)
    if size is not None and size >= plan.options.shard_bytes:
        warm_for_large_run(plan)
    if len(ranges) == 1:
        report = None if progress is None else reporter(progress.counts, 0)
        if not outputs:
            acc = accumulate_blocks(blocks, fmt, plan, report)
            return finish_source(uri, fmt, acc, info, detection)
        with outputs.sink() as sink:
            acc = accumulate_blocks(blocks, fmt, plan, report, sink)
            # no files if the source fails
            return finish_source(uri, fmt, acc, info, detection)
    reader.close()
    if not outputs:
        acc = combine.in_order(count_ranges(ranges, fmt, plan, progress))
        return finish_source(uri, fmt, acc, info, detection)
    with outputs.parts(len(ranges)) as parts:
        shards = count_ranges(ranges, fmt, plan, progress, parts)
        # Range k's lines were numbered from 1: they follow the lines of the ranges before.
        before = [0]
        for shard in shards[:-1]:
            before.append(before[-1] + shard.last_line)
        stats = finish_source(uri, fmt, combine.in_order(shards), info, detection)
        outputs.join_parts(parts, before)  # only once the source passed: no files otherwise
    return stats


@dataclass(frozen=True)
class Detection:
    """What format detection found in the first records of a source."""

    format: str  # the format decided, or the model's when nothing decided (``assumed``)
    assumed: bool  # no record looked at has the keys of any format


def finish_source(
    uri: str,
    fmt: str,
    acc: Accumulator,
    info: SourceInfo | None = None,
    detection: Detection | None = None,
) -> SourceStats:
    """The statistics of a whole source, or SourceError when it holds no record at all: no
    line (empty), or no JSON line (not JSONL, or every line too long to read)."""
    if acc.blank == acc.last_line:
        raise SourceError(f"{uri}: empty: no records")
    if acc.json_lines == 0 and {code for code, _ in acc.drop_kinds} == {TOO_LONG_LINE}:
        raise SourceError(
            f"{uri}: no line could be read: every line is longer than the maximum (first: "
            f"{_first_reason(acc)}); {KINDS[TOO_LONG_LINE].hint}"
        )
    if acc.json_lines == 0:
        raise SourceError(
            f"{uri}: not JSONL: no line is a JSON value (first: {_first_reason(acc)})"
            f"{_likely_fix(acc)}"
        )
    # No record had the keys of any format and none was kept: the report says the format was
    # the model's, assumed (CHOICES.md, "Formats"), and lists every drop.
    assumed = detection is not None and detection.assumed and acc.examples == 0
    return SourceStats(uri, fmt, acc, info, format_assumed=assumed)


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
    """Decide the format from the first records; return it and all blocks, the read ones again
    (see :func:`detect`)."""
    detection, blocks = detect(reader, fallback)
    return detection.format, blocks


def detect(reader: Iterator[LineBlock], fallback: str) -> tuple[Detection, Iterator[LineBlock]]:
    """Decide the format from the first records; return it and all blocks, the read ones again.

    Blocks are read only until a record decides (usually the first), at most DETECT_LINES
    non-blank lines and DETECT_BYTES bytes; stdin cannot be read twice, so they are replayed,
    then released. A line too long to read (an empty LongLine) is blank to detection.
    """
    head: list[LineBlock] = []

    def lines() -> Iterator[bytes]:
        held = 0
        for block in reader:
            head.append(block)
            yield from (raw for raw in block.lines if not is_blank(raw))
            held += block.nbytes
            if held >= DETECT_BYTES:
                return

    fmt = detect_format(itertools.islice(lines(), DETECT_LINES), fallback)
    assumed = fmt == fallback and not any(_decides(raw) for b in head for raw in b.lines)
    return Detection(fmt, assumed), _replay(head, reader)


def _decides(raw: bytes) -> bool:
    """Whether a line is a record with the keys of some format (detect_format's rule)."""
    if is_blank(raw) or raw.lstrip()[:1] != b"{":
        return False
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return record_format(record) is not None or (isinstance(record, dict) and "messages" in record)


def _replay(head: list[LineBlock], blocks: Iterator[LineBlock]) -> Iterator[LineBlock]:
    while head:  # pop as we go: the peeked blocks are not kept for the whole run
        yield head.pop(0)
    yield from blocks
