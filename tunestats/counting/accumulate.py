"""Accumulate: exact, mergeable statistics of one dataset (SPEC §3, §4, §5).

Per-example integer columns go in; the state is a count per distinct value (token counts are
integers, so value counts give exact order statistics in small memory and merge by adding),
plus integer totals, the first dropped lines with their reasons and the first sample examples.
``a.merge(b)`` of two shards gives, to the bit, the result of the whole, whatever the order:
every part of the state is either a sum or "the first k by line number".

Hands to the report: :class:`DatasetResult` (plain numbers) via :meth:`Accumulator.result`.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..formats.drops import path_pattern

MAX_DROPPED_LISTED = 1000  # SPEC §4
MAX_SAMPLES = 3  # SPEC §5
MAX_GROUP_EXAMPLES = 3  # the first lines shown for each kind of drop


class ValueCounts:
    """A multiset of non-negative integers: exact quantiles, buckets, sums; merges by adding."""

    __slots__ = ("counts",)

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: Counter[int] = Counter(counts or {})

    def add(self, values: np.ndarray) -> None:
        if len(values) == 0:
            return
        distinct, times = np.unique(values, return_counts=True)
        counts = self.counts
        for value, n in zip(distinct.tolist(), times.tolist()):
            counts[value] += n

    def merge(self, other: ValueCounts) -> None:
        self.counts.update(other.counts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValueCounts) and self.counts == other.counts

    def distribution(self) -> Distribution | None:
        if not self.counts:
            return None
        values = sorted(self.counts)
        cumulative = np.cumsum([self.counts[v] for v in values]).tolist()
        n = cumulative[-1]
        total = sum(v * c for v, c in self.counts.items())

        def value_of_rank(r: int) -> int:  # 1-based rank in the sorted population
            return values[bisect.bisect_left(cumulative, min(max(1, r), n))]

        # SPEC §3, in integers so that no float rounding moves a rank: the median has rank
        # ceil(n / 2); p5 and p95 rank floor(q * n) + 1, as the published Vertex job shows.
        return Distribution(
            n=n,
            sum=total,
            min=values[0],
            max=values[-1],
            mean=total / n,
            median=value_of_rank(-(-n // 2)),
            p5=value_of_rank(n * 5 // 100 + 1),
            p95=value_of_rank(n * 95 // 100 + 1),
            buckets=_buckets(values, cumulative),
        )


def bucket_edges(lo: int, hi: int) -> list[tuple[int, int]]:
    """SPEC §3: six buckets of width (hi - lo + 1) / 6 with integer edges (some may be empty)."""
    if lo == hi:
        return [(lo, hi)]
    span = hi - lo + 1
    lefts = [lo + -(-i * span // 6) for i in range(6)]  # ceil(lo + i*w), exactly
    rights = [left - 1 for left in lefts[1:]] + [hi]
    return list(zip(lefts, rights))


def _buckets(values: list[int], cumulative: list[int]) -> list[tuple[int, int, int]]:
    """(count, left, right) of the non-empty buckets."""
    result = []
    for left, right in bucket_edges(values[0], values[-1]):
        if right < left:
            continue
        below = bisect.bisect_left(values, left)
        upto = bisect.bisect_right(values, right)
        count = (cumulative[upto - 1] if upto else 0) - (cumulative[below - 1] if below else 0)
        if count:
            result.append((count, left, right))
    return result


@dataclass(frozen=True)
class Distribution:
    n: int
    sum: int
    min: int
    max: int
    mean: float
    median: int
    p5: int
    p95: int
    buckets: list[tuple[int, int, int]]  # (count, left, right), empty buckets left out


@dataclass(frozen=True)
class DropGroup:
    """The dropped lines of one kind: a code of ``tunestats.formats.drops.KINDS`` at one JSON path
    (indices as ``[*]``; empty for the whole line); how many, and the first with reasons."""

    code: str
    count: int
    path: str
    examples: list[tuple[int, str]]  # (line, reason), the first MAX_GROUP_EXAMPLES


def reason(line: int, problem: str) -> str:
    """A dropped example's reason as reported: the line, then what is wrong there."""
    return f"line {line}: {problem}"


@dataclass(frozen=True)
class UncountedMedia:
    """Media parts of kept examples whose tokens are not counted, for one reason."""

    status: str  # "not read" (the object could not be read) or "not measured"
    reason: str  # "permission denied", "install tunestats[media] to measure .webm video"...
    count: int
    first: list[tuple[int, str]]  # (line, object), the first MAX_GROUP_EXAMPLES


@dataclass(frozen=True)
class MediaSummary:
    """SPEC §9 over the kept examples: media tokens, and every part's status."""

    tokens: int = 0
    parts: dict[str, int] = field(default_factory=dict)  # status: parts
    uncounted: list[UncountedMedia] = field(default_factory=list)  # most parts first

    @property
    def total(self) -> int:
        return sum(self.parts.values())


@dataclass(frozen=True)
class DatasetResult:
    """Everything the report needs about one dataset, as plain numbers and lists."""

    examples: int
    input_tokens: Distribution | None
    output_tokens: Distribution | None
    messages: Distribution | None
    characters: int
    billable_characters: int
    billable_tokens: int
    images: int  # image parts of the kept examples
    uncounted_media: int  # their audio, video and PDF parts (a name from before SPEC §9)
    dropped: int
    dropped_lines: list[int]
    dropped_reasons: list[str]
    drop_groups: list[DropGroup]  # by kind, most lines first (then by code and path)
    samples: list[dict[str, Any]]
    lines: int
    blank: int
    media_examples: int  # kept examples with at least one media part
    longest_output: dict[int, int]  # tokens of an example's longest output text: examples
    bytes: int  # the lines' bytes, decompressed, each with its newline
    media: MediaSummary = field(default_factory=lambda: MediaSummary())
    resolutions: dict[str, int] = field(default_factory=dict)  # value: its first line
    notices: dict[str, int] = field(default_factory=dict)  # readiness.NOTICES key: first line

    @property
    def dropped_by_code(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for group in self.drop_groups:
            counts[group.code] = counts.get(group.code, 0) + group.count
        return counts


def _first(items: list, item: tuple, limit: int) -> None:
    """Keep ``items`` the first ``limit`` by line (item[0]) with ``item`` added."""
    if len(items) < limit or item[0] < items[-1][0]:
        bisect.insort(items, item, key=lambda i: i[0])
        del items[limit:]


def _merge_counts(mine: ValueCounts, theirs: ValueCounts, _: Any) -> ValueCounts:
    mine.merge(theirs)
    return mine


def _merge_first(mine: list, theirs: list, f: Any) -> list:
    # Shards hold disjoint lines, so the line alone orders the items.
    return sorted(mine + theirs, key=lambda item: item[0])[: f.metadata["limit"]]


def _merge_first_by_key(mine: dict, theirs: dict, f: Any) -> dict:
    for key, items in theirs.items():
        mine[key] = _merge_first(mine.get(key, []), items, f)
    return mine


_MERGES: dict[str, Callable[[Any, Any, Any], Any]] = {
    "sum": lambda mine, theirs, _: mine + theirs,
    "max": lambda mine, theirs, _: max(mine, theirs),
    "counts": _merge_counts,
    "first": _merge_first,
    "first by key": _merge_first_by_key,
    "tally": lambda mine, theirs, _: mine + theirs,  # Counters of codes
}


@dataclass
class Accumulator:
    """Exact statistics of one dataset; ``update_*`` with batches, ``merge`` shards."""

    # Each field says how two shards' values merge (``merge`` folds over the fields, so a new
    # field cannot be forgotten there): "sum", "counts" (ValueCounts), "tally" (a Counter),
    # "max", "first" (the first ``limit`` items of two sorted lists, by line) or "first by key"
    # (the same for each key of a dict of such lists).
    input_tokens: ValueCounts = field(default_factory=ValueCounts, metadata={"merge": "counts"})
    output_tokens: ValueCounts = field(default_factory=ValueCounts, metadata={"merge": "counts"})
    messages: ValueCounts = field(default_factory=ValueCounts, metadata={"merge": "counts"})
    # The tokens of each kept example's longest output text (SPEC §8's per-message limit).
    longest_output: ValueCounts = field(default_factory=ValueCounts, metadata={"merge": "counts"})
    examples: int = field(default=0, metadata={"merge": "sum"})
    characters: int = field(default=0, metadata={"merge": "sum"})
    billable_characters: int = field(default=0, metadata={"merge": "sum"})
    images: int = field(default=0, metadata={"merge": "sum"})
    # The kept examples' other media parts (audio, video, PDF; named before SPEC §9 counted
    # their tokens: media tokens and statuses are in the media_* fields below).
    uncounted_media: int = field(default=0, metadata={"merge": "sum"})
    blank: int = field(default=0, metadata={"merge": "sum"})
    dropped: int = field(default=0, metadata={"merge": "sum"})
    # (line, problem), sorted by line, at most MAX_DROPPED_LISTED; the reason is
    # "line N: problem", written at the end so that shards can renumber their lines.
    dropped_first: list[tuple[int, str]] = field(
        default_factory=list, metadata={"merge": "first", "limit": MAX_DROPPED_LISTED}
    )
    # Every drop's kind, (code, JSON path with indices as [*]): a count per kind, and the
    # first (line, problem) of each.
    drop_kinds: Counter[tuple[str, str]] = field(
        default_factory=Counter, metadata={"merge": "tally"}
    )
    drop_examples: dict[tuple[str, str], list[tuple[int, str]]] = field(
        default_factory=dict, metadata={"merge": "first by key", "limit": MAX_GROUP_EXAMPLES}
    )
    media_examples: int = field(default=0, metadata={"merge": "sum"})
    # SPEC §9: media tokens of the kept examples; their media parts by status ("measured",
    # "skipped", "not read", "not measured"), and of those not counted, a count and the
    # first (line, object) per reason.
    media_tokens: int = field(default=0, metadata={"merge": "sum"})
    media_parts: Counter[str] = field(default_factory=Counter, metadata={"merge": "tally"})
    media_uncounted: Counter[tuple[str, str]] = field(
        default_factory=Counter, metadata={"merge": "tally"}
    )
    media_uncounted_first: dict[tuple[str, str], list[tuple[int, str]]] = field(
        default_factory=dict, metadata={"merge": "first by key", "limit": MAX_GROUP_EXAMPLES}
    )
    # SPEC §8: the first line of each generationConfig.mediaResolution value ("": absent), and
    # of each thing a job is warned about (readiness.NOTICES), over the valid records.
    resolutions: dict[str, list[tuple[int]]] = field(
        default_factory=dict, metadata={"merge": "first by key", "limit": 1}
    )
    notices: dict[str, list[tuple[int]]] = field(
        default_factory=dict, metadata={"merge": "first by key", "limit": 1}
    )
    bytes: int = field(default=0, metadata={"merge": "sum"})
    # Lines that are JSON values, kept or dropped: a source with none is not JSONL.
    json_lines: int = field(default=0, metadata={"merge": "sum"})
    # (line, contents), sorted by line, at most MAX_SAMPLES
    samples: list[tuple[int, list[dict[str, Any]]]] = field(
        default_factory=list, metadata={"merge": "first", "limit": MAX_SAMPLES}
    )
    # The highest line number seen (kept, dropped or blank): the source's line count.
    last_line: int = field(default=0, metadata={"merge": "max"})

    def update_kept(
        self,
        input_tokens: np.ndarray,
        output_tokens: np.ndarray,
        messages: np.ndarray,
        characters: int,
        billable_characters: int,
        images: int,
        uncounted_media: int,
        media_examples: int = 0,
        longest_output: np.ndarray | None = None,
    ) -> None:
        self.input_tokens.add(input_tokens)
        self.output_tokens.add(output_tokens)
        self.messages.add(messages)
        self.examples += len(messages)
        self.characters += characters
        self.billable_characters += billable_characters
        self.images += images
        self.uncounted_media += uncounted_media
        self.media_examples += media_examples
        if longest_output is not None:
            self.longest_output.add(longest_output)

    def add_dropped(self, line: int, problem: str, code: str, path: str = "") -> None:
        self.dropped += 1
        _first(self.dropped_first, (line, problem), MAX_DROPPED_LISTED)
        kind = (code, path_pattern(path))
        self.drop_kinds[kind] += 1
        _first(self.drop_examples.setdefault(kind, []), (line, problem), MAX_GROUP_EXAMPLES)

    def add_media_part(self, status: str, reason: str, line: int, uri: str) -> None:
        self.media_parts[status] += 1
        if status in ("not read", "not measured"):
            key = (status, reason)
            self.media_uncounted[key] += 1
            _first(self.media_uncounted_first.setdefault(key, []), (line, uri), MAX_GROUP_EXAMPLES)

    def see_resolution(self, value: str, line: int) -> None:
        _first(self.resolutions.setdefault(value, []), (line,), 1)

    def see_notice(self, key: str, line: int) -> None:
        _first(self.notices.setdefault(key, []), (line,), 1)

    def wants_sample(self, line: int) -> bool:
        return len(self.samples) < MAX_SAMPLES or line < self.samples[-1][0]

    def add_sample(self, line: int, contents: list[dict[str, Any]]) -> None:
        bisect.insort(self.samples, (line, contents), key=lambda s: s[0])
        del self.samples[MAX_SAMPLES:]

    def add_blank(self, n: int) -> None:
        self.blank += n

    def see_line(self, line: int) -> None:
        self.last_line = max(self.last_line, line)

    def shift(self, lines: int) -> Accumulator:
        """Renumber: a shard read from the middle of a source counted its lines from 1."""
        self.dropped_first = [(line + lines, problem) for line, problem in self.dropped_first]
        self.samples = [(line + lines, contents) for line, contents in self.samples]
        self.drop_examples = {
            kind: [(line + lines, problem) for line, problem in group]
            for kind, group in self.drop_examples.items()
        }
        self.media_uncounted_first = {
            key: [(line + lines, uri) for line, uri in group]
            for key, group in self.media_uncounted_first.items()
        }
        self.resolutions = {k: [(v[0][0] + lines,)] for k, v in self.resolutions.items()}
        self.notices = {k: [(v[0][0] + lines,)] for k, v in self.notices.items()}
        self.last_line += lines
        return self

    def merge(self, other: Accumulator) -> Accumulator:
        """Fold ``other`` (a disjoint shard of the same dataset) into this one; return self."""
        for f in fields(self):
            merged = _MERGES[f.metadata["merge"]](getattr(self, f.name), getattr(other, f.name), f)
            setattr(self, f.name, merged)
        return self

    def result(self) -> DatasetResult:
        inputs = self.input_tokens.distribution()
        outputs = self.output_tokens.distribution()
        return DatasetResult(
            examples=self.examples,
            input_tokens=inputs,
            output_tokens=outputs,
            messages=self.messages.distribution(),
            characters=self.characters,
            billable_characters=self.billable_characters,
            billable_tokens=(inputs.sum if inputs else 0) + (outputs.sum if outputs else 0),
            images=self.images,
            uncounted_media=self.uncounted_media,
            dropped=self.dropped,
            dropped_lines=[line for line, _ in self.dropped_first],
            dropped_reasons=[reason(line, problem) for line, problem in self.dropped_first],
            drop_groups=self._drop_groups(),
            samples=[content for _, contents in self.samples for content in contents],
            lines=self.last_line,
            blank=self.blank,
            media_examples=self.media_examples,
            media=MediaSummary(
                tokens=self.media_tokens,
                parts=dict(self.media_parts),
                uncounted=[
                    UncountedMedia(status, why, count, self.media_uncounted_first[status, why])
                    for (status, why), count in sorted(
                        self.media_uncounted.items(), key=lambda item: (-item[1], item[0])
                    )
                ],
            ),
            resolutions={k: v[0][0] for k, v in sorted(self.resolutions.items())},
            notices={k: v[0][0] for k, v in sorted(self.notices.items())},
            longest_output=dict(self.longest_output.counts),
            bytes=self.bytes,
        )

    def _drop_groups(self) -> list[DropGroup]:
        order = sorted(self.drop_kinds.items(), key=lambda item: (-item[1], item[0]))
        return [
            DropGroup(
                code,
                count,
                path,
                [(line, reason(line, problem)) for line, problem in self.drop_examples[code, path]],
            )
            for (code, path), count in order
        ]
