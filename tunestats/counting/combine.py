"""Combine: the one protocol that joins the shards of a source, as TFDV's combiners do.

A shard is the Accumulator of one byte range, its lines numbered from 1, so a shard can only
join its neighbour: the one before shifts it by its own line count. :class:`Combined` keeps
contiguous segments and joins them as the gaps fill, so shards may arrive in any order and any
grouping: ``create``, ``add`` (one shard), ``merge`` (two partial combinations), ``extract``
(the whole). The in-process run, the local batch and the Beam CombineFn all drive it.

Hands on: the Accumulator of the whole source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .accumulate import Accumulator


@dataclass
class Segment:
    """Shards ``first``..``last`` (their indices in file order), joined."""

    first: int
    last: int
    acc: Accumulator


@dataclass
class Combined:
    """Segments sorted by ``first``, none touching another (they are joined when they do)."""

    segments: list[Segment] = field(default_factory=list)


def create() -> Combined:
    return Combined()


def add(combined: Combined, index: int, acc: Accumulator) -> Combined:
    """Add the shard ``index`` (its accumulator is joined in place: pass one of your own)."""
    _insert(combined, [Segment(index, index, acc)])
    return combined


def merge(combined: Combined, other: Combined) -> Combined:
    """Add the segments of ``other`` to ``combined`` (``other`` is used up)."""
    _insert(combined, other.segments)
    return combined


def extract(combined: Combined, count: int) -> Accumulator:
    """The whole source once all ``count`` shards are in; RuntimeError if some are missing."""
    spans = [(s.first, s.last) for s in combined.segments]
    if spans != [(0, count - 1)]:
        raise RuntimeError(f"shards {spans} of 0..{count - 1} arrived; shards were lost")
    return combined.segments[0].acc


def in_order(shards: Iterable[Accumulator]) -> Accumulator:
    """The whole of shards given in file order (the common case: one call)."""
    combined, count = create(), 0
    for acc in shards:
        add(combined, count, acc)
        count += 1
    if count == 0:
        return Accumulator()
    return extract(combined, count)


def _insert(combined: Combined, segments: list[Segment]) -> None:
    """Add segments the combination owns; join each to a neighbour that is now adjacent."""
    joined: list[Segment] = []
    for segment in sorted(combined.segments + segments, key=lambda s: s.first):
        if joined and segment.first <= joined[-1].last:
            raise ValueError(f"shard {segment.first} arrived twice")
        if joined and segment.first == joined[-1].last + 1:
            joined[-1] = _join(joined[-1], segment)
        else:
            joined.append(segment)
    combined.segments = joined


def _join(before: Segment, after: Segment) -> Segment:
    acc = before.acc.merge(after.acc.shift(before.acc.last_line))
    return Segment(before.first, after.last, acc)
