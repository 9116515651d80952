"""Splitting one source by byte ranges across processes gives the same statistics, bit for bit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tunestats
from tests.conftest import CORPUS
from tunestats.io.lines import read_blocks
from tunestats.io.sources import byte_ranges

FILES = sorted(CORPUS.glob("*/*.jsonl"))


def lines_in(path, start=0, end=None) -> list[bytes]:
    return [line for block in read_blocks(str(path), 5, start, end) for line in block.lines]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120).map(lambda b: b.replace(b"\r", b"")), st.data())
def test_shard_ranges_cover_every_line_once(tmp_path_factory, data, draw):
    path = tmp_path_factory.mktemp("ranges") / "x.jsonl"
    path.write_bytes(b"{}\n" + data)  # no BOM / NUL sniffing at offset 0 in the way
    if b"\x00" in data[: 64 << 10]:
        return
    cuts = sorted(draw.draw(st.lists(st.integers(1, len(data) + 3), max_size=4, unique=True)))
    bounds = [0, *cuts]
    pieces = []
    for a, b in zip(bounds, [*cuts, None]):
        pieces += lines_in(path, a, b)
    assert pieces == lines_in(path)


def test_byte_order_mark_and_ranges(tmp_path):
    path = tmp_path / "bom.jsonl"
    rows = [b'{"prompt":"p%d","completion":"c"}' % i for i in range(20)]
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(rows) + b"\n")
    size = path.stat().st_size
    for cut in range(1, size):
        assert lines_in(path, 0, cut) + lines_in(path, cut) == rows, cut
    one = tunestats.compute(str(path), tokenizer="cl100k_base", jobs=1)
    many = tunestats.compute(str(path), tokenizer="cl100k_base", jobs=3, shard_bytes=1)
    assert many.training.result == one.training.result
    assert one.training.lines == 20


def test_shard_ranges():
    assert byte_ranges(None, 4, 10) == [(0, None)]
    assert byte_ranges(100, 1, 10) == [(0, None)]
    assert byte_ranges(15, 4, 10) == [(0, None)]
    assert byte_ranges(100, 3, 10) == [(0, 34), (34, 68), (68, None)]


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_jobs_give_identical_statistics(path):
    one = tunestats.compute(str(path), tokenizer="cl100k_base", jobs=1)
    many = tunestats.compute(str(path), tokenizer="cl100k_base", jobs=3, shard_bytes=1)
    assert many.to_dict() == one.to_dict()
    assert many.training.result == one.training.result
    assert many.training.format == one.training.format


def test_jobs_with_drops_and_blank_lines(jsonl):
    rows = []
    for i in range(300):
        rows.append({"prompt": f"p {i} " * (i % 7), "completion": "c" * (i % 5)})
        if i % 13 == 0:
            rows += ["", "not json", {"prompt": 3}]
    path = str(jsonl(rows))
    one = tunestats.compute(path, tokenizer="cl100k_base", jobs=1, max_tokens_per_example=20)
    many = tunestats.compute(path, tokenizer="cl100k_base", jobs=2, shard_bytes=1000)
    many4 = tunestats.compute(
        path, tokenizer="cl100k_base", jobs=4, shard_bytes=1000, max_tokens_per_example=20
    )
    assert many4.to_dict() == one.to_dict()
    assert many4.training.result == one.training.result
    assert many.training.kept + many.training.dropped + many.training.blank == many.training.lines
