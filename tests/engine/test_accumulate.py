"""SPEC §3: distributions, computed here with a few obvious lines and compared exactly;
and the properties that must always hold (hypothesis): shard-and-merge equals whole,
counts add up, any line is kept or dropped and never crashes."""

from __future__ import annotations

import math
import pickle

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tunestats
from tunestats.config.options import Options
from tunestats.config.plan import make_plan
from tunestats.counting.accumulate import Accumulator, ValueCounts, bucket_edges
from tunestats.counting.blocks import process_block
from tunestats.io.lines import LineBlock


def median_of(values: list[int]) -> int:
    """SPEC §3: the value of rank ceil(n / 2)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) / 2)) - 1]


def vertex_percentile(values: list[int], q_percent: int) -> int:
    """SPEC §3: p5 / p95 are the value of rank floor(q * n) + 1, at most n."""
    ordered = sorted(values)
    rank = min(len(ordered), math.floor(q_percent * len(ordered) / 100) + 1)
    return ordered[rank - 1]


def obvious_buckets(values: list[int]) -> list[tuple[int, int, int]]:
    lo, hi = min(values), max(values)
    if lo == hi:
        return [(len(values), lo, hi)]
    from fractions import Fraction

    w = Fraction(hi - lo + 1, 6)
    lefts = [math.ceil(lo + i * w) for i in range(6)]
    rights = [lefts[i + 1] - 1 for i in range(5)] + [hi]
    result = []
    for left, right in zip(lefts, rights):
        count = sum(1 for v in values if left <= v <= right)
        if count:
            result.append((count, left, right))
    return result


def test_small_case_by_hand():
    vc = ValueCounts()
    vc.add(np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
    d = vc.distribution()
    assert (d.n, d.sum, d.min, d.max, d.mean) == (10, 55, 1, 10, 5.5)
    # ranks: median ceil(10/2) = 5th -> 5; p5 floor(0.5)+1 = 1st -> 1; p95 floor(9.5)+1 = 10th
    assert (d.median, d.p5, d.p95) == (5, 1, 10)
    # w = 10/6: lefts 1, ceil(2.67)=3, ceil(4.33)=5, 6, ceil(7.67)=8, ceil(9.33)=10
    assert d.buckets == [(2, 1, 2), (2, 3, 4), (1, 5, 5), (2, 6, 7), (2, 8, 9), (1, 10, 10)]


def test_percentile_ranks_where_q_times_n_is_whole():
    # n = 20: p5 is rank floor(1) + 1 = 2, p95 rank floor(19) + 1 = 20; median rank 10.
    vc = ValueCounts()
    vc.add(np.arange(1, 21) * 10)
    d = vc.distribution()
    assert (d.p5, d.median, d.p95) == (20, 100, 200)
    # n = 500, as in the published sft_train_data job: ranks 26, 250 and 476.
    vc = ValueCounts()
    vc.add(np.arange(1, 501))
    d = vc.distribution()
    assert (d.p5, d.median, d.p95) == (26, 250, 476)
    # n = 1: every rank is 1.
    vc = ValueCounts()
    vc.add(np.array([7]))
    d = vc.distribution()
    assert (d.p5, d.median, d.p95) == (7, 7, 7)


def test_even_median_is_not_a_midpoint():
    vc = ValueCounts()
    vc.add(np.array([414, 415]))
    assert vc.distribution().median == 414


def test_published_bucket_edges():
    # gemini-1.5-flash-002 squad, userInputTokenDistribution: min 54, max 602.
    assert bucket_edges(54, 602) == [
        (54, 145),
        (146, 236),
        (237, 328),
        (329, 419),
        (420, 511),
        (512, 602),
    ]
    assert bucket_edges(2, 2) == [(2, 2)]


def test_narrow_range_leaves_out_empty_buckets():
    vc = ValueCounts()
    vc.add(np.array([1, 2, 2, 3]))
    assert vc.distribution().buckets == [(1, 1, 1), (2, 2, 2), (1, 3, 3)]


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=300))
def test_distribution_matches_obvious_computation(values):
    vc = ValueCounts()
    vc.add(np.array(values, dtype=np.int64))
    d = vc.distribution()
    assert d.n == len(values)
    assert d.sum == sum(values)
    assert (d.min, d.max) == (min(values), max(values))
    assert d.mean == sum(values) / len(values)
    assert d.median == median_of(values)
    assert d.p5 == vertex_percentile(values, 5)
    assert d.p95 == vertex_percentile(values, 95)
    assert d.buckets == obvious_buckets(values)
    assert sum(count for count, _, _ in d.buckets) == len(values)


@given(
    st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=200),
    st.lists(st.integers(min_value=0, max_value=5000), max_size=200),
)
def test_value_counts_merge_equals_whole(a, b):
    whole, left, right = ValueCounts(), ValueCounts(), ValueCounts()
    whole.add(np.array(a + b, dtype=np.int64))
    left.add(np.array(a, dtype=np.int64))
    right.add(np.array(b, dtype=np.int64))
    right.merge(left)  # order does not matter
    assert right.distribution() == whole.distribution()


# --- whole pipeline: shards of a file ---------------------------------------------------------

GOOD = [
    b'{"contents": [{"role": "user", "parts": [{"text": "hello there"}]}, '
    b'{"role": "model", "parts": [{"text": "general kenobi"}]}]}',
    b'{"contents": [{"role": "user", "parts": [{"text": "\xe6\x97\xa5\xe6\x9c\xac"}]}, '
    b'{"role": "model", "parts": [{"text": "a b c d e f"}]}, {"role": "user", "parts": '
    b'[{"text": "x"}]}, {"role": "model", "parts": [{"text": "y z"}]}]}',
    b'{"systemInstruction": {"parts": [{"text": "sys"}]}, "contents": [{"role": "user", '
    b'"parts": [{"text": "q"}]}, {"role": "model", "parts": [{"text": "a"}]}]}',
    b'{"contents": [{"role": "user", "parts": [{"text": "' + b"long " * 40 + b'"}]}, '
    b'{"role": "model", "parts": [{"text": "ok"}]}]}',
    b"",
    b"   \r",
    b"{broken",
    b"[]",
    b'{"contents": [{"role": "user", "parts": [{"text": "no model"}]}]}',
    b"\xff\xfe bad utf8",
]

PLAN = make_plan(Options(format="gemini", tokenizer="cl100k_base", max_tokens_per_example=60))


def run_lines(lines: list[bytes], first_line: int = 1) -> Accumulator:
    acc = Accumulator()
    process_block(LineBlock(first_line, lines), "gemini", PLAN, acc)
    return acc


lines_strategy = st.lists(
    st.one_of(st.sampled_from(GOOD), st.binary(max_size=40)), min_size=1, max_size=40
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(lines_strategy, st.data())
def test_shard_and_merge_equals_whole(lines, data):
    lines = [line.replace(b"\n", b" ") for line in lines]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(lines)), max_size=3)))
    bounds = [0, *cuts, len(lines)]
    shards = [run_lines(lines[a:b], first_line=a + 1) for a, b in zip(bounds, bounds[1:]) if b > a]
    merged = Accumulator()
    for shard in reversed(shards):  # any order
        merged.merge(pickle.loads(pickle.dumps(shard)))  # shards travel between processes
    assert merged.result() == run_lines(lines).result()


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(lines_strategy)
def test_every_line_is_kept_dropped_or_blank(lines):
    lines = [line.replace(b"\n", b" ") for line in lines]
    result = run_lines(lines).result()
    assert result.examples + result.dropped + result.blank == len(lines) == result.lines
    assert len(result.dropped_lines) == len(result.dropped_reasons) == result.dropped
    for line, reason in zip(result.dropped_lines, result.dropped_reasons):
        assert reason.startswith(f"line {line}: ")
    if result.examples:
        assert result.input_tokens.n == result.output_tokens.n == result.examples
        assert result.billable_tokens == result.input_tokens.sum + result.output_tokens.sum


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_line_is_kept_or_dropped(line):
    line = line.replace(b"\n", b"")
    for fmt in ("gemini", "gemini-messages", "palm", "openai-chat", "prompt-completion"):
        acc = Accumulator()
        process_block(LineBlock(1, [line]), fmt, PLAN, acc)
        result = acc.result()
        assert result.examples + result.dropped + result.blank == 1


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: (
            st.lists(c)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "contents",
                        "role",
                        "parts",
                        "text",
                        "messages",
                        "content",
                        "inlineData",
                        "functionCall",
                        "tools",
                        "tool_calls",
                        "prompt",
                        "completion",
                    ]
                ),
                c,
            )
        ),
        max_leaves=30,
    )
)
def test_any_json_record_is_kept_or_dropped(value):
    import json

    line = json.dumps(value).encode()
    for fmt in ("gemini", "gemini-messages", "palm", "openai-chat", "prompt-completion"):
        acc = Accumulator()
        process_block(LineBlock(1, [line]), fmt, PLAN, acc)
        assert acc.examples + acc.dropped == 1


def test_dropped_list_keeps_first_thousand(jsonl):
    rows = [{"prompt": "p", "completion": "c"}] + ["bad"] * 1005
    stats = tunestats.compute(str(jsonl(rows)), tokenizer="cl100k_base")
    doc = stats.to_dict()["supervisedTuningDataStats"]
    assert doc["totalTruncatedExampleCount"] == "1005"
    assert doc["truncatedExampleIndices"] == [str(i) for i in range(2, 1002)]
    assert len(doc["droppedExampleReasons"]) == 1000


def test_merge_folds_every_field():
    """Every field of the Accumulator has a merge rule, and merge uses it (a new field cannot
    be left out of merge silently)."""
    import dataclasses

    rules = {"sum", "counts", "max", "first", "first by key", "tally"}
    for f in dataclasses.fields(Accumulator):
        assert f.metadata.get("merge") in rules, f.name
        mine, theirs = Accumulator(), Accumulator()
        if f.metadata["merge"] == "counts":
            getattr(theirs, f.name).add(np.array([5, 7]))
        elif f.metadata["merge"] == "first":
            setattr(theirs, f.name, [(3, "x")])
        elif f.metadata["merge"] == "first by key":
            setattr(theirs, f.name, {("not-json", ""): [(3, "x")]})
        elif f.metadata["merge"] == "tally":
            getattr(theirs, f.name).update({("not-json", ""): 2})
        else:
            setattr(theirs, f.name, 4)
        mine.merge(theirs)
        assert getattr(mine, f.name) == getattr(theirs, f.name), f.name
        assert getattr(mine, f.name) != getattr(Accumulator(), f.name), f.name
