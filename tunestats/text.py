"""Text: the terminal report of a run, and its tokenizer line.

From :class:`~tunestats.results.Stats` to lines of text: the totals, one row per distribution
with a histogram of Vertex's buckets (block characters, or ASCII ones), the dropped examples
with reasons. The last stage: it hands strings to the CLI.
"""

from __future__ import annotations

from .accumulate import Distribution, bucket_edges
from .report import step_count
from .results import SourceStats, Stats

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
    steps = step_count(r.examples, stats.epochs, stats.batch_size) if training else None
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
