"""Counting: a block of lines -> an ExampleBatch -> token counts -> an Accumulator.

Each block is parsed (``formats``: the Arrow path, then line by line for the rest; blank and
invalid lines go straight to the accumulator), its texts are counted (the memo and the
tokenizer), the too-long rule is applied and the kept examples are accumulated. Counting runs
on a thread of its own while the next block is parsed.

Hands to the caller: an :class:`~tunestats.counting.accumulate.Accumulator` (which counts the
JSON lines too); to a :class:`~tunestats.io.outputs.LineSink`, if given, each block's kept and
dropped lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..config.plan import Plan
from ..formats import Drop, Example, is_blank, parse_example
from ..formats import sample_contents as _sample_contents
from ..formats.blocks import arrow_batch
from ..formats.common import escape_hidden
from ..formats.examples import ExampleBatch, concat, from_examples
from ..io.lines import TOO_LONG_LINE, LineBlock, LongLine
from ..io.outputs import LineSink
from ..media import MediaResult
from ..tokenizers import Tokenizer
from .accumulate import Accumulator

TOO_LONG = "too-long"  # the drop code of the "too long" rule (tunestats.formats.drops.KINDS)
# Blocks with fewer non-blank lines go through the per-line path: Arrow's set-up costs more.
ARROW_MIN_LINES = 64


def accumulate_blocks(
    blocks: Iterable[LineBlock],
    fmt: str,
    plan: Plan,
    report: Callable[..., None] | None = None,
    sink: LineSink | None = None,
) -> Accumulator:
    """Feed blocks into a new Accumulator.

    With a ``sink``, each block's kept and dropped lines go to it once they are decided, in
    the order of the source.

    A block is counted on a thread of its own while the next one is parsed: the tokenizers
    release the GIL while they count, so parsing (Python) and counting overlap on two cores.
    One block is in flight at a time; the accumulator does not depend on the order in which
    lines reach it (drops and samples are kept sorted).
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    acc = Accumulator()
    pending: tuple[ParsedBlock, Future, int] | None = None

    def finish(block: ParsedBlock, counted: Future, nbytes: int) -> None:
        seen = acc.examples + acc.dropped
        kept, too_long = finish_block(block, counted.result(), fmt, plan, acc)
        if sink is not None:
            sink.block(block.numbers, block.raws, kept, block.drops + too_long)
        if report is not None:
            examples = acc.examples + acc.dropped - seen + len(block.drops)
            report(nbytes, examples, counted.result()[3].reads)

    with ThreadPoolExecutor(1, thread_name_prefix="tunestats-count") as counting:
        for block in blocks:
            prepared = parse_block(block, fmt, plan, acc)
            counted = counting.submit(count_block, prepared, plan)
            if pending is not None:
                finish(*pending)
            pending = (prepared, counted, block.nbytes)
        if pending is not None:
            finish(*pending)
    return acc


@dataclass
class ParsedBlock:
    """A block after parsing: the examples to count, and its lines (to show the samples)."""

    batch: ExampleBatch
    numbers: list[int]  # the line number of each non-blank line
    raws: list[bytes]  # those lines
    parsed: int  # how many of them were JSON
    drops: list[tuple[int, str, str]]  # (line, problem, code) of the lines dropped while
    # parsing (already in the accumulator)

    def raw_of(self, line: int) -> bytes:
        return self.raws[self.numbers.index(line)]


def process_block(block: LineBlock, fmt: str, plan: Plan, acc: Accumulator) -> int:
    """Parse, validate, count and accumulate one block; return how many lines were JSON."""
    prepared = parse_block(block, fmt, plan, acc)
    finish_block(prepared, count_block(prepared, plan), fmt, plan, acc)
    return prepared.parsed


def parse_block(block: LineBlock, fmt: str, plan: Plan, acc: Accumulator) -> ParsedBlock:
    """Parse and validate one block: blank and invalid lines go to ``acc`` now, the valid
    examples come back to be counted."""
    numbers: list[int] = []
    raws: list[bytes] = []
    acc.bytes += block.nbytes
    for offset, raw in enumerate(block.lines):
        if is_blank(raw) and not isinstance(raw, LongLine):
            acc.add_blank(1)
        else:
            numbers.append(block.first_line + offset)
            raws.append(raw)
    if block.lines:
        acc.see_line(block.first_line + len(block.lines) - 1)
    if not raws:
        return ParsedBlock(from_examples([]), numbers, raws, 0, [])
    line_numbers = np.asarray(numbers, dtype=np.int64)
    fast = None
    if plan.options.arrow and len(raws) >= ARROW_MIN_LINES:
        fast = arrow_batch(raws, line_numbers, fmt, plan.distill)
    if fast is None:
        fast_batch, redo = None, range(len(raws))
    else:
        fast_batch, redo = fast[0], fast[1].tolist()
    examples: list[Example] = []
    parsed = len(raws) - len(redo)  # Arrow parsed every line of a block it took
    drops: list[tuple[int, str, str]] = []
    for i in redo:  # a LongLine is alone in its block: never one of Arrow's
        raw = raws[i]
        if isinstance(raw, LongLine):  # never read whole: dropped for its length
            outcome: Example | Drop = Drop(raw.problem, False, TOO_LONG_LINE)
        else:
            outcome = parse_example(raw, numbers[i], fmt, plan.distill)
        if isinstance(outcome, Drop):
            acc.add_dropped(numbers[i], outcome.problem, outcome.code, outcome.path)
            drops.append((numbers[i], outcome.problem, outcome.code))
            parsed += outcome.json
        else:
            examples.append(outcome)
            parsed += 1
    batch = concat([b for b in (fast_batch, from_examples(examples)) if b is not None])
    # SPEC §8's line facts, of every valid record: the Arrow path takes only records with no
    # generationConfig (an unexpected key sends a row to the per-line path), hence "".
    if fast_batch is not None and len(fast_batch):
        acc.see_resolution("", int(fast_batch.lines[0]))
    for example in examples:
        acc.see_resolution(example.resolution, example.line)
        for notice in example.notices:
            acc.see_notice(notice, example.line)
    plan.media.prefetch(batch.media)  # reads start now, while the block waits to be counted
    acc.json_lines += parsed
    return ParsedBlock(batch, numbers, raws, parsed, drops)


Counted = tuple[np.ndarray, np.ndarray, np.ndarray, MediaResult]


def count_block(block: ParsedBlock, plan: Plan) -> Counted:
    """Per-example input (media included) and output tokens of a parsed block, the tokens
    of each example's longest output text, and what the media stage found."""
    inputs, outputs, longest = token_totals(block.batch, plan.counter)
    batch = block.batch
    media = plan.media.evaluate(batch.media, batch.media_owner, len(batch))
    return inputs + media.tokens, outputs, longest, media


def finish_block(
    block: ParsedBlock,
    counted: Counted,
    fmt: str,
    plan: Plan,
    acc: Accumulator,
) -> tuple[np.ndarray, list[tuple[int, str, str]]]:
    """Apply the too-long rule to a counted block and accumulate the kept examples; return
    the kept lines' numbers and the (line, problem, code) of the examples too long."""
    batch = block.batch
    if not len(batch):
        return batch.lines, []
    inputs, outputs, longest, media = counted
    drops = []
    media_dropped = np.zeros(len(batch), dtype=bool)
    for i, (code, path, problem) in sorted(media.drops.items()):
        line = int(batch.lines[i])
        problem = escape_hidden(problem)  # it quotes the part's URI as the record wrote it
        acc.add_dropped(line, problem, code, path)
        drops.append((line, problem, code))
        media_dropped[i] = True
    too_long = (inputs + outputs > plan.limit) & ~media_dropped
    for i in np.flatnonzero(too_long).tolist():
        line = int(batch.lines[i])
        problem = _too_long(int(inputs[i]), int(outputs[i]), plan)
        acc.add_dropped(line, problem, TOO_LONG)
        drops.append((line, problem, TOO_LONG))
    drops.sort()
    keep = ~(too_long | media_dropped)
    acc.update_kept(
        inputs[keep],
        outputs[keep],
        batch.messages[keep],
        int(batch.characters[keep].sum()),
        int(batch.billable_characters[keep].sum()),
        int(batch.images[keep].sum()),
        int(batch.other_media[keep].sum()),
        int(np.count_nonzero((batch.images + batch.other_media)[keep])),
        longest[keep],
    )
    acc.media_tokens += int(media.tokens[keep].sum())
    for part in media.parts:
        if keep[part.example]:
            acc.add_media_part(part.status, part.reason, int(batch.lines[part.example]), part.uri)
    for line in batch.lines[keep].tolist():  # lines increase: stop at the first not wanted
        if not acc.wants_sample(line):
            break
        example = parse_example(block.raw_of(line), line, fmt, plan.distill)
        assert isinstance(example, Example)  # it was kept once already
        acc.add_sample(line, _sample_contents(example, fmt))
    return batch.lines[keep], drops


def token_totals(
    batch: ExampleBatch, tokenizer: Tokenizer
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-example input and output token sums, and the largest count of one output text,
    tokenizing all texts of the batch at once."""
    n = len(batch)
    longest = np.zeros(n, dtype=np.int64)
    if not batch.texts:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), longest
    counts = tokenizer.count(batch.texts)
    out = batch.output
    # bincount sums in float64: exact, as every total stays far below 2**53.
    inputs = np.bincount(batch.owner[~out], weights=counts[~out], minlength=n)
    outputs = np.bincount(batch.owner[out], weights=counts[out], minlength=n)
    # SPEC §8: gemini-1.0-pro-002 takes model messages of at most 8,192 tokens each (in
    # gemini-messages, one message is one text).
    np.maximum.at(longest, batch.owner[out], np.asarray(counts[out], dtype=np.int64))
    return inputs.astype(np.int64), outputs.astype(np.int64), longest


def _too_long(inputs: int, outputs: int, plan: Plan) -> str:
    if plan.options.max_tokens_per_example is not None:
        limit = f"the limit (--max-tokens-per-example) is {plan.limit:,}"
    else:
        limit = f"the limit for {plan.profile.name} is {plan.limit:,}"
    return (
        f"example has {inputs + outputs:,} tokens ({inputs:,} input + {outputs:,} output, "
        f"{plan.choice.tokenizer.name}); {limit}"
    )
