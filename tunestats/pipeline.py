"""Pipeline: runs one source through the stages and returns its statistics.

source (blocks of lines) -> formats (examples or drops) -> counting (tokenizer, too-long rule)
-> accumulate. :func:`compute` is the Python API; the CLI is a thin layer over it.

Hands to the caller: :class:`Stats`, whose ``to_dict()`` is the TuningDataStats document.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import report
from .accumulate import Accumulator, DatasetResult
from .formats import FORMATS, TASKS, Drop, Example, detect_format, is_blank, parse_example
from .formats import sample_contents as _sample_contents
from .profiles import ModelProfile, get_profile
from .source import LineBlock, SourceError, read_blocks, source_size
from .tokenizers import Tokenizer, TokenizerChoice, choose_tokenizer

IMAGE_TOKENS = 258  # SPEC §2 [D]
DETECT_LINES = 1000  # CHOICES.md: format detection looks at most this far
# A file is split across processes only in shards of at least this size: below it, starting
# the workers costs more than they save.
MIN_SHARD_BYTES = 8 << 20


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
    jobs: int | None = None  # worker processes for one source; None: all cores
    shard_bytes: int = MIN_SHARD_BYTES  # the smallest byte range given to one worker

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

    @property
    def distill(self) -> bool:
        return self.options.task == "distillation"

    @property
    def limit(self) -> int:
        return self.profile.max_tokens_per_example


def plan(options: Options) -> Plan:
    options.check()
    profile = get_profile(options.model, options.max_tokens_per_example)
    choice = choose_tokenizer(options.tokenizer, options.tokenizer_model, profile.gemini_tokenizer)
    return Plan(options, profile, choice)


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


def compute(source: str, *, validation: str | None = None, **options: Any) -> Stats:
    """Compute the TuningDataStats of ``source`` (a path, ``-`` or any fsspec URL).

    ``options`` are the fields of :class:`Options` (``format``, ``task``, ``model``,
    ``tokenizer``, ``tokenizer_model``, ``epochs``, ``batch_size``,
    ``max_tokens_per_example``). Raises :class:`SourceError` when a source cannot be used at
    all, ``ValueError`` for bad options.
    """
    run = plan(Options(**options))
    training = run_source(source, run)
    checked = run_source(validation, run) if validation is not None else None
    return Stats(
        training=training,
        validation=checked,
        task=run.options.task,
        model=run.profile.name,
        tokenizer=run.choice.tokenizer.name,
        exact=run.choice.exact,
        notes=[run.choice.note] if run.choice.note else [],
        epochs=run.options.epochs,
        batch_size=run.options.batch_size,
    )


def run_source(uri: str, run: Plan) -> SourceStats:
    """Read one whole source into an Accumulator, split across processes when it is large."""
    reader = read_blocks(uri)
    blocks: Iterator[LineBlock] = reader
    fmt = run.options.format
    if fmt is None:
        head, blocks = _peek(reader)  # stdin cannot be read twice: replay what was peeked
        fmt = detect_format(_head_lines(head), run.profile.format)
    jobs = run.options.jobs or os.cpu_count() or 1
    ranges = shard_ranges(source_size(uri), jobs, run.options.shard_bytes)
    if len(ranges) == 1:
        acc, parsed = accumulate_blocks(blocks, fmt, run)
    else:
        reader.close()
        acc, parsed = _run_shards(uri, fmt, run, ranges)
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
    uri: str, fmt: str, run: Plan, start: int, end: int | None
) -> tuple[Accumulator, int]:
    """One shard: the lines that begin in [start, end), numbered from 1 (see Accumulator.shift)."""
    return accumulate_blocks(read_blocks(uri, start=start, end=end), fmt, run)


def accumulate_blocks(blocks: Iterable[LineBlock], fmt: str, run: Plan) -> tuple[Accumulator, int]:
    """Feed blocks into a new Accumulator; also return how many lines were JSON."""
    acc = Accumulator()
    parsed = 0
    for block in blocks:
        parsed += process_block(block, fmt, run, acc)
    return acc, parsed


def _run_shards(
    uri: str, fmt: str, run: Plan, ranges: list[tuple[int, int | None]]
) -> tuple[Accumulator, int]:
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
        futures = [pool.submit(run_range, uri, fmt, run, a, b) for a, b in ranges]
        shards = [future.result() for future in futures]
    total, parsed = Accumulator(), 0
    for shard, shard_parsed in shards:  # in file order: each shard starts after the last
        total.merge(shard.shift(total.last_line))
        parsed += shard_parsed
    return total, parsed


def _first_reason(acc: Accumulator) -> str:
    if not acc.dropped_first:
        return "?"
    line, problem = acc.dropped_first[0]
    return f"line {line}: {problem}"


def _peek(blocks: Iterator[LineBlock]) -> tuple[list[LineBlock], Iterator[LineBlock]]:
    """Read blocks until DETECT_LINES non-blank lines are seen; replay them afterwards."""
    head: list[LineBlock] = []
    seen = 0
    for block in blocks:
        head.append(block)
        seen += sum(1 for raw in block.lines if not is_blank(raw))
        if seen >= DETECT_LINES:
            break
    return head, itertools.chain(head, blocks)


def _head_lines(head: list[LineBlock]) -> Iterator[bytes]:
    lines = (raw for block in head for raw in block.lines if not is_blank(raw))
    return itertools.islice(lines, DETECT_LINES)


def process_block(block: LineBlock, fmt: str, run: Plan, acc: Accumulator) -> int:
    """Parse, validate, count and accumulate one block; return how many lines were JSON."""
    examples: list[Example] = []
    parsed = 0
    distill = run.distill
    for offset, raw in enumerate(block.lines):
        if is_blank(raw):
            acc.add_blank(1)
            continue
        line = block.first_line + offset
        outcome = parse_example(raw, line, fmt, distill)
        if isinstance(outcome, Drop):
            acc.add_dropped(line, outcome.problem)
            parsed += outcome.json
        else:
            examples.append(outcome)
            parsed += 1
    if block.lines:
        acc.see_line(block.first_line + len(block.lines) - 1)
    if examples:
        count_examples(examples, fmt, run, acc)
    return parsed


def count_examples(examples: list[Example], fmt: str, run: Plan, acc: Accumulator) -> None:
    """Tokenize a batch of examples, apply the too-long rule, accumulate the kept ones."""
    inputs, outputs = token_totals(examples, run.choice.tokenizer)
    images = np.fromiter((e.images for e in examples), dtype=np.int64, count=len(examples))
    inputs += images * IMAGE_TOKENS
    too_long = inputs + outputs > run.limit
    for i in np.flatnonzero(too_long).tolist():
        e = examples[i]
        acc.add_dropped(e.line, _too_long(int(inputs[i]), int(outputs[i]), run))
    keep = ~too_long
    kept = [e for e, k in zip(examples, keep.tolist()) if k]
    acc.update_kept(
        inputs[keep],
        outputs[keep],
        np.fromiter((e.messages for e in kept), dtype=np.int64, count=len(kept)),
        sum(e.characters for e in kept),
        sum(e.billable_characters for e in kept),
        int(images[keep].sum()),
        sum(e.other_media for e in kept),
    )
    for e in kept:  # lines increase within a block: stop at the first one not wanted
        if not acc.wants_sample(e.line):
            break
        acc.add_sample(e.line, _sample_contents(e, fmt))


def token_totals(examples: list[Example], tokenizer: Tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """Per-example input and output token sums, tokenizing all texts of the batch at once."""
    texts: list[str] = []
    owners: list[int] = []
    is_output: list[bool] = []
    for i, e in enumerate(examples):
        texts += e.inputs
        texts += e.outputs
        owners += [i] * (len(e.inputs) + len(e.outputs))
        is_output += [False] * len(e.inputs) + [True] * len(e.outputs)
    counts = tokenizer.count(texts) if texts else np.zeros(0, dtype=np.int64)
    owner = np.asarray(owners, dtype=np.int64)
    out_mask = np.asarray(is_output, dtype=bool)
    inputs = np.zeros(len(examples), dtype=np.int64)
    outputs = np.zeros(len(examples), dtype=np.int64)
    np.add.at(inputs, owner[~out_mask], counts[~out_mask])
    np.add.at(outputs, owner[out_mask], counts[out_mask])
    return inputs, outputs


def _too_long(inputs: int, outputs: int, run: Plan) -> str:
    return (
        f"example has {inputs + outputs} tokens ({inputs} input + {outputs} output, "
        f"{run.choice.tokenizer.name}); the limit for {run.profile.name} is {run.limit}"
    )
