"""Transforms: the statistics of many datasets as Beam steps (:class:`ComputeStats`).

A dataset is stat'ed, its format detected and its byte ranges cut (``Plan``); the ranges are
spread over the workers by a GroupByKey on (dataset, range) (``Spread``), counted (``Count``),
merged back in file order by :class:`ShardCombineFn` (``Merge``) and made into the dataset's
record (``Record``). A dataset that fails at any step travels on as a :class:`Failure` in the
one output (no tagged outputs, no side inputs: every runner, Dask's too, has GroupByKey,
CombinePerKey and ParDo right).

Hands on: ``(uri, record)`` pairs, ``record`` the JSON object of the dataset's
:class:`~tunestats.batch.Record`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam

from .. import batch
from ..config.options import Options
from ..config.plan import make_plan
from ..counting import combine
from ..counting.accumulate import Accumulator
from ..counting.ranges import Failure, count_range
from ..io.sources import Range, SourceInfo, split, stat_source

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


def _range_keyed(element: tuple[str, Task]) -> tuple[tuple[str, int], tuple[str, Task]]:
    """Key a range by its dataset and index (a failure by -1): each is a key of its own."""
    uri, task = element
    return (uri, -1 if isinstance(task, Failure) else task[0].index), element


def _ungrouped(key: tuple[str, int], elements: Iterable[Any]) -> Iterator[Any]:
    return iter(elements)


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
            # The ranges of one file go to many workers. A GroupByKey, not Reshuffle: the
            # DaskRunner runs Reshuffle as a no-op (transform_evaluator.py's NoOp).
            | "ByRange" >> beam.Map(_range_keyed)
            | "Spread" >> beam.GroupByKey()
            | "Ungroup" >> beam.FlatMapTuple(_ungrouped)
            | "Count" >> beam.ParDo(_CountRange(self.stat_options))
            | "Merge" >> beam.CombinePerKey(ShardCombineFn())
            | "Record" >> beam.ParDo(_MakeRecord(self.stat_options))
        )
