"""Reading: compression, line endings, byte-order marks, whole-source errors, fsspec URLs."""

from __future__ import annotations

import bz2
import gzip
import lzma

import pytest
import zstandard

import tunestats
from tunestats.io.files import SourceError
from tunestats.io.lines import read_blocks

ROW = b'{"prompt": "a b", "completion": "c"}'
COMPRESSORS = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda data: zstandard.ZstdCompressor().compress(data),
}


def lines_of(path) -> list[tuple[int, bytes]]:
    return [
        (block.first_line + k, line)
        for block in read_blocks(str(path), block_size=7)
        for k, line in enumerate(block.lines)
    ]


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compressed_sources(tmp_path, suffix):
    data = b"\n".join([ROW] * 50 + [b"", b"bad"]) + b"\n"
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(data)
    packed = tmp_path / f"data.jsonl{suffix}"
    packed.write_bytes(COMPRESSORS[suffix](data))
    a = tunestats.compute(str(plain), tokenizer="cl100k_base")
    b = tunestats.compute(str(packed), tokenizer="cl100k_base")
    assert a.to_dict() == b.to_dict()
    assert (b.training.kept, b.training.dropped, b.training.blank) == (50, 1, 1)


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_wrong_compression_is_a_source_error(tmp_path, suffix):
    path = tmp_path / f"data.jsonl{suffix}"
    path.write_bytes(ROW + b"\n")  # not compressed at all
    with pytest.raises(SourceError, match="data.jsonl"):
        tunestats.compute(str(path), tokenizer="cl100k_base")


def test_truncated_gzip_is_a_source_error(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join([ROW] * 1000))[:-20])
    with pytest.raises(SourceError, match="cut.jsonl.gz"):
        tunestats.compute(str(path), tokenizer="cl100k_base")


def test_lines_crlf_and_missing_final_newline(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\r\nbb\r\n\r\nccc")
    assert lines_of(path) == [(1, b"a\r"), (2, b"bb\r"), (3, b"\r"), (4, b"ccc")]


def test_crlf_dataset_same_as_lf(tmp_path):
    lf = tmp_path / "lf.jsonl"
    crlf = tmp_path / "crlf.jsonl"
    lf.write_bytes(b"\n".join([ROW, b"", ROW]))
    crlf.write_bytes(b"\r\n".join([ROW, b"", ROW]) + b"\r\n")
    a = tunestats.compute(str(lf), tokenizer="cl100k_base")
    b = tunestats.compute(str(crlf), tokenizer="cl100k_base")
    assert a.to_dict() == b.to_dict()
    assert b.training.lines == 3


def test_utf8_bom_is_ignored(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + ROW + b"\n")
    assert tunestats.compute(str(path), tokenizer="cl100k_base").training.kept == 1


def test_utf16_is_a_source_error(tmp_path):
    path = tmp_path / "wide.jsonl"
    path.write_bytes((ROW.decode() + "\n").encode("utf-16"))
    with pytest.raises(SourceError, match="UTF-16"):
        tunestats.compute(str(path), tokenizer="cl100k_base")


def test_nul_bytes_in_a_line_drop_that_line_only(tmp_path):
    """Issue 10: decided by content, not position: a NUL inside a line, even in the first
    64 KiB, drops that line; the valid lines are kept."""
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b"\x00\x01\x02\n" + ROW + b"\n" + ROW[:-1] + b"\x00}\n" + ROW + b"\n")
    stats = tunestats.compute(str(path), tokenizer="cl100k_base")
    assert (stats.training.kept, stats.training.dropped) == (2, 2)
    assert stats.training.result.dropped_lines == [1, 3]
    assert all("NUL byte" in reason for reason in stats.training.result.dropped_reasons)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\r\n"])
def test_empty_is_a_source_error(tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    with pytest.raises(SourceError, match="empty"):
        tunestats.compute(str(path), tokenizer="cl100k_base")


def test_not_jsonl_is_a_source_error(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b,c\n1,2,3\n")
    with pytest.raises(SourceError, match="not JSONL"):
        tunestats.compute(str(path), tokenizer="cl100k_base")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        tunestats.compute(str(tmp_path / "nope.jsonl"), tokenizer="cl100k_base")
    with pytest.raises(SourceError, match=str(tmp_path)):
        tunestats.compute(str(tmp_path), tokenizer="cl100k_base")


def test_fsspec_memory_url():
    import fsspec

    with fsspec.open("memory://bucket/train.jsonl.gz", "wb") as f:
        f.write(gzip.compress(ROW + b"\n" + ROW))
    stats = tunestats.compute("memory://bucket/train.jsonl.gz", tokenizer="cl100k_base")
    assert stats.training.kept == 2


def test_long_lines_across_blocks(tmp_path):
    text = "word " * 200_000  # a 1 MB line, far over the block size used here
    path = tmp_path / "long.jsonl"
    path.write_text(f'{{"prompt": "{text}", "completion": "x"}}\n{ROW.decode()}\n')
    blocks = list(read_blocks(str(path), block_size=4096))
    assert sum(len(b.lines) for b in blocks) == 2
