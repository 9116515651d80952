"""The memo of repeated texts changes nothing but speed, and stays within its memory bound."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import tunestats
from tests.conftest import CORPUS
from tunestats.tokenizers import MemoCounter, OpenAIEncoding

ENCODING = OpenAIEncoding("cl100k_base")


class Recorder:
    """A tokenizer that remembers what it was asked to count."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def count(self, texts):
        self.seen += texts
        return ENCODING.count(texts)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.sampled_from(["", "a b", "x" * 70, "y " * 40, "日本語" * 30, "z"]), max_size=12
        ),
        max_size=6,
    ),
    st.integers(70, 400),
)
def test_memo_counts_like_the_tokenizer(batches, max_chars):
    memo = MemoCounter(ENCODING, min_chars=64, max_chars=max_chars)
    for texts in batches:
        assert memo.count(texts).tolist() == ENCODING.count(texts).tolist()
        assert memo._chars <= max_chars


def test_long_repeats_are_counted_once():
    system = "You are a careful assistant. " * 10
    inner = Recorder()
    memo = MemoCounter(inner)
    memo.count([system, "q1", system])
    memo.count([system, "q2"])
    assert inner.seen.count(system) == 1
    assert inner.seen.count("q1") == 1


def test_memo_on_and_off_agree(jsonl):
    system = {"parts": [{"text": "Shared instructions. " * 20}]}
    rows = [
        {
            "systemInstruction": system,
            "contents": [
                {"role": "user", "parts": [{"text": f"question {i}"}]},
                {"role": "model", "parts": [{"text": "answer " * (i % 9)}]},
            ],
        }
        for i in range(200)
    ]
    path = str(jsonl(rows))
    on = tunestats.compute(path, tokenizer="cl100k_base", memo=True)
    off = tunestats.compute(path, tokenizer="cl100k_base", memo=False)
    assert on.to_dict() == off.to_dict()
    for corpus_file in sorted(CORPUS.glob("*/*.jsonl")):
        on = tunestats.compute(str(corpus_file), tokenizer="cl100k_base", memo=True)
        off = tunestats.compute(str(corpus_file), tokenizer="cl100k_base", memo=False)
        assert on.training.result == off.training.result
