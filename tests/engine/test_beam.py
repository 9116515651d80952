"""tunestats.beam on the DirectRunner: the same records as ``tunestats batch``, bit for bit.

Local and gs:// datasets (the local GCS server), datasets split into many byte ranges, datasets
that fail, the ``python -m tunestats.beam`` command against ``run_batch``, and the CombineFn
that merges ranges in file order whatever order Beam merges them in.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import pickle
from pathlib import Path

import pytest

pytest.importorskip("apache_beam")

import apache_beam as beam  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tunestats.beam.transforms as beam_module  # noqa: E402
from tests.conftest import CORPUS, write_jsonl  # noqa: E402
from tunestats import batch  # noqa: E402
from tunestats.beam import (  # noqa: E402
    LOCAL_RUNNER,
    ComputeStats,
    Shard,
    ShardCombineFn,
    main,
    split_args,
)
from tunestats.config.options import Options  # noqa: E402
from tunestats.config.plan import make_plan  # noqa: E402
from tunestats.counting import ranges as counting_ranges  # noqa: E402
from tunestats.counting.combine import in_order as merge_shards  # noqa: E402
from tunestats.counting.ranges import Failure  # noqa: E402
from tunestats.io import sources  # noqa: E402
from tunestats.io.files import SourceError  # noqa: E402
from tunestats.io.sources import Range, SourceInfo, stat_source  # noqa: E402

CORPUS_FILES = sorted(CORPUS.glob("*/*.jsonl"))
TOKENIZER = "cl100k_base"


@pytest.fixture(scope="module")
def run():
    return make_plan(Options(tokenizer=TOKENIZER))


class _Keep(beam.DoFn):
    """Pickle each (uri, record) to a file: the DirectRunner's DoFns are copies."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def process(self, element):
        name = hashlib.sha1(element[0].encode()).hexdigest()
        Path(self.folder, name).write_bytes(pickle.dumps(element))


def compute(items: list, folder: Path, **options) -> dict[str, dict]:
    """Run ComputeStats over ``items`` on Beam's local engine; its records by uri."""
    folder.mkdir()
    with beam.Pipeline(runner=LOCAL_RUNNER) as p:
        _ = p | beam.Create(items) | ComputeStats(**options) | beam.ParDo(_Keep(str(folder)))
    pairs = [pickle.loads(path.read_bytes()) for path in folder.iterdir()]
    records = dict(pairs)
    assert len(records) == len(pairs), "a dataset came out twice"
    return records


def expected(uri: str, run) -> dict:
    """What tunestats batch records for ``uri`` (counted whole, in this process)."""
    try:
        info = stat_source(uri)
    except SourceError as exc:
        return batch.Record.failed(Failure.of(SourceInfo(uri, None), exc)).doc
    return batch.count_whole(info, run).doc


def _dataset_with_drops(n: int) -> tuple[list, list[int]]:
    """Rows with bad JSON, blank lines and wrong records; and the lines that are dropped."""
    rows: list = []
    dropped = []
    for i in range(n):
        rows.append({"prompt": f"question {i} " + "word " * (i % 11), "completion": "answer"})
        if i % 17 == 0:
            rows += ["", "{not json", {"prompt": 3, "completion": "x"}]
            dropped += [len(rows) - 1, len(rows)]
    return rows, dropped


# --- ComputeStats equals tunestats batch --------------------------------------------------


def test_local_corpus_equals_batch(tmp_path, run):
    uris = [str(p) for p in CORPUS_FILES]
    records = compute(uris, tmp_path / "out", tokenizer=TOKENIZER)
    assert set(records) == set(uris)
    for uri in uris:
        assert records[uri] == expected(uri, run), uri
    assert all("error" not in r for r in records.values())


def test_gs_datasets_equal_batch(bucket, tmp_path, run):
    picked = [p for p in CORPUS_FILES if p.parent.name in ("openai", "gemini", "distill")]
    uris = [bucket.put(f"corpus/{p.parent.name}/{p.name}", p.read_bytes()) for p in picked]
    rows, _ = _dataset_with_drops(400)
    data = write_jsonl(tmp_path / "drops.jsonl", rows).read_bytes()
    packed = bucket.put("packed/drops.jsonl.gz", gzip.compress(data))
    split = bucket.put("split/drops.jsonl", data)
    # SourceInfo from the listing, as the command hands them on; strings work alike.
    listed = [info for e in batch.expand([bucket.uri("corpus/")]) for info in e.datasets]
    assert sorted(i.uri for i in listed) == sorted(uris)
    items = [*listed, packed, split]
    records = compute(items, tmp_path / "out", tokenizer=TOKENIZER, shard_bytes=4096)
    assert len(sources.split(stat_source(split), 4096)) > 3
    assert [(r.start, r.end) for r in sources.split(stat_source(packed), 4096)] == [(0, None)]
    for uri in [*uris, packed, split]:
        assert records[uri] == expected(uri, run), uri
        assert records[uri]["generation"] == bucket.generation(uri.split("/", 3)[3])
    assert records[packed]["tuningDataStats"] == records[split]["tuningDataStats"]


def test_split_datasets_equal_unsplit(tmp_path, run):
    rows, dropped = _dataset_with_drops(600)
    drops = str(write_jsonl(tmp_path / "drops.jsonl", rows))
    big = str(CORPUS / "openai" / "drone_tools_cookbook.jsonl")
    assert len(sources.split(stat_source(drops), 2048)) > 10
    records = compute(
        [drops, big],
        tmp_path / "out",
        tokenizer=TOKENIZER,
        shard_bytes=2048,
        max_tokens_per_example=60,
    )
    limited = make_plan(Options(tokenizer=TOKENIZER, max_tokens_per_example=60))
    assert records[drops] == expected(drops, limited)
    assert records[big] == expected(big, limited)
    # Line numbers of the later ranges were renumbered, not counted from 1 again.
    listed = records[drops]["tuningDataStats"]["supervisedTuningDataStats"]
    lines = [int(i) for i in listed["truncatedExampleIndices"]]
    assert [n for n in lines if n in dropped] == dropped
    assert records[drops]["summary"]["dropped"] >= len(dropped)
    assert records[drops]["lines"] == len(rows)


def test_failed_datasets_become_error_records(tmp_path, run):
    good = str(CORPUS / "palm" / "gemini_faq_gdg.jsonl")
    text = tmp_path / "notes.jsonl"
    text.write_text("this is\nnot JSONL at all\n")
    binary = tmp_path / "blob.jsonl"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    missing = str(tmp_path / "missing.jsonl")
    uris = [good, str(text), str(binary), str(empty), missing]
    records = compute([*uris, good], tmp_path / "out", tokenizer=TOKENIZER, shard_bytes=8)
    assert set(records) == set(uris)  # the dataset named twice is counted once
    assert "error" not in records[good]
    for uri in uris:
        assert records[uri] == expected(uri, run), uri
    assert "not JSONL" in records[str(text)]["error"]
    # issue 10: decided by content: binary junk is no JSON at all (a NUL drops a line only)
    assert (
        "not JSONL" in records[str(binary)]["error"] and "NUL byte" in records[str(binary)]["error"]
    )
    assert "empty" in records[str(empty)]["error"]
    assert records[missing]["error"].endswith("no such file or object")


def test_one_failed_range_fails_its_dataset(tmp_path, monkeypatch):
    rows, _ = _dataset_with_drops(300)
    path = str(write_jsonl(tmp_path / "drops.jsonl", rows))
    other = str(CORPUS / "gemini" / "patient_glucose_sysinstr.jsonl")
    ranges = sources.split(stat_source(path), 2048)
    count_range = counting_ranges.count_range

    def flaky(rng, fmt, plan, report=None, parts=None):
        if rng.info.uri == path and rng.start == ranges[2].start:
            raise OSError("connection reset")
        return count_range(rng, fmt, plan, report, parts)

    monkeypatch.setattr(beam_module, "count_range", flaky)
    records = compute([path, other], tmp_path / "out", tokenizer=TOKENIZER, shard_bytes=2048)
    failure = Failure.of(stat_source(path), OSError("connection reset"))
    assert records[path] == batch.Record.failed(failure).doc
    assert "error" not in records[other]


# --- the command ---------------------------------------------------------------------------


def _summary(dest: Path) -> list[dict]:
    rows = [json.loads(line) for line in (dest / "summary.jsonl").read_text().splitlines()]
    for row in rows:  # the record column names DEST; the rest must be equal
        if row["record"]:
            row["record"] = str(Path(row["record"]).relative_to(dest))
    return rows


def test_command_equals_run_batch(tmp_path, capsys):
    import pyarrow.parquet as pq

    rows, _ = _dataset_with_drops(200)
    (tmp_path / "data").mkdir()
    write_jsonl(tmp_path / "data" / "drops.jsonl", rows)
    sources = [
        str(CORPUS / "openai"),  # a prefix
        str(tmp_path / "data" / "*.jsonl"),  # a glob
        str(CORPUS / "palm" / "gemini_faq_gdg.jsonl"),
        str(CORPUS / "openai" / "toy_chat_cookbook.jsonl"),  # named twice
        str(tmp_path / "missing.jsonl"),
    ]
    ours, reference = tmp_path / "beam", tmp_path / "batch"
    code = main(
        [*sources, "--out", str(ours), "--tokenizer", TOKENIZER, "--shard-bytes", "4096"]
        + ["--runner", "DirectRunner"]
    )
    assert code == 1  # the missing file
    assert "missing.jsonl" in capsys.readouterr().err
    result = batch.run_batch(sources, str(reference), tokenizer=TOKENIZER, jobs=1)

    records = sorted(p.relative_to(ours) for p in ours.rglob("*.stats.json"))
    assert records == sorted(p.relative_to(reference) for p in reference.rglob("*.stats.json"))
    assert len(records) == 6
    for rel in records:
        assert (ours / rel).read_bytes() == (reference / rel).read_bytes(), rel
    assert _summary(ours) == _summary(reference)
    assert [r["uri"] for r in _summary(ours)] == [r.uri for r in result.rows]
    ours_table = pq.read_table(ours / "summary.parquet")
    assert ours_table.schema == pq.read_table(reference / "summary.parquet").schema
    assert ours_table.column("uri").to_pylist() == [r.uri for r in result.rows]


def test_command_usage_errors(tmp_path, capsys):
    source = str(CORPUS / "palm" / "gemini_faq_gdg.jsonl")
    assert main([source, "--out", str(tmp_path), "--tokenizer", "nope"]) == 2
    remote = ["--runner", "DataflowRunner", "--project", "p", "--region", "r"]
    assert main([source, "--out", "gs://b/out", *remote]) == 2
    assert "cannot read or write local paths" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([source, "--out", str(tmp_path), "--tokenzier", TOKENIZER])  # a typo is not Beam's


def test_only_failed_sources_write_a_summary_without_a_job(tmp_path):
    assert main([str(tmp_path / "nothing" / "*.jsonl"), "--out", str(tmp_path / "o")]) == 1
    (row,) = _summary(tmp_path / "o")
    assert row["status"] == "failed" and "matches no dataset" in row["error"]


def test_beam_options_are_split_from_ours():
    argv = ["--runner", "DataflowRunner", "gs://b/a.jsonl", "--out", "gs://b/o"]
    argv += ["--save_main_session", "gs://b/c.jsonl", "--temp_location=gs://b/tmp"]
    argv += ["--tokenizer", TOKENIZER, "--experiments", "upload_graph"]
    ours, beams = split_args(argv)
    assert ours == ["gs://b/a.jsonl", "--out", "gs://b/o", "gs://b/c.jsonl"] + [
        "--tokenizer",
        TOKENIZER,
    ]
    assert beams == ["--runner", "DataflowRunner", "--save_main_session"] + [
        "--temp_location=gs://b/tmp",
        "--experiments",
        "upload_graph",
    ]


# --- the CombineFn -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ranged(tmp_path_factory, run):
    """A dataset with drops, blanks and long lines; its info, format and plan."""
    rows, _ = _dataset_with_drops(120)
    rows += [{"prompt": "long " * 200, "completion": "c"}, "", "[]"] * 3
    path = write_jsonl(tmp_path_factory.mktemp("combine") / "d.jsonl", rows)
    info = stat_source(str(path))
    return info, batch.detect(info, run), run


def _shards(ranged, cuts: list[int]) -> list[Shard]:
    info, fmt, run = ranged
    bounds = list(zip([0, *cuts], [*cuts, None]))
    shards = []
    for k, (start, end) in enumerate(bounds):
        acc = counting_ranges.count_range(Range(info, k, len(bounds), start, end), fmt, run)
        shards.append(Shard(info, fmt, k, len(bounds), acc))
    return shards


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_combine_fn_merges_in_file_order_whatever_the_grouping(ranged, data):
    size = ranged[0].size
    cuts = sorted(data.draw(st.sets(st.integers(1, size - 1), max_size=8), label="cuts"))
    shards = _shards(ranged, cuts)
    before = copy.deepcopy(shards)
    whole = merge_shards(copy.deepcopy(s.acc) for s in shards)

    fn = ShardCombineFn()
    order = data.draw(st.permutations(shards), label="arrival")
    # Bundles: each adds its inputs to a fresh accumulator (round-tripped as Beam encodes it).
    accumulators = []
    while order:
        n = data.draw(st.integers(1, len(order)), label="bundle")
        acc = fn.create_accumulator()
        for shard in order[:n]:
            acc = fn.add_input(acc, shard)
        accumulators.append(pickle.loads(pickle.dumps(acc)))
        order = order[n:]
    if data.draw(st.booleans(), label="empty accumulator"):
        accumulators.insert(0, fn.create_accumulator())
    # Then merges of random groups, in random order, until one is left.
    while len(accumulators) > 1:
        group = data.draw(
            st.lists(st.sampled_from(range(len(accumulators))), min_size=2, unique=True),
            label="group",
        )
        merged = fn.merge_accumulators([accumulators[i] for i in group])
        accumulators = [a for i, a in enumerate(accumulators) if i not in group] + [merged]
    counted = fn.extract_output(accumulators[0])

    assert counted.acc.result() == whole.result()
    assert counted.acc.last_line == whole.last_line
    assert counted.acc.json_lines == whole.json_lines
    assert counted.info == ranged[0] and counted.failure is None
    assert shards == before  # inputs are not changed


def test_combine_fn_lost_and_failed_shards(ranged):
    fn = ShardCombineFn()
    shards = _shards(ranged, [1000, 2000, 3000])
    acc = fn.create_accumulator()
    for shard in [shards[0], shards[1], shards[3]]:
        acc = fn.add_input(acc, shard)
    with pytest.raises(RuntimeError, match="shards were lost"):
        fn.extract_output(acc)
    with pytest.raises(ValueError, match="arrived twice"):
        fn.add_input(copy.deepcopy(acc), shards[1])
    # Any failed range fails the dataset; the lowest one's error, whatever the order.
    info, fmt = shards[0].info, shards[0].fmt
    late = Shard(info, fmt, 3, 4, failure=Failure(info, "range 3"))
    early = Shard(info, fmt, 2, 4, failure=Failure(info, "range 2"))
    for first, second in ((late, early), (early, late)):
        one = fn.add_input(copy.deepcopy(acc), first)
        two = fn.add_input(fn.create_accumulator(), second)
        counted = fn.extract_output(fn.merge_accumulators([one, two]))
        assert counted.failure == Failure(info, "range 2")


def test_command_on_gcs(bucket, tmp_path):
    for p in CORPUS_FILES[:3]:
        bucket.put(f"in/{p.name}", p.read_bytes())
    bucket.put("in/notes.jsonl", b"not json\n")
    ours, reference = bucket.uri("beam"), bucket.uri("batch")
    code = main([bucket.uri("in/"), "--out", ours, "--tokenizer", TOKENIZER])
    assert code == 1  # notes.jsonl
    batch.run_batch([bucket.uri("in/")], reference, tokenizer=TOKENIZER, jobs=1)
    fs = bucket.fs
    names = sorted(fs.find(f"{bucket.name}/beam"))
    assert [n.replace("/beam/", "/batch/") for n in names] == sorted(
        fs.find(f"{bucket.name}/batch")
    )
    assert len(names) == 5  # 3 records and the summary in 2 files
    for name in names:
        if name.endswith(".stats.json") or name.endswith(".jsonl"):
            theirs = fs.cat_file(name.replace("/beam/", "/batch/"))
            assert fs.cat_file(name).replace(b"/beam/", b"/batch/") == theirs, name
