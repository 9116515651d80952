"""Reading at the edges (issue 18): long lines, endless sources, compressed streams read to
their end, and files that are something else than JSONL (CSV, a misnamed compression, records
of no format, compressed standard input).

Each test is the issue's reproducer, made small where it can be: a long line is long against a
small --max-line-bytes, and the large sources are sparse files (no disk, no time to write).
Hangs are bounded: the CLI runs as a subprocess with a timeout.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import zstandard

import tunestats
from tunestats.io.files import SourceError
from tunestats.io.lines import LongLine, _Lines, read_blocks

TUNESTATS = [sys.executable, "-m", "tunestats.cli"]
GOOD = {
    "contents": [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello"}]},
    ]
}
GOOD_LINE = json.dumps(GOOD).encode()
CL100K = {"tokenizer": "cl100k_base"}


def run_cli(*args: str, input: bytes | None = None, timeout: float = 120):
    return subprocess.run(
        [*TUNESTATS, *args], input=input, capture_output=True, timeout=timeout, check=False
    )


def error_of(done: subprocess.CompletedProcess) -> str:
    return done.stderr.decode().strip().splitlines()[-1]


def peak_rss_mb(script: str, timeout: float = 120) -> tuple[float, str]:
    """Run ``script`` in a fresh interpreter: its peak resident memory (MB) and its stdout."""
    # VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across exec, so a child of a
    # large pytest process would report pytest's own peak.
    probe = textwrap.dedent(script) + textwrap.dedent(
        """
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                print(int(line.split()[1]) // 1024)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr
    *out, peak = done.stdout.strip().splitlines()
    return float(peak), "\n".join(out)


# --- item 2: a line costs time linear in its length, and at most --max-line-bytes -----------


def test_a_line_over_the_maximum_is_dropped_with_its_length(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_bytes(GOOD_LINE + b"\n" + b'{"contents": "' + b"x" * 5000 + b'"}\n' + GOOD_LINE)
    stats = tunestats.compute(str(path), max_line_bytes=1000, **CL100K)
    result = stats.training.result
    assert (stats.training.kept, stats.training.dropped, stats.training.lines) == (2, 1, 3)
    assert result.dropped_reasons == [
        "line 2: is 5,016 bytes long; lines may be at most 1,000 bytes (--max-line-bytes)"
    ]
    assert result.dropped_by_code == {"too-long-line": 1}
    assert result.bytes == path.stat().st_size + 1  # the bytes of the line are counted
    # Under the maximum, the same line is read (and dropped for what it holds).
    again = tunestats.compute(str(path), max_line_bytes=5016, **CL100K)
    assert again.training.result.dropped_by_code != {"too-long-line": 1}


def test_the_cli_takes_max_line_bytes_and_writes_the_dropped_line_unread(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_bytes(GOOD_LINE + b"\n" + b"y" * 3000 + b"\n")
    dropped = tmp_path / "dropped.jsonl"
    done = run_cli(
        "stats", str(path), "--tokenizer", "cl100k_base", "--max-line-bytes", "200",
        "--write-dropped", str(dropped), "--quiet",
    )  # fmt: skip
    out = done.stdout.decode()
    assert "too-long-line" in out and "lines may be at most 200 bytes" in out, out
    record = json.loads(dropped.read_text())
    assert (record["line"], record["code"], record["text"]) == (2, "too-long-line", "")
    bad = run_cli("stats", str(path), "--max-line-bytes", "0")
    assert bad.returncode == 2 and "--max-line-bytes" in bad.stderr.decode()


@pytest.mark.parametrize("jobs", [1, 3])
def test_long_lines_in_ranges_are_counted_once(tmp_path, jobs):
    """Split runs: a long line that spans the cut points belongs to the range it begins in."""
    lines = []
    for k in range(60):
        lines.append(b"z" * (3000 + k) if k % 7 == 3 else GOOD_LINE)
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    stats = tunestats.compute(str(path), max_line_bytes=2000, jobs=jobs, shard_bytes=4096, **CL100K)
    result = stats.training.result
    long = [k + 1 for k in range(60) if k % 7 == 3]
    assert result.dropped_lines == long
    assert result.dropped_by_code == {"too-long-line": len(long)}
    assert stats.training.kept == 60 - len(long)
    assert result.bytes == path.stat().st_size


def test_a_long_line_never_ends_in_memory_and_splitting_is_linear(tmp_path):
    """Reproducer: a 500 MB line without a newline took 253 s (quadratic) and peaked at
    1.6 GB. Here 400 MB of a sparse file, with a 1 MiB maximum: read in linear time, and
    held no more than the maximum."""
    path = tmp_path / "endless.jsonl"
    with open(path, "wb") as f:
        f.write(GOOD_LINE + b"\n")
        f.truncate(400_000_000)  # zero bytes without a newline (a sparse file)
    started = time.monotonic()
    peak, out = peak_rss_mb(
        f"""
        import tunestats
        stats = tunestats.compute({str(path)!r}, tokenizer="cl100k_base", max_line_bytes=1 << 20)
        print(stats.training.result.dropped_reasons[0])
        """
    )
    assert time.monotonic() - started < 60
    assert out == (
        f"line 2: is {400_000_000 - len(GOOD_LINE) - 1:,} bytes long; lines may be at most "
        "1,048,576 bytes (--max-line-bytes)"
    )
    assert peak < 400, peak  # the interpreter, numpy, pyarrow and the tokenizer: ~150 MB


def test_a_file_that_is_one_line_over_the_maximum_ends_with_an_error(tmp_path):
    path = tmp_path / "one.jsonl"
    with open(path, "wb") as f:
        f.write(b"[")
        f.truncate(30_000_000)
    with pytest.raises(SourceError, match=r"no line could be read: every line is longer"):
        tunestats.compute(str(path), max_line_bytes=1 << 20, **CL100K)


def test_joining_a_line_of_many_chunks_is_linear():
    """The quadratic part: each chunk was appended to the partial line by copying it."""
    lines = _Lines(1 << 30)
    chunk = b"a" * 4096
    started = time.monotonic()
    for _ in range((64 << 20) // 4096):  # 64 MB in 4 KiB chunks: 2 TB of copying, before
        assert lines.feed(chunk) == []
    groups = lines.feed(b"b\nc")
    assert time.monotonic() - started < 20
    assert [len(line) for group in groups for line in group] == [(64 << 20) + 1]
    assert lines.finish() == [[b"c"]]


def test_long_lines_come_alone_in_their_blocks(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a\n" + b"b" * 50 + b"\nc\nd\n" + b"e" * 20)
    blocks = [
        (block.first_line, block.lines)
        for block in read_blocks(str(path), block_size=16, max_line_bytes=10)
    ]
    flat = [(first + k, line) for first, lines in blocks for k, line in enumerate(lines)]
    assert [(n, repr(line)) for n, line in flat] == [
        (1, "b'a'"),
        (2, "LongLine(50, 10)"),
        (3, "b'c'"),
        (4, "b'd'"),
        (5, "LongLine(20, 10)"),
    ]
    assert all(len(lines) == 1 for _, lines in blocks if isinstance(lines[0], LongLine))


def test_an_unterminated_string_of_5_mb_costs_little(tmp_path):
    """Reproducer: 0.73 GB (130x the line) for a 5 MB line with an unclosed string."""
    path = tmp_path / "open.jsonl"
    path.write_bytes(
        GOOD_LINE + b"\n" + b'{"contents":[{"role":"user","parts":[{"text":"' + b"a" * (5 << 20)
    )
    peak, out = peak_rss_mb(
        f"""
        import tunestats
        stats = tunestats.compute({str(path)!r}, tokenizer="cl100k_base")
        print(stats.training.result.dropped_by_code)
        """
    )
    assert out == "{'not-json': 1}"
    assert peak < 400, peak


# --- item 3: endless sources ------------------------------------------------------------------


def test_a_character_device_is_refused_at_once():
    done = run_cli("stats", "/dev/zero", "--quiet", timeout=60)
    assert done.returncode == 1
    assert error_of(done) == "tunestats: error: /dev/zero: is a character device, not a file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.parametrize("compressed", [False, True])
def test_a_named_pipe_is_read_as_a_stream(tmp_path, compressed):
    """Reproducer: mkfifo f; cat good.jsonl > f & tunestats stats f ("changed while it was
    read"). A compressed pipe is decompressed as a stream too."""
    fifo = tmp_path / ("f.jsonl.gz" if compressed else "f.jsonl")
    os.mkfifo(fifo)
    data = b"\n".join([GOOD_LINE] * 5) + b"\n"
    if compressed:
        data = gzip.compress(data)

    def write() -> None:
        with open(fifo, "wb") as f:  # waits for the reader
            f.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    done = run_cli("stats", str(fifo), "--tokenizer", "cl100k_base", "--json", timeout=60)
    writer.join(timeout=10)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["supervisedTuningDataStats"]["tuningDatasetExampleCount"] == "5"


# --- item 4: every compressed source is read to its proper end ------------------------------

ROWS = b"\n".join(GOOD_LINE.replace(b"Hi", b"Hi %d" % k) for k in range(356)) + b"\n"
COMPRESS = {
    "gzip": (".gz", gzip.compress),
    "bzip2": (".bz2", bz2.compress),
    "xz": (".xz", lzma.compress),
    "zstd": (".zst", lambda data: zstandard.ZstdCompressor(write_checksum=True).compress(data)),
}


def compressed_file(tmp_path, name: str, mangle) -> str:
    suffix, compress = COMPRESS[name]
    path = tmp_path / f"x.jsonl{suffix}"
    path.write_bytes(mangle(compress(ROWS)))
    return str(path)


@pytest.mark.parametrize("name", sorted(COMPRESS))
@pytest.mark.parametrize("cut", ["half", "one byte"])
def test_a_truncated_stream_is_a_whole_file_error(tmp_path, name, cut):
    """Reproducer: a truncated .zst exited 0 with 166 of 356 lines, or "empty: no records"."""
    path = compressed_file(tmp_path, name, lambda c: c[: len(c) // 2] if cut == "half" else c[:-1])
    with pytest.raises(SourceError) as caught:
        tunestats.compute(path, **CL100K)
    assert str(caught.value) == (
        f"{path}: truncated {name} stream: the file ends before the compressed data does"
    )


@pytest.mark.parametrize("name", sorted(COMPRESS))
def test_trailing_garbage_is_a_whole_file_error(tmp_path, name):
    """Reproducer: .xz with garbage after the stream exited 0."""
    path = compressed_file(tmp_path, name, lambda c: c + b"garbage\n")
    with pytest.raises(SourceError) as caught:
        tunestats.compute(path, **CL100K)
    assert str(caught.value) == f"{path}: trailing garbage after the {name} stream"
    done = run_cli("stats", path, "--tokenizer", "cl100k_base", "--quiet")
    assert done.returncode == 1 and "trailing garbage" in error_of(done)


@pytest.mark.parametrize("name", sorted(COMPRESS))
def test_concatenated_streams_are_one_source(tmp_path, name):
    """gzip members, bzip2 and xz streams and zstd frames in a row: what each tool reads."""
    _, compress = COMPRESS[name]
    path = compressed_file(tmp_path, name, lambda c: c + compress(ROWS))
    assert tunestats.compute(path, **CL100K).training.kept == 2 * 356


@pytest.mark.parametrize(("name", "padding"), [("gzip", True), ("xz", True), ("bzip2", False)])
def test_zero_padding_after_the_stream(tmp_path, name, padding):
    """Zero bytes after a gzip or xz stream are padding (gzip's reading, xz's Stream Padding);
    after bzip2 (and zstd) they are garbage."""
    path = compressed_file(tmp_path, name, lambda c: c + bytes(8))
    if padding:
        assert tunestats.compute(path, **CL100K).training.kept == 356
    else:
        with pytest.raises(SourceError, match="trailing garbage"):
            tunestats.compute(path, **CL100K)


def test_a_corrupt_stream_says_so(tmp_path):
    def flip(c: bytes) -> bytes:
        middle = len(c) // 2
        return c[:middle] + bytes([c[middle] ^ 0xFF]) + c[middle + 1 :]

    path = compressed_file(tmp_path, "gzip", flip)
    with pytest.raises(SourceError, match=r"x\.jsonl\.gz: corrupt gzip stream: "):
        tunestats.compute(path, **CL100K)


# --- item 17: what a file that is not JSONL is ----------------------------------------------


@pytest.mark.parametrize("name", sorted(COMPRESS))
def test_compressed_stdin_is_decompressed(name):
    _, compress = COMPRESS[name]
    done = run_cli("stats", "-", "--tokenizer", "cl100k_base", "--json", input=compress(ROWS))
    assert done.returncode == 0, done.stderr
    assert (
        json.loads(done.stdout)["supervisedTuningDataStats"]["tuningDatasetExampleCount"] == "356"
    )


def test_truncated_compressed_stdin_is_an_error():
    done = run_cli("stats", "-", "--tokenizer", "cl100k_base", input=gzip.compress(ROWS)[:-9])
    assert done.returncode == 1
    assert error_of(done) == (
        "tunestats: error: -: truncated gzip stream: the file ends before the compressed data does"
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'prompt,completion\nhello,world\n"a, b",c\n', "looks like CSV (comma-separated"),
        (b"prompt\tcompletion\nhello, you\tworld\n", "looks like TSV (tab-separated"),
    ],
)
def test_csv_and_tsv_are_named(tmp_path, content, words):
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        tunestats.compute(str(path), **CL100K)
    message = str(caught.value)
    assert words in message and "convert each row to a JSON object" in message, message


@pytest.mark.parametrize(
    "content",
    [
        b"[1, 2]\n[3, 4]\n",  # JSON arrays: dropped as not objects, not called CSV
        b"a,b\n" + GOOD_LINE + b"\n",  # a JSON object in the first bytes
        b"just one, line\n",
    ],
)
def test_not_csv(tmp_path, content):
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    try:
        tunestats.compute(str(path), **CL100K)
    except SourceError as exc:
        assert "CSV" not in str(exc)


ZIP = b"PK\x03\x04" + bytes(40)
TEXT_NAMED_GZ = "is not gzip-compressed: it starts like text; if it is JSONL, rename it without .gz"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.jsonl.gz", lzma.compress(ROWS), "holds xz-compressed data; rename it .xz"),
        ("x.jsonl.xz", gzip.compress(ROWS), "holds gzip-compressed data; rename it .gz"),
        ("x.jsonl.zst", bz2.compress(ROWS), "holds bzip2-compressed data; rename it .bz2"),
        ("x.jsonl.bz2", COMPRESS["zstd"][1](ROWS), "holds zstd-compressed data; rename it .zst"),
        ("x.jsonl.gz", ROWS, TEXT_NAMED_GZ),
        ("x.jsonl.gz", ZIP, "is not gzip-compressed: it looks like a zip archive"),
    ],
)
def test_a_misnamed_compression_says_what_the_file_holds(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        tunestats.compute(str(path), **CL100K)
    suffix = name.rsplit(".", 1)[1]
    assert str(caught.value) == f"{path}: named .{suffix} but {message}"


def test_no_record_of_any_format_is_not_called_gemini(tmp_path):
    """Reproducer: a file where no record matches a format was reported as "format gemini"."""
    path = tmp_path / "other.jsonl"
    path.write_bytes(b'{"question": "a", "answer": "b"}\n' * 3)
    stats = tunestats.compute(str(path), **CL100K)
    assert (stats.training.format, stats.training.format_assumed) == ("gemini", True)
    assert stats.training.dropped == 3
    done = run_cli("stats", str(path), "--tokenizer", "cl100k_base", "--quiet")
    assert done.returncode == 1  # no valid example, after the report
    assert (
        "  format gemini (no record matched any format; assumed from the model), task "
        "supervised, model gemini-2.5-flash"
    ) in done.stdout.decode().splitlines()
    # Given, the format is not assumed; nor is one that a record decides.
    assert not tunestats.compute(str(path), format="gemini", **CL100K).training.format_assumed
    path.write_bytes(b'{"question": "a"}\n{"contents": []}\n')
    assert not tunestats.compute(str(path), **CL100K).training.format_assumed


def test_records_that_decide_late_are_kept_in_the_models_format(tmp_path):
    """Nothing decides in the first records, yet records of the model's format are kept: the
    format was the right one, not called assumed."""
    path = tmp_path / "late.jsonl"
    path.write_bytes(b'{"x": 1}\n' * 1000 + GOOD_LINE + b"\n")
    stats = tunestats.compute(str(path), **CL100K)
    t = stats.training
    assert (t.format, t.format_assumed, t.kept, t.dropped) == ("gemini", False, 1, 1000)
