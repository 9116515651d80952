"""Beam: the statistics of many datasets as an Apache Beam pipeline (the ``beam`` extra).

:class:`ComputeStats` turns a PCollection of datasets (uri strings or :class:`SourceInfo`) into
``(uri, record)`` pairs, where ``record`` is exactly the JSON object ``tunestats batch`` writes
for the dataset (the ``doc`` of its :class:`~tunestats.batch.Record`), or, for a dataset that
could not be counted, its version and ``error``.
A large uncompressed dataset is cut into byte ranges that any worker may count;
:class:`ShardCombineFn` merges their exact accumulators back in file order, whatever order and
grouping Beam combines them in. A dataset that fails becomes its error record; the others go on.

``python -m tunestats.beam SOURCE... --out DEST [Beam options]`` is ``tunestats batch`` on any
Beam runner (DirectRunner by default, DataflowRunner in the cloud): the same records and the
same summary under DEST, without the reuse of unchanged records.

Hands on: ``(uri, record)`` pairs; from the command, the files under DEST.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam

from . import batch
from .config.arguments import count_options
from .config.options import Options
from .config.plan import make_plan
from .counting import combine
from .counting.accumulate import Accumulator
from .counting.ranges import Failure, count_range
from .io import uris
from .io.files import join_path
from .io.sources import Range, SourceInfo, split, stat_source
from .run.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE

RecordDoc = dict[str, Any]  # a Record's JSON object, as ComputeStats hands it on


# --- what travels between the steps --------------------------------------------------------

# A step's work for one dataset: a byte range to count in a format, or why there is none.
Task = tuple[Range, str] | Failure


@dataclass
class Shard:
    """A counted range: its accumulator (lines numbered from 1), or why it failed."""

    info: SourceInfo
    fmt: str
    index: int
    count: int
    acc: Accumulator | None = None
    failure: Failure | None = None


@dataclass
class Merging:
    """:class:`ShardCombineFn`'s accumulator: contiguous segments in file order, or a failure."""

    info: SourceInfo | None = None
    fmt: str | None = None
    count: int = 0
    combined: combine.Combined = field(default_factory=combine.create)
    failure: tuple[int, Failure] | None = None  # (range index, failure): the lowest index


@dataclass
class Whole:
    """A whole dataset: its merged accumulator, or the failure of a range."""

    info: SourceInfo
    fmt: str
    acc: Accumulator | None
    failure: Failure | None = None


# --- merging ranges in file order ----------------------------------------------------------


class ShardCombineFn(beam.CombineFn):
    """Merge the shards of one dataset into the whole, in any order and grouping.

    The shard protocol of :mod:`tunestats.counting.combine` (create, add, merge, extract), the
    one that ``stats --jobs`` and the local batch drive too, plus the dataset's description and
    the failure of its lowest failed range.
    """

    def create_accumulator(self) -> Merging:
        return Merging()

    def add_input(self, merging: Merging, shard: Shard) -> Merging:
        _describe(merging, shard.info, shard.fmt, shard.count)
        if shard.failure is not None:
            _fail(merging, shard.index, shard.failure)
        elif shard.acc is not None and merging.failure is None:
            # Joining shifts and merges in place, and an input is not ours to change.
            combine.add(merging.combined, shard.index, copy.deepcopy(shard.acc))
        return merging

    def merge_accumulators(self, accumulators: Iterable[Merging]) -> Merging:
        others = iter(accumulators)
        merged = next(others)
        for other in others:  # only the first accumulator may be changed
            if other.info is not None:
                _describe(merged, other.info, other.fmt or "", other.count)
            if other.failure is not None:
                _fail(merged, *other.failure)
            if merged.failure is None:
                combine.merge(merged.combined, copy.deepcopy(other.combined))
        return merged

    def extract_output(self, merging: Merging) -> Whole:
        if merging.info is None or merging.fmt is None:
            raise ValueError("no shard to merge")
        if merging.failure is not None:
            return Whole(merging.info, merging.fmt, None, merging.failure[1])
        try:
            acc = combine.extract(merging.combined, merging.count)
        except RuntimeError as exc:
            raise RuntimeError(f"{merging.info.uri}: {exc}") from None
        return Whole(merging.info, merging.fmt, acc)


def _describe(merging: Merging, info: SourceInfo, fmt: str, count: int) -> None:
    if merging.info is None:
        merging.info, merging.fmt, merging.count = info, fmt, count


def _fail(merging: Merging, index: int, failure: Failure) -> None:
    # The lowest range's failure, so that the record does not depend on the order of arrival.
    if merging.failure is None or index < merging.failure[0]:
        merging.failure = (index, failure)
    merging.combined = combine.create()  # the counts of a failed dataset are never used


# --- the steps -------------------------------------------------------------------------------


def _uri_keyed(item: Any) -> tuple[str, Any]:
    return (item.uri if isinstance(item, SourceInfo) else item), item


def _one_of(uri: str, items: Iterable[Any]) -> Any:
    """A dataset named twice is counted once (its ranges would meet in one combine)."""
    named = list(items)
    return next((i for i in named if isinstance(i, SourceInfo)), named[0])


class _WithPlan(beam.DoFn):
    """A DoFn with the run's Plan, built once per worker instance (a Plan is not picklable)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    def setup(self) -> None:
        self.plan = make_plan(Options(**self.options))


class _PlanRanges(_WithPlan):
    """Stat a dataset, detect its format and cut it into ranges; or say why it cannot be.

    Failures travel in the main output, keyed like the ranges, so that no runner needs tagged
    outputs (the DaskRunner mixes them into the main output)."""

    def __init__(self, options: dict[str, Any], shard_bytes: int) -> None:
        super().__init__(options)
        self.shard_bytes = shard_bytes

    def process(self, item: Any) -> Iterator[tuple[str, Task]]:
        info = item if isinstance(item, SourceInfo) else SourceInfo(item, None)
        try:
            info = stat_source(info.uri)  # as tunestats batch: count the dataset as it is now
            fmt = batch.detect(info, self.plan)
            ranges = split(info, self.shard_bytes)
        except Exception as exc:
            yield info.uri, Failure.of(info, exc)
            return
        # Yielded outside the try: an error downstream must not pass for this dataset's.
        for rng in ranges:
            yield info.uri, (rng, fmt)


class _CountRange(_WithPlan):
    def process(self, element: tuple[str, Task]) -> Iterator[tuple[str, Shard]]:
        uri, task = element
        if isinstance(task, Failure):
            yield uri, Shard(task.info, "", 0, 1, failure=task)
            return
        rng, fmt = task
        try:
            shard = Shard(rng.info, fmt, rng.index, rng.count, count_range(rng, fmt, self.plan))
        except Exception as exc:
            shard = Shard(rng.info, fmt, rng.index, rng.count, failure=Failure.of(rng.info, exc))
        yield uri, shard


class _MakeRecord(_WithPlan):
    def process(self, element: tuple[str, Whole]) -> Iterator[tuple[str, RecordDoc]]:
        uri, counted = element
        if counted.failure is not None:
            record = batch.Record.failed(counted.failure)
        else:
            try:
                record = batch.make_record(counted.info, self.plan, counted.fmt, counted.acc)
            except Exception as exc:
                record = batch.Record.failed(Failure.of(counted.info, exc))
        yield uri, record.doc


class ComputeStats(beam.PTransform):
    """Datasets (uri strings or SourceInfo) in, ``(uri, record)`` out: one per dataset.

    ``record`` is the dict ``tunestats batch`` writes for the dataset, or its error record
    (with an ``"error"`` key). ``options`` are the fields of :class:`tunestats.Options`
    (``tokenizer``, ``model``, ``task``, ``format``...); ``shard_bytes`` is the smallest byte
    range of a split dataset. A dataset is stat'ed again when counted, like in the batch.
    """

    def __init__(self, *, shard_bytes: int = batch.BATCH_SHARD_BYTES, **options: Any) -> None:
        super().__init__()
        Options(**options).check()  # a bad option fails here, not on every worker
        if not isinstance(shard_bytes, int) or shard_bytes < 1:
            raise ValueError(f"shard_bytes must be a positive integer, not {shard_bytes!r}")
        self.stat_options = dict(options)
        self.shard_bytes = shard_bytes

    def expand(self, datasets: beam.PCollection) -> beam.PCollection:
        return (
            datasets
            | "ByUri" >> beam.Map(_uri_keyed)
            | "GroupByUri" >> beam.GroupByKey()
            | "Once" >> beam.MapTuple(_one_of)
            | "Plan" >> beam.ParDo(_PlanRanges(self.stat_options, self.shard_bytes))
            | "Spread" >> beam.Reshuffle()  # the ranges of one file go to many workers
            | "Count" >> beam.ParDo(_CountRange(self.stat_options))
            | "Merge" >> beam.CombinePerKey(ShardCombineFn())
            | "Record" >> beam.ParDo(_MakeRecord(self.stat_options))
        )


# --- the command: tunestats batch on a Beam runner -----------------------------------------


class _WriteRecord(beam.DoFn):
    """Write a dataset's record under DEST (as run_batch does) and hand on its summary row."""

    def __init__(self, dest: str) -> None:
        self.dest = dest

    def process(self, element: tuple[str, RecordDoc]) -> Iterator[batch.Row]:
        _, doc = element
        # Idempotent: a retried bundle rewrites the same bytes.
        yield batch.save_record(self.dest, batch.Record(doc))


class _WriteSummary(beam.DoFn):
    """Write the summary from all rows at once, in the order of the SOURCE arguments."""

    def __init__(self, dest: str, order: list[str], failed: list[batch.Row]) -> None:
        self.dest, self.order, self.failed = dest, order, failed

    def process(self, rows: list[batch.Row]) -> Iterator[str]:
        by_uri = {row.uri: row for row in [*self.failed, *rows]}
        lost = [uri for uri in self.order if uri not in by_uri]
        if lost:
            raise RuntimeError(f"no result for {len(lost)} dataset(s), such as {lost[0]}")
        jsonl, _ = batch.write_summary(self.dest, [by_uri[uri] for uri in self.order])
        yield jsonl


def build_pipeline(
    pipeline: beam.Pipeline,
    work: batch.Work,
    dest: str,
    *,
    shard_bytes: int = batch.BATCH_SHARD_BYTES,
    **options: Any,
) -> None:
    """Add the batch to ``pipeline``: count, write the records, then the summary.

    The summary is written by the pipeline itself, after a global combine of the rows: no
    temporary files under DEST, and it works wherever the workers can write DEST (the local
    disk on the DirectRunner, gs:// on Dataflow). All rows meet in one worker (a few hundred
    bytes per dataset).
    """
    rows = (
        pipeline
        | "Datasets" >> beam.Create(work.datasets)
        | "Stats" >> ComputeStats(shard_bytes=shard_bytes, **options)
        | "WriteRecords" >> beam.ParDo(_WriteRecord(dest))
    )
    _ = (
        rows
        | "AllRows" >> beam.combiners.ToList()
        | "WriteSummary" >> beam.ParDo(_WriteSummary(dest, work.order, list(work.failed.values())))
    )


def build_parser() -> argparse.ArgumentParser:
    from .config.arguments import add_batch_arguments, add_count_options, positive_int

    parser = argparse.ArgumentParser(
        prog="python -m tunestats.beam",
        description="tunestats batch on an Apache Beam runner: one record per dataset and a "
        "summary (JSONL and Parquet) under DEST. Beam's own options go to Beam, such as "
        "--runner DataflowRunner --project P --region R --temp_location gs://B/tmp.",
        allow_abbrev=False,  # a Beam option must never pass for an abbreviation of ours
    )
    add_batch_arguments(parser)
    add_count_options(parser, local=False)
    parser.add_argument(
        "--shard-bytes",
        type=positive_int,
        default=batch.BATCH_SHARD_BYTES,
        metavar="N",
        help=f"smallest byte range of a split dataset (default {batch.BATCH_SHARD_BYTES})",
    )
    return parser


def split_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split a command line into ours and Beam's, knowing which Beam options take a value.

    argparse's parse_known_args cannot: in ``--runner DataflowRunner a.jsonl`` it would take
    DataflowRunner for a SOURCE and hand Beam a bare ``--runner``.
    """
    flags = _beam_flags()
    ours: list[str] = []
    beams: list[str] = []
    k = 0
    while k < len(argv):
        arg = argv[k]
        nargs = flags.get(arg.split("=", 1)[0], "ours")
        if nargs == "ours":
            ours.append(arg)
            k += 1
            continue
        beams.append(arg)
        k += 1
        value = "=" not in arg and k < len(argv) and nargs != 0
        if value and (nargs is None or not argv[k].startswith("-")):
            beams.append(argv[k])
            k += 1
    return ours, beams


def _beam_flags() -> dict[str, Any]:
    """Every option Beam knows, with its argparse ``nargs`` (0: a switch, None: one value)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    parsers: list[argparse.ArgumentParser] = []  # Beam's own parser, with every option class
    PipelineOptions([]).get_all_options(add_extra_args_fn=parsers.append)
    actions = parsers[0]._option_string_actions
    return {flag: a.nargs for flag, a in actions.items() if flag not in ("-h", "--help")}


# Beam's DirectRunner (2.60 and later) first tries Prism, a program it downloads from GitHub
# when it first runs; tunestats never downloads at run time. The FnApiRunner is the local
# engine the DirectRunner falls back to for a batch pipeline such as this one (CHOICES.md,
# "What tunestats contacts").
LOCAL_RUNNER = "FnApiRunner"
_DIRECT_RUNNERS = ("directrunner", "direct", "switchingdirectrunner")


def offline_direct_runner(pipeline_options: Any) -> None:
    """Run what would go to the DirectRunner (named, or by default) on the FnApiRunner."""
    from apache_beam.options.pipeline_options import StandardOptions

    standard = pipeline_options.view_as(StandardOptions)
    if standard.runner is None or standard.runner.lower() in _DIRECT_RUNNERS:
        standard.runner = LOCAL_RUNNER


def _remote_problem(runner: str | None, dest: str, sources: Sequence[str]) -> str | None:
    """Why a remote runner could not do this batch: its workers do not see local paths."""
    if runner is None or "dataflow" not in runner.lower():
        return None
    local = [p for p in [dest, *sources] if uris.is_local(p)]
    if local:
        return f"{local[0]}: {runner} workers cannot read or write local paths; use gs://"
    return None


def _error(message: str) -> None:
    print(f"tunestats.beam: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the batch on the Beam runner the options name; 0 all counted, 1 some failed."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    ours, beam_args = split_args(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(ours)
    options = count_options(args, local=False)
    try:
        make_plan(Options(**options))  # an unknown model or tokenizer stops here, before any job
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    pipeline_options = PipelineOptions(beam_args)
    offline_direct_runner(pipeline_options)
    problem = _remote_problem(
        pipeline_options.view_as(StandardOptions).runner, args.out, args.sources
    )
    if problem:
        _error(problem)
        return EXIT_USAGE

    work = batch.work_of(batch.expand(args.sources, [args.out]))  # DEST's files: never datasets
    if work.datasets:
        with beam.Pipeline(options=pipeline_options) as pipeline:
            build_pipeline(pipeline, work, args.out, shard_bytes=args.shard_bytes, **options)
    else:  # nothing to count: no job to start
        batch.write_summary(args.out, [work.failed[uri] for uri in work.order])

    rows = batch.read_summary(args.out)
    failed = [row for row in rows if row.status == "failed"]
    print(batch.table(rows))
    jsonl = join_path(args.out, batch.SUMMARY_NAME + ".jsonl")
    parquet = join_path(args.out, batch.SUMMARY_NAME + ".parquet")
    print("\n" + "\n".join(batch.summary_lines(rows, jsonl, parquet)))
    for row in failed:
        _error(row.error or row.uri)
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    # Run the imported module, not __main__: the steps must pickle as tunestats.beam's own
    # classes, which the workers import from the installed package.
    from tunestats.beam import main as _main

    sys.exit(_main())
