"""``tunestats batch``: many datasets, local and gs://, resumable, failures recorded."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil

import pyarrow.parquet as pq
import pytest

import tunestats
from tests.conftest import CORPUS
from tunestats import batch
from tunestats.cli import main
from tunestats.progress import Progress

CORPUS_FILES = sorted(p for p in CORPUS.glob("*/*.jsonl") if p.parent.name != "broken")
OPTIONS = {"tokenizer": "cl100k_base"}


def _rows(n: int, bad_every: int = 0) -> bytes:
    lines = []
    for i in range(n):
        if bad_every and i % bad_every == 0:
            lines.append(b'{"messages": 3}')
            continue
        text = f"item {i} " + "some words here " * (i % 9)
        row = {"messages": [{"role": "user", "content": text}, {"role": "model", "content": "y"}]}
        lines.append(json.dumps(row).encode())
    return b"\n".join(lines) + b"\n"


@pytest.fixture
def tree(tmp_path):
    """A small bucket-like tree of datasets, with files that are not datasets."""
    root = tmp_path / "data"
    (root / "a" / "deep").mkdir(parents=True)
    shutil.copy(CORPUS / "openai" / "toy_chat_cookbook.jsonl", root / "a" / "chat.jsonl")
    (root / "a" / "deep" / "big.jsonl").write_bytes(_rows(2000, bad_every=61))
    (root / "a" / "deep" / "packed.jsonl.gz").write_bytes(gzip.compress(_rows(300)))
    (root / "b.ndjson").write_bytes(_rows(40))
    (root / "notes.txt").write_text("not a dataset")
    (root / "a" / "broken.jsonl").write_text("this is not JSON\n")
    return root


def _record(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def test_expand_files_prefixes_and_globs(tree):
    (prefix,) = batch.expand([str(tree)])
    names = [os.path.relpath(d.uri, tree) for d in prefix.datasets]
    assert names == [
        "a/broken.jsonl",
        "a/chat.jsonl",
        "a/deep/big.jsonl",
        "a/deep/packed.jsonl.gz",
        "b.ndjson",
    ]
    (glob,) = batch.expand([f"{tree}/**/*.jsonl"])
    assert [os.path.relpath(d.uri, tree) for d in glob.datasets] == [
        "a/broken.jsonl",
        "a/chat.jsonl",
        "a/deep/big.jsonl",
    ]
    (single,) = batch.expand([str(tree / "notes.txt")])  # a file named explicitly is taken
    assert single.datasets[0].size == len("not a dataset")
    assert single.datasets[0].mtime == os.stat(tree / "notes.txt").st_mtime
    missing, empty = batch.expand([str(tree / "nope.jsonl"), f"{tree}/*.parquet"])
    assert missing.error == f"{tree / 'nope.jsonl'}: no such file or object"
    assert empty.error == f"{tree}/*.parquet: matches no dataset"


def test_record_paths_are_predictable():
    assert batch.record_path("out", "gs://b/x/train.jsonl") == "out/gs/b/x/train.jsonl.stats.json"
    assert batch.record_path("gs://o/r/", "/data/t.jsonl.gz") == (
        "gs://o/r/local/data/t.jsonl.gz.stats.json"
    )


@pytest.mark.parametrize("jobs", [1, 2])
def test_batch_records_equal_stats_of_each_dataset(tree, tmp_path, jobs):
    out = tmp_path / "out"
    result = batch.run_batch([str(tree)], str(out), jobs=jobs, shard_bytes=20_000, **OPTIONS)
    assert [r.status for r in result.rows] == ["failed", *["computed"] * 4]
    assert result.rows[0].error.startswith(f"{tree / 'a/broken.jsonl'}: not JSONL")
    for row in result.rows[1:]:
        record = _record(row.record)
        stats = tunestats.compute(row.uri, jobs=1, **OPTIONS)
        assert record["tuningDataStats"] == stats.to_dict()
        assert row.record == batch.record_path(str(out), row.uri)
        assert record["uri"] == row.uri
        assert record["tokenizer"] == "cl100k_base" and record["exactTokenCounts"] is False
        assert record["mtime"] == os.stat(row.uri).st_mtime
        assert record["size"] == os.stat(row.uri).st_size
        assert record["format"] == stats.training.format == row.format
        r = stats.training.result
        assert (row.examples, row.dropped, row.billable_tokens) == (
            r.examples,
            r.dropped,
            r.billable_tokens,
        )
        assert (row.input_p95, row.input_max) == (r.input_tokens.p95, r.input_tokens.max)
        assert (row.output_p95, row.output_max) == (r.output_tokens.p95, r.output_tokens.max)
    big = next(r for r in result.rows if r.uri.endswith("big.jsonl"))
    assert big.dropped == len(range(0, 2000, 61))


def test_split_and_whole_give_identical_records(tree, tmp_path):
    whole = batch.run_batch([str(tree)], str(tmp_path / "w"), jobs=1, **OPTIONS)
    split = batch.run_batch([str(tree)], str(tmp_path / "s"), jobs=3, shard_bytes=5000, **OPTIONS)
    for a, b in zip(whole.rows, split.rows):
        assert a.status == b.status
        if a.record:
            assert _record(a.record) == _record(b.record)


def test_summary_jsonl_and_parquet(tree, tmp_path):
    out = tmp_path / "out"
    result = batch.run_batch([str(tree), str(tree / "missing.jsonl")], str(out), **OPTIONS)
    lines = [json.loads(x) for x in (out / "summary.jsonl").read_text().splitlines()]
    table = pq.read_table(out / "summary.parquet").to_pylist()
    assert lines == table
    assert [x["uri"] for x in lines] == [r.uri for r in result.rows]
    assert lines[-1]["status"] == "failed" and "no such file" in lines[-1]["error"]
    chat = next(x for x in lines if x["uri"].endswith("chat.jsonl"))
    assert chat["format"] == "openai-chat" and chat["examples"] == 5 and chat["error"] is None


def test_rerun_skips_unchanged_and_recomputes_the_rest(tree, tmp_path):
    out = str(tmp_path / "out")
    first = batch.run_batch([str(tree)], out, **OPTIONS)
    stamps = {r.uri: os.stat(r.record).st_mtime_ns for r in first.rows if r.record}

    again = batch.run_batch([str(tree)], out, **OPTIONS)
    assert [r.status for r in again.rows] == ["failed", *["unchanged"] * 4]  # failures retried
    assert {r.uri: os.stat(r.record).st_mtime_ns for r in again.rows if r.record} == stamps
    assert [(r.examples, r.dropped) for r in again.rows] == [
        (r.examples, r.dropped) for r in first.rows
    ]

    changed = tree / "b.ndjson"
    changed.write_bytes(_rows(41))
    third = batch.run_batch([str(tree)], out, **OPTIONS)
    status = {os.path.basename(r.uri): (r.status, r.examples) for r in third.rows}
    assert status["b.ndjson"] == ("computed", 41)
    assert status["chat.jsonl"] == ("unchanged", 5)

    other_options = batch.run_batch([str(tree)], out, tokenizer="o200k_base")
    assert {r.status for r in other_options.rows} == {"failed", "computed"}
    forced = batch.run_batch([str(tree)], out, force=True, tokenizer="o200k_base")
    assert {r.status for r in forced.rows} == {"failed", "computed"}


def test_a_corrupt_record_is_recomputed(tree, tmp_path):
    out = str(tmp_path / "out")
    first = batch.run_batch([str(tree / "b.ndjson")], out, **OPTIONS)
    with open(first.rows[0].record, "w") as f:
        f.write('{"uri": ')  # a record cut short
    again = batch.run_batch([str(tree / "b.ndjson")], out, **OPTIONS)
    assert again.rows[0].status == "computed"


def test_gs_batch_with_globs_and_gs_destination(bucket, tmp_path):
    local = tmp_path / "copies"
    local.mkdir()
    for i, path in enumerate(CORPUS_FILES[:4]):
        bucket.put(f"tuning/set{i}/{path.name}", path.read_bytes())
        shutil.copy(path, local / f"set{i}-{path.name}")
    bucket.put("tuning/set9/packed.jsonl.gz", gzip.compress(_rows(100, bad_every=7)))
    bucket.put("tuning/readme.txt", b"not a dataset")
    dest = bucket.uri("results")
    result = batch.run_batch([bucket.uri("tuning/**/*.jsonl*")], dest, jobs=2, **OPTIONS)
    assert len(result.rows) == 5 and not result.failed
    for row in result.rows:
        key = row.uri.split(f"gs://{bucket.name}/", 1)[1]
        assert row.generation == bucket.generation(key)
        assert row.record == f"{dest}/gs/{bucket.name}/{key}.stats.json"
        record = json.loads(bucket.fs.cat_file(row.record.removeprefix("gs://")))
        assert record["generation"] == row.generation and record["mtime"] is None
        assert record["tuningDataStats"] == tunestats.compute(row.uri, **OPTIONS).to_dict()
    summary = bucket.fs.cat_file(f"{bucket.name}/results/summary.jsonl").decode().splitlines()
    assert [json.loads(x)["uri"] for x in summary] == [r.uri for r in result.rows]
    assert bucket.fs.exists(f"{bucket.name}/results/summary.parquet")

    # A rerun skips every object whose generation is unchanged; a rewritten one is recomputed.
    bucket.put("tuning/set9/packed.jsonl.gz", gzip.compress(_rows(120)))
    again = batch.run_batch([bucket.uri("tuning")], dest, jobs=2, **OPTIONS)
    status = {r.uri.rsplit("/", 1)[1]: (r.status, r.examples) for r in again.rows}
    assert status.pop("packed.jsonl.gz") == ("computed", 120)
    assert {s for s, _ in status.values()} == {"unchanged"}


def test_object_rewritten_between_listing_and_reading(bucket):
    uri = bucket.put("t/train.jsonl", _rows(30))
    listed = batch.expand([uri])
    bucket.put("t/train.jsonl", _rows(35))
    result = batch.run_batch(listed, "memory://out-rewritten", **OPTIONS)
    (row,) = result.rows
    # Counted as it is when read, and recorded with the generation that was read.
    assert row.status == "computed" and row.examples == 35
    assert row.generation == bucket.generation("t/train.jsonl")
    assert row.generation != listed[0].datasets[0].generation


def test_object_deleted_between_listing_and_reading(bucket):
    keep = bucket.put("d/keep.jsonl", _rows(10))
    gone = bucket.put("d/gone.jsonl", _rows(10))
    listed = batch.expand([bucket.uri("d")])
    bucket.fs.rm_file(f"{bucket.name}/d/gone.jsonl")
    result = batch.run_batch(listed, "memory://out-deleted", jobs=2, **OPTIONS)
    rows = {r.uri: r for r in result.rows}
    assert rows[gone].status == "failed" and rows[gone].error == f"{gone}: no such file or object"
    assert rows[keep].status == "computed" and rows[keep].examples == 10


def test_cli_batch_table_and_exit_codes(tree, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["batch", str(tree / "a" / "chat.jsonl"), "--out", out, "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "chat.jsonl" in printed and "openai-chat" in printed and "computed" in printed
    assert "1 datasets: 1 computed, 0 unchanged, 0 failed" in printed
    assert main(["batch", str(tree), "--out", out, "--tokenizer", "cl100k_base"]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "broken.jsonl: not JSONL" in captured.err
    with pytest.raises(SystemExit) as exit_info:
        main(["batch", str(tree), "--out", out, "--jobs", "0"])
    assert exit_info.value.code == 2
    assert main(["batch", str(tree), "--out", out, "--model", "no-such-model"]) == 2


def test_progress_over_datasets_and_bytes(tree, tmp_path):
    for jobs in (1, 2):
        stream = io.StringIO()
        progress = Progress(stream, slots=2, delay=0.0)
        result = batch.run_batch(
            [str(tree)], str(tmp_path / f"out{jobs}"), jobs=jobs, progress=progress, **OPTIONS
        )
        line = progress.line()
        progress.close()
        assert line.startswith("batch 5/5 datasets")
        examples = sum(r.examples or 0 for r in result.rows) + sum(
            r.dropped or 0 for r in result.rows
        )
        # broken.jsonl failed, but its one line was read and counted as it went
        assert f"{examples + 1:,} examples" in line


def test_distillation_rows_have_no_output_tokens(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(_rows(5))
    result = batch.run_batch([str(path)], str(tmp_path / "o"), task="distillation", **OPTIONS)
    (row,) = result.rows
    assert row.examples == 5 and row.output_p95 is None and row.output_max is None
    assert (
        row.input_max
        == tunestats.compute(
            str(path), task="distillation", **OPTIONS
        ).training.result.input_tokens.max
    )


def test_every_output_of_a_batch_says_how_exact_it_is(tree, tmp_path):
    """The default tokenizer is exact for the Gemini model; cl100k_base is an estimate."""
    for options, tokenizer, exact, cell in (
        (
            {},
            "gemini:gemma3_cleaned_262144_v2.spiece.model",
            True,
            "gemma3_cleaned_262144_v2 (exact)",
        ),
        (OPTIONS, "cl100k_base", False, "cl100k_base (ESTIMATE)"),
    ):
        out = tmp_path / f"out-{exact}"
        result = batch.run_batch([str(tree)], str(out), jobs=1, **options)
        counted = [r for r in result.rows if r.status == "computed"]
        assert counted
        for row in counted:
            assert (row.tokenizer, row.exact) == (tokenizer, exact)
            record = _record(row.record)
            assert (record["tokenizer"], record["exactTokenCounts"]) == (tokenizer, exact)
        lines = [json.loads(x) for x in (out / "summary.jsonl").read_text().splitlines()]
        parquet = pq.read_table(out / "summary.parquet").to_pylist()
        for summary in (lines, parquet):
            done = [x for x in summary if x["status"] == "computed"]
            assert {(x["tokenizer"], x["exact"]) for x in done} == {(tokenizer, exact)}
        text = batch.table(result.rows)
        assert "tokenizer" in text.splitlines()[0]
        assert all(cell in line for line in text.splitlines()[1:] if "computed" in line)
