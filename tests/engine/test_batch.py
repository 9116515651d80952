"""``tunestats batch``: many datasets, local and gs://, resumable, failures recorded."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import tunestats
from tests.conftest import CORPUS
from tunestats import batch
from tunestats.cli import main
from tunestats.io.files import read_bytes
from tunestats.io.writing import write_bytes
from tunestats.present.progress import Progress

CORPUS_FILES = sorted(p for p in CORPUS.glob("*/*.jsonl") if p.parent.name != "broken")
# Supervised datasets with valid examples (the distill/ ones have none when counted supervised).
SUPERVISED_FILES = [p for p in CORPUS_FILES if p.parent.name != "distill"]
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
    for i, path in enumerate(SUPERVISED_FILES[:4]):
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
            "gemma3 (exact)",  # the one short name of a tokenizer (tokenizers.short_name)
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


# --- record names: always inside DEST, one per URI -------------------------------------------

LONG = "x" * 1000
NASTY_URIS = [
    "simplecache::file:///data/a/t.jsonl",
    "simplecache::file:///../../../../data/b/t.jsonl",
    "simplecache::file:///" + "../" * 40 + "data/b/t.jsonl",
    "zip://inner.jsonl::file:///archive.zip",
    "gs://b/../../../../etc/t.jsonl",
    "gs://b/a/t.jsonl",
    "gs://b/a/./t.jsonl",
    "gs://b/a//t.jsonl",
    "gs://b/a/../t.jsonl",
    "gs://b/t.jsonl",
    "gs://b//etc/passwd",
    "gs://b/a/..",
    "gs://..",
    "gs://",
    "gs://b/%2E%2E/t.jsonl",
    "gs://b/a\\..\\..\\..\\t.jsonl",
    "gs://b/x\x00y.jsonl",
    "gs://b/x\ny.jsonl",
    "gs://b/\u202eexe.jsonl",
    "gs://b/\udcff.jsonl",
    "gs://b/x~0123456789abcdef.jsonl",
    "gs://b/données/ü.jsonl",
    f"gs://b/{LONG}.jsonl",
    f"gs://b/{LONG}.ndjson",  # differs from the one above only past the cut
    "gs://b/" + "ü" * 400,
    "gs://b/" + "/".join(["d" * 150] * 30) + "/t.jsonl",
    "gs://b/" + "/".join(["d" * 150] * 30) + "/u.jsonl",
    "memory:///../../x.jsonl",
    "memory:///x.jsonl",
    "/abs/../../../x.jsonl",  # local paths are made absolute: this one is /x.jsonl
    "relative/../x.jsonl",
    "file:///../y.jsonl",
    "C:\\Windows\\t.jsonl",
]


def test_record_names_are_readable_when_they_can_be():
    assert batch.record_path("out", "simplecache::file:///data/a/t.jsonl") == (
        "out/simplecache%3A%3Afile/data/a/t.jsonl.stats.json"
    )
    assert (
        batch.record_path("out", "gs://b/a b/x\\y.jsonl") == "out/gs/b/a b/x%5Cy.jsonl.stats.json"
    )
    assert batch.record_path("out", "gs://b/données.jsonl") == "out/gs/b/données.jsonl.stats.json"
    assert batch.record_path("out", "memory:///b/x.jsonl") == "out/memory/b/x.jsonl.stats.json"
    assert batch.record_path("out", "gs://b/a~1.jsonl") == "out/gs/b/a%7E1.jsonl.stats.json"
    # A name that had to lose something gets the hash of its URI.
    path = batch.record_path("out", "gs://b/a/./t.jsonl")
    digest = hashlib.sha256(b"gs://b/a/./t.jsonl").hexdigest()[:16]
    assert path == f"out/gs/b/a/t.jsonl~{digest}.stats.json"
    assert batch.record_path("", "gs://b/t.jsonl") == "./gs/b/t.jsonl.stats.json"


def test_every_record_path_is_inside_a_local_dest(tmp_path):
    dest = tmp_path / "deep" / "out"
    paths = {uri: batch.record_path(str(dest), uri) for uri in NASTY_URIS}
    assert len(set(paths.values())) == len(NASTY_URIS)  # distinct URIs, distinct records
    for uri, path in paths.items():
        resolved = Path(path).resolve()
        assert resolved.is_relative_to(dest.resolve()), (uri, path)
        assert len(path.encode("utf-8", "surrogatepass")) - len(str(dest)) <= batch.MAX_RECORD_BYTES
        assert all(len(p.encode()) <= 255 for p in Path(path).parts)
        write_bytes(path, uri.encode("utf-8", "surrogatepass"))  # a real, valid name
        assert read_bytes(path) == uri.encode("utf-8", "surrogatepass")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == len(NASTY_URIS)
    assert all(p.resolve().is_relative_to(dest.resolve()) for p in written)


def test_every_record_path_is_inside_a_gs_dest(bucket):
    dest = bucket.uri("results")
    paths = {uri: batch.record_path(dest, uri) for uri in NASTY_URIS}
    assert len(set(paths.values())) == len(NASTY_URIS)
    for uri, path in paths.items():
        assert path.startswith(dest + "/"), (uri, path)
        parts = path.removeprefix(dest + "/").split("/")
        assert not {"", ".", ".."} & set(parts), (uri, path)
        assert not any("\\" in p or "\x00" in p for p in parts)
        write_bytes(path, b"{}")
    objects = bucket.fs.find(bucket.name)
    assert len(objects) == len(NASTY_URIS)
    assert all(o.startswith(f"{bucket.name}/results/") for o in objects)
    assert sorted(f"gs://{o}" for o in objects) == sorted(paths.values())


def test_a_chained_url_with_dot_dot_writes_inside_dest(tmp_path, monkeypatch):
    """simplecache::file:///../../data/b/t.jsonl once put its record beside the dataset."""
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
        (data / name / "t.jsonl").write_bytes(_rows(3))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    sources = [
        f"simplecache::file://{data / 'a' / 't.jsonl'}",
        "simplecache::file://" + "/.." * 40 + str(data / "b" / "t.jsonl"),
    ]
    result = batch.run_batch(sources, "OUT", jobs=1, **OPTIONS)
    assert [r.status for r in result.rows] == ["computed", "computed"]
    assert len({r.record for r in result.rows}) == 2
    out = (work / "OUT").resolve()
    for row in result.rows:
        assert Path(row.record).resolve().is_relative_to(out)
        assert _record(row.record)["uri"] == row.uri
    outside = sorted(p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(out))
    assert outside == [data / "a" / "t.jsonl", data / "b" / "t.jsonl"]
    again = batch.run_batch(sources, "OUT", jobs=1, **OPTIONS)
    assert [r.status for r in again.rows] == ["unchanged", "unchanged"]


def test_a_batch_of_oddly_named_sources_stays_inside_dest(tmp_path):
    import fsspec

    root = f"/odd-{uuid.uuid4().hex[:8]}"
    keys = [
        "/" + "../" * 10 + "etc/t.jsonl",
        "/a/./b.jsonl",
        "/a//b.jsonl",
        "/a/b.jsonl",
        "/back\\slash\\..\\..\\t.jsonl",
        f"/{LONG}.jsonl",
        "/nul\x00.jsonl",
    ]
    fs = fsspec.filesystem("memory")
    uris = []
    for key in keys:
        fs.pipe_file(root + key, _rows(4))
        uris.append(f"memory://{root}{key}")
    dest = tmp_path / "out"
    try:
        result = batch.run_batch(uris, str(dest), jobs=2, **OPTIONS)
    finally:
        fs.rm(root, recursive=True)
    assert [r.uri for r in result.rows] == uris
    assert [r.status for r in result.rows] == ["computed"] * len(uris)
    assert len({r.record for r in result.rows}) == len(uris)
    files = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert files == {Path(r.record) for r in result.rows} | {
        dest / "summary.jsonl",
        dest / "summary.parquet",
    }
    assert all(p.resolve().is_relative_to(dest.resolve()) for p in files)


def test_gs_objects_with_odd_names_into_a_gs_dest(bucket):
    keys = ["t/a/./b.jsonl", "t/a//b.jsonl", "t//abs.jsonl", "t/back\\slash.jsonl", f"t/{LONG}"]
    uris = [bucket.put(key, _rows(4)) for key in keys]
    dest = bucket.uri("results")
    result = batch.run_batch(uris, dest, jobs=2, **OPTIONS)
    assert [r.status for r in result.rows] == ["computed"] * len(uris)
    records = {r.record for r in result.rows}
    assert len(records) == len(uris)
    objects = {f"gs://{o}" for o in bucket.fs.find(bucket.name)}
    assert objects - {bucket.uri(k) for k in keys} == records | {
        f"{dest}/summary.jsonl",
        f"{dest}/summary.parquet",
    }
    again = batch.run_batch(uris, dest, jobs=2, **OPTIONS)
    assert [r.status for r in again.rows] == ["unchanged"] * len(uris)


# --- a record that cannot be written ---------------------------------------------------------


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_record_that_cannot_be_written_is_a_failed_row(tree, tmp_path, jobs):
    out = tmp_path / "out"
    blocked_dir = Path(batch.record_path(str(out), str(tree / "a/deep/big.jsonl"))).parent
    blocked_dir.parent.mkdir(parents=True)
    blocked_dir.write_text("a file where the records' directory goes")
    blocked = Path(batch.record_path(str(out), str(tree / "b.ndjson")))
    blocked.mkdir(parents=True)  # a directory where the record goes

    result = batch.run_batch([str(tree)], str(out), jobs=jobs, **OPTIONS)
    rows = {os.path.relpath(r.uri, tree): r for r in result.rows}
    assert rows["a/chat.jsonl"].status == "computed"
    assert rows["a/broken.jsonl"].status == "failed"
    for name, errno in (
        ("a/deep/big.jsonl", "[Errno 17]"),
        ("a/deep/packed.jsonl.gz", "[Errno 17]"),
        ("b.ndjson", "[Errno 21]"),
    ):
        row = rows[name]
        path = batch.record_path(str(out), row.uri)
        assert row.status == "failed" and row.record is None
        assert row.error.startswith(f"{path}: cannot write the record: {errno}"), row.error
        assert row.examples == tunestats.compute(row.uri, **OPTIONS).training.kept
    lines = [json.loads(x) for x in (out / "summary.jsonl").read_text().splitlines()]
    assert [x["status"] for x in lines] == [r.status for r in result.rows]
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_cli_exit_code_when_a_record_cannot_be_written(tree, tmp_path, capsys):
    out = tmp_path / "out"
    path = Path(batch.record_path(str(out), str(tree / "b.ndjson")))
    path.parent.parent.mkdir(parents=True)
    path.parent.write_text("in the way")
    assert main(["batch", str(tree / "b.ndjson"), "--out", str(out), *_cl100k()]) == 1
    assert f"{path}: cannot write the record: [Errno" in capsys.readouterr().err
    assert (out / "summary.jsonl").exists()


def _cl100k() -> list[str]:
    return ["--tokenizer", "cl100k_base", "--quiet"]


# --- a dataset with no valid example ---------------------------------------------------------


def test_no_valid_example_is_a_failed_row_with_its_record(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(_rows(6, bad_every=1))
    good = tmp_path / "good.jsonl"
    good.write_bytes(_rows(6))
    out = tmp_path / "out"
    first_reason = tunestats.compute(str(bad), **OPTIONS).training.result.dropped_reasons[0]
    expected = f"{bad}: no valid example (6 dropped; first: {first_reason})"

    result = batch.run_batch([str(bad), str(good)], str(out), **OPTIONS)
    row, ok = result.rows
    assert (row.status, row.error, row.examples, row.dropped) == ("failed", expected, 0, 6)
    assert ok.status == "computed" and ok.error is None
    assert row.record == batch.record_path(str(out), str(bad))
    record = _record(row.record)
    assert record["tuningDataStats"] == tunestats.compute(str(bad), **OPTIONS).to_dict()
    lines = [json.loads(x) for x in (out / "summary.jsonl").read_text().splitlines()]
    assert lines[0]["status"] == "failed" and lines[0]["record"] == row.record
    stamp = os.stat(row.record).st_mtime_ns

    # A rerun reuses the record (the dataset is not counted again) and the row stays failed.
    again = batch.run_batch([str(bad), str(good)], str(out), **OPTIONS)
    assert [(r.status, r.error) for r in again.rows] == [("failed", expected), ("unchanged", None)]
    assert os.stat(row.record).st_mtime_ns == stamp
    assert again.rows[0].record == row.record

    # stats and batch agree: exit code 1, and the batch says why.
    assert main(["stats", str(bad), *_cl100k()]) == 1
    capsys.readouterr()
    assert main(["batch", str(bad), str(good), "--out", str(out), *_cl100k()]) == 1
    assert expected in capsys.readouterr().err
    bad.write_bytes(_rows(6, bad_every=2))  # fixed: counted again, and computed
    fixed = batch.run_batch([str(bad)], str(out), **OPTIONS)
    assert (fixed.rows[0].status, fixed.rows[0].examples) == ("computed", 3)


def test_no_valid_example_in_a_distillation_dataset(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(_rows(3, bad_every=1))
    result = batch.run_batch([str(bad)], str(tmp_path / "o"), task="distillation", **OPTIONS)
    (row,) = result.rows
    assert row.status == "failed" and row.record is not None
    assert row.error.startswith(f"{bad}: no valid example (3 dropped; first: line 1: ")
