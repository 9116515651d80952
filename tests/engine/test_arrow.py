"""The Arrow path gives exactly what the per-line path gives, drops and reasons included."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tunestats
from tests.conftest import CORPUS
from tests.support import gen_cases
from tunestats.config.options import Options
from tunestats.config.plan import make_plan
from tunestats.counting import blocks as counting
from tunestats.counting.accumulate import Accumulator
from tunestats.counting.blocks import process_block
from tunestats.formats.arrow import _WIDE_SPACES, code_points_and_spaces
from tunestats.io.lines import LineBlock

FORMATS = ("gemini", "gemini-messages", "palm", "openai-chat", "prompt-completion")


@pytest.fixture(autouse=True)
def arrow_for_every_block(monkeypatch):
    monkeypatch.setattr(counting, "ARROW_MIN_LINES", 1)


def test_whitespace_is_exactly_str_isspace():
    ascii_spaces = set(range(9, 14)) | set(range(28, 33))
    wide = {ord(b.decode()) for b in _WIDE_SPACES}
    expected = {c for c in range(0x110000) if chr(c).isspace()}
    assert ascii_spaces | wide == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(), max_size=30), st.integers(0, 5))
def test_code_points_and_spaces(texts, skip):
    array = pa.array(["x"] * skip + texts, type=pa.string()).slice(skip)
    lengths, spaces = code_points_and_spaces(array)
    assert lengths.tolist() == [len(t) for t in texts]
    assert spaces.tolist() == [sum(c.isspace() for c in t) for t in texts]


def both_paths(path, **options):
    one = tunestats.compute(str(path), tokenizer="cl100k_base", arrow=False, **options)
    two = tunestats.compute(str(path), tokenizer="cl100k_base", arrow=True, **options)
    return one, two


@pytest.mark.parametrize("task", ["supervised", "distillation"])
@pytest.mark.parametrize("path", sorted(CORPUS.glob("*/*.jsonl")), ids=lambda p: p.name)
def test_corpus(path, task):
    one, two = both_paths(path, task=task)
    assert one.to_dict() == two.to_dict()
    assert one.training.result == two.training.result


def generated(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cases")
    return gen_cases.random_cases(directory, range(80)) + gen_cases.special_cases(directory)


def test_generated_cases(tmp_path_factory):
    for case in generated(tmp_path_factory):
        one, two = both_paths(
            case.path,
            task=case.task,
            format=case.fmt,
            max_tokens_per_example=case.limit,
            epochs=case.epochs,
            batch_size=case.batch_size,
            media="skip",  # the cases' media objects do not exist
        )
        assert one.to_dict() == two.to_dict(), case.name
        assert one.training.result == two.training.result, case.name


# --- random blocks: valid records of every format and their mutations -------------------------

VALID = {
    "gemini": {
        "systemInstruction": {"role": "system", "parts": [{"text": "Be kind.\u3000"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi\u00a0there"}, {"text": ""}]},
            {"role": "model", "parts": [{"text": "Hello 👋 世界"}]},
        ],
    },
    "gemini-messages": {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q\n"},
            {"role": "model", "content": "a"},
        ]
    },
    "openai-chat": {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q"},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "a\t b"},
        ]
    },
    "palm": {"input_text": "in", "output_text": "out"},
    "prompt-completion": {"prompt": "p", "completion": "c"},
}


def mutations(value):
    """Records near a valid one: every key dropped, nulled, retyped, duplicated or added."""
    yield value
    if isinstance(value, dict):
        for key in value:
            for replacement in (None, 5, "x", [], {}, [None], [{}], "model", "system", "tool"):
                yield {**value, key: replacement}
            yield {k: v for k, v in value.items() if k != key}
            for inner in mutations(value[key]):
                yield {**value, key: inner}
        yield {**value, "extra": 1}
    elif isinstance(value, list):
        yield []
        for i, item in enumerate(value):
            yield value[:i] + value[i + 1 :]
            yield value[:i] + [item, item] + value[i + 1 :]
            for inner in mutations(item):
                yield value[:i] + [inner] + value[i + 1 :]


POOL = {
    fmt: [json.dumps(m, ensure_ascii=False).encode() for m in mutations(v)]
    for fmt, v in VALID.items()
}
EXTRA_LINES = [
    b"null",
    b"[]",
    b"{",
    b'{"a": 1} null',
    b'{"prompt": "\xff"}',
    b"",
    b"  ",
    b"1",
    # a record broken over two lines, and two records on one line
    b'{"messages": [',
    b'{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}',
    b'{"prompt": "a", "completion": "b"}{"prompt": "c", "completion": "d"}',
    b'{"contents": [{"role": "user", "parts": [{"text": "q"}]},',
    b'{"role": "model", "parts": [{"text": "a"}]}]}',
]


def test_broken_and_glued_records(jsonl):
    rows = [{"prompt": f"p{i}", "completion": "c"} for i in range(100)]
    rows[50] = '{"prompt": "p50",'
    rows[51] = '"completion": "c"}'
    rows[80] = '{"prompt": "p80", "completion": "c"}{"prompt": "p81", "completion": "c"}'
    one, two = both_paths(jsonl(rows))
    assert one.to_dict() == two.to_dict()
    assert two.training.result.dropped_lines == [51, 52, 81]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FORMATS), st.data(), st.booleans())
def test_random_blocks(fmt, data, distill):
    pool = POOL[fmt] + EXTRA_LINES + [POOL[other][0] for other in FORMATS]
    lines = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=25))
    results = []
    for arrow in (False, True):
        plan = make_plan(
            Options(
                tokenizer="cl100k_base",
                arrow=arrow,
                max_tokens_per_example=12,
                task="distillation" if distill else "supervised",
            )
        )
        acc = Accumulator()
        parsed = process_block(LineBlock(3, lines), fmt, plan, acc)
        results.append((parsed, acc.result()))
    assert results[0] == results[1]
