"""Report: from accumulated results to the TuningDataStats document (SPEC §6) and to text.

The document follows the proto3 JSON mapping: lowerCamelCase names, int64 as strings, doubles
as numbers, fields at their default value left out. Supervised runs give
``{"supervisedTuningDataStats": ...}``; distillation runs give
``{"distillationDataStats": {"trainingDatasetStats": ...}}`` with the DatasetDistribution types.

This is the last stage: it hands strings to the CLI (or dicts to API callers).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .accumulate import DatasetResult, Distribution, bucket_edges

if TYPE_CHECKING:
    from .pipeline import SourceStats, Stats


def _int64(value: int) -> str:
    return str(value)


def _prune(doc: dict[str, Any]) -> dict[str, Any]:
    """Leave out fields at their proto3 default: 0, "0", empty lists and messages, None."""
    return {k: v for k, v in doc.items() if v not in (0, 0.0, "0", None, [], {})}


def _distribution(d: Distribution | None, *, supervised: bool, billable: bool) -> dict | None:
    if d is None:
        return None
    doc: dict[str, Any] = {"sum": _int64(d.sum) if supervised else float(d.sum)}
    if supervised and billable:
        doc["billableSum"] = _int64(d.sum)  # SPEC §3: equal to sum for token distributions
    doc.update(
        min=float(d.min),
        max=float(d.max),
        mean=d.mean,
        median=float(d.median),
        p5=float(d.p5),
        p95=float(d.p95),
    )
    buckets = []
    for count, left, right in d.buckets:
        # SupervisedTuningDatasetDistribution.DatasetBucket.count is a double;
        # DatasetDistribution.DistributionBucket.count an int64.
        bucket = {
            "count": float(count) if supervised else _int64(count),
            "left": float(left),
            "right": float(right),
        }
        buckets.append(_prune(bucket))
    doc["buckets"] = buckets
    return _prune(doc)


def _step_count(result: DatasetResult, stats: Stats) -> int | None:
    if stats.epochs is None or stats.batch_size is None:
        return None
    return stats.epochs * math.ceil(result.examples / stats.batch_size)


def dataset_stats(result: DatasetResult, stats: Stats, training: bool = True) -> dict[str, Any]:
    """SupervisedTuningDataStats or DatasetStats (distillation) of one dataset; tuning steps
    are the training set's only (CHOICES.md)."""
    supervised = stats.task == "supervised"
    steps = _step_count(result, stats) if training else None
    doc: dict[str, Any] = {
        "tuningDatasetExampleCount": _int64(result.examples),
        "totalTuningCharacterCount": _int64(result.characters),
        "totalBillableCharacterCount": _int64(result.billable_characters),
        "totalBillableTokenCount": _int64(result.billable_tokens),
        "tuningStepCount": None if steps is None else _int64(steps),
        "userInputTokenDistribution": _distribution(
            result.input_tokens, supervised=supervised, billable=True
        ),
        "userOutputTokenDistribution": (
            _distribution(result.output_tokens, supervised=True, billable=True)
            if supervised
            else None
        ),
        "userMessagePerExampleDistribution": _distribution(
            result.messages, supervised=supervised, billable=False
        ),
        "userDatasetExamples": result.samples,
    }
    indices = [_int64(line) for line in result.dropped_lines]
    if supervised:
        doc["totalTruncatedExampleCount"] = _int64(result.dropped)
        doc["truncatedExampleIndices"] = indices
    else:
        doc["droppedExampleIndices"] = indices
    doc["droppedExampleReasons"] = result.dropped_reasons
    return _prune(doc)


def tuning_data_stats(stats: Stats, source: SourceStats) -> dict[str, Any]:
    """The TuningDataStats document of one source, ready to sit in a TuningJob resource."""
    inner = dataset_stats(source.result, stats, training=source is stats.training)
    if stats.task == "supervised":
        return {"supervisedTuningDataStats": inner}
    return {"distillationDataStats": {"trainingDatasetStats": inner}}


def dumps(doc: Any, indent: int | None = 2) -> str:
    return json.dumps(doc, indent=indent, ensure_ascii=False)


# --- text -----------------------------------------------------------------------------------

BARS = " ▁▂▃▄▅▆▇█"
ASCII_BARS = " .:-=+*#@"  # for a terminal whose encoding has no block characters


def _sparkline(buckets: list[tuple[int, int, int]], lo: int, hi: int, bars: str) -> str:
    """One character per bucket of SPEC §3 (empty buckets drawn as a space)."""
    counts = {left: count for count, left, _ in buckets}
    cells = [counts.get(left, 0) for left, right in bucket_edges(lo, hi) if right >= left]
    top = max(cells) or 1
    return "".join(bars[0 if c == 0 else max(1, round(c / top * 8))] for c in cells)


def _row(name: str, d: Distribution | None, bars: str) -> str:
    if d is None:
        return f"  {name:<18} -"
    return (
        f"  {name:<18} {d.sum:>12,} {d.min:>8,} {d.p5:>8,} {d.median:>8,} {d.mean:>10,.1f} "
        f"{d.p95:>8,} {d.max:>8,}  {_sparkline(d.buckets, d.min, d.max, bars)}"
    )


def text_report(
    stats: Stats, source: SourceStats, title: str, max_reasons: int = 20, bars: str = BARS
) -> str:
    r = source.result
    supervised = stats.task == "supervised"
    lines = [
        f"{title}: {source.uri}",
        f"  format {source.format}, task {stats.task}, model {stats.model}",
        f"  lines {r.lines:,}: kept {r.examples:,}, dropped {r.dropped:,}, blank {r.blank:,}",
        f"  characters {r.characters:,} (billable {r.billable_characters:,})",
        "",
        f"  {'':<18} {'sum':>12} {'min':>8} {'p5':>8} {'median':>8} {'mean':>10} "
        f"{'p95':>8} {'max':>8}  histogram",
        _row("input tokens", r.input_tokens, bars),
    ]
    if supervised:
        lines.append(_row("output tokens", r.output_tokens, bars))
    lines.append(_row("messages/example", r.messages, bars))
    lines.append("")
    training = source is stats.training
    billable = f"  billable tokens {r.billable_tokens:,} per epoch"
    if not training:
        pass  # tuning trains on the training set only: its epochs multiply nothing here
    elif stats.epochs:
        billable += f"; x {stats.epochs} epochs = {r.billable_tokens * stats.epochs:,}"
    else:
        billable += " (give --epochs N for the total)"
    lines.append(billable)
    steps = _step_count(r, stats) if training else None
    if steps is not None:
        lines.append(f"  tuning steps {steps:,}")
    if r.images or r.uncounted_media:
        lines.append(
            f"  media: {r.images:,} images at 258 tokens each; "
            f"{r.uncounted_media:,} other media parts not counted"
        )
    if r.dropped:
        lines.append("")
        lines.append(f"  dropped examples ({r.dropped:,}):")
        lines.extend(f"    {reason}" for reason in r.dropped_reasons[:max_reasons])
        hidden = r.dropped - min(len(r.dropped_reasons), max_reasons)
        if hidden:
            lines.append(f"    ... and {hidden:,} more (all listed indices with --json)")
    return "\n".join(lines)


def tokenizer_line(stats: Stats) -> str:
    """One line: which tokenizer counted, whether that is exact, and what the notes add."""
    if stats.exact:
        return "; ".join([f"tokenizer: {stats.tokenizer} (exact for {stats.model})", *stats.notes])
    if not stats.notes:
        return f"tokenizer: {stats.tokenizer}: token counts are ESTIMATES for {stats.model}"
    # The note says why the counts are estimates, and what would make them exact.
    return f"tokenizer: {stats.tokenizer}: " + "; ".join(stats.notes).replace(
        "estimates", "ESTIMATES", 1
    )
