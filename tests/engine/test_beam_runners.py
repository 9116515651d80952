"""Issue 20: ``python -m tunestats.beam`` equals ``tunestats batch`` bit for bit on every runner.

The same datasets (the corpus, a compressed copy, a dataset split into many byte ranges, a file
that is not JSONL and one that is missing) go through ``tunestats batch --jobs 1`` and through
the Beam command on: the FnApiRunner in process (what the DirectRunner runs), the portable
runner's ``multi_processing`` mode with 2 workers, and Beam's DaskRunner against a real
``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 (tests/support/dask_cluster.py).
Records must be byte-identical and the summaries equal (but for where each record is), a failed
dataset is a failed row and never fails the pipeline, and a Dask worker killed mid-run loses no
dataset and counts none twice.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("apache_beam")

from tests.conftest import CORPUS, write_jsonl  # noqa: E402
from tunestats import batch  # noqa: E402
from tunestats.beam import DASK_RUNNER, split_args  # noqa: E402

TOKENIZER = "cl100k_base"  # fast, and exact enough for equality
SHARD_BYTES = 4096  # the split dataset has many ranges
BEAM = [sys.executable, "-m", "tunestats.beam"]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("datasets")
    names = sorted(CORPUS.glob("*/*.jsonl"))
    out = [str(p) for p in names]
    rows = [
        {"prompt": f"question {k} " * (k % 7 + 1), "completion": "an answer"} for k in range(600)
    ]
    rows += ["", "[]", {"prompt": "long " * 400, "completion": "c"}]
    out.append(str(write_jsonl(folder / "split.jsonl", rows)))
    packed = folder / "packed.jsonl.gz"
    packed.write_bytes(gzip.compress(Path(out[-1]).read_bytes()))
    out.append(str(packed))
    (folder / "notes.jsonl").write_text("not json\n")
    out.append(str(folder / "notes.jsonl"))
    out.append(str(folder / "missing.jsonl"))
    return out


@pytest.fixture(scope="module")
def reference(datasets, tmp_path_factory) -> Path:
    """What tunestats batch writes for the datasets."""
    dest = tmp_path_factory.mktemp("batch") / "out"
    command = [sys.executable, "-m", "tunestats.cli", "batch", *datasets, "--out", str(dest)]
    done = subprocess.run(
        [*command, "--tokenizer", TOKENIZER, "--jobs", "1", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr  # notes.jsonl and missing.jsonl
    return dest


def beam_command(datasets: list[str], dest: Path, *runner: str) -> list[str]:
    return [*BEAM, *datasets, "--out", str(dest), "--tokenizer", TOKENIZER,
            "--shard-bytes", str(SHARD_BYTES), *runner]  # fmt: skip


def records(dest: Path) -> dict[str, bytes]:
    return {str(p.relative_to(dest)): p.read_bytes() for p in sorted(dest.rglob("*.stats.json"))}


def summary(dest: Path) -> list[dict]:
    rows = [json.loads(line) for line in (dest / "summary.jsonl").read_text().splitlines()]
    for row in rows:  # where the record is differs with DEST; what it holds does not
        if row["record"] is not None:
            row["record"] = str(Path(row["record"]).relative_to(dest))
    return rows


def assert_equal_to_batch(dest: Path, reference: Path) -> None:
    assert records(dest) == records(reference)
    assert summary(dest) == summary(reference)
    parquet = __import__("pyarrow.parquet", fromlist=["read_table"]).read_table
    ours, theirs = parquet(dest / "summary.parquet"), parquet(reference / "summary.parquet")
    assert ours.column_names == theirs.column_names and ours.num_rows == theirs.num_rows


def run_beam(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 1, done.stderr[-3000:]  # the failed datasets, nothing else
    assert "apitools" not in done.stderr
    return done


def test_in_process_runner_equals_batch(datasets, reference, tmp_path):
    dest = tmp_path / "beam"
    done = run_beam(beam_command(datasets, dest))
    assert_equal_to_batch(dest, reference)
    failed = sum(row["status"] == "failed" for row in summary(reference))
    line = f"{len(datasets)} datasets: {len(datasets) - failed} computed, 0 unchanged, {failed}"
    assert f"{line} failed; summary in {dest / 'summary.jsonl'}" in done.stdout


@pytest.mark.slow
def test_multi_processing_runner_equals_batch(datasets, reference, tmp_path):
    dest = tmp_path / "beam"
    mode = ["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"]
    run_beam(beam_command(datasets, dest, *mode))
    assert_equal_to_batch(dest, reference)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    pytest.importorskip("distributed")
    from tests.support.dask_cluster import DaskCluster

    with DaskCluster(tmp_path_factory.mktemp("cluster"), workers=2).start() as cluster:
        yield cluster


@pytest.mark.slow
def test_dask_runner_on_a_real_cluster_equals_batch(datasets, reference, dask_cluster, tmp_path):
    dest = tmp_path / "beam"
    runner = ["--runner", "DaskRunner", "--dask_client_address", dask_cluster.address]
    done = run_beam(beam_command(datasets, dest, *runner))
    assert_equal_to_batch(dest, reference)
    assert "Traceback" not in done.stderr  # the client is closed: no reconnect noise at exit


@pytest.mark.slow
def test_a_killed_dask_worker_loses_no_dataset_and_counts_none_twice(
    datasets, reference, dask_cluster, tmp_path
):
    many = [*datasets]
    folder = tmp_path / "more"
    folder.mkdir()
    for k in range(24):  # enough work that the kill lands mid-run
        rows = [{"prompt": f"p{k} {j} " * 50, "completion": "c " * 20} for j in range(400)]
        many.append(str(write_jsonl(folder / f"d{k:02}.jsonl", rows)))
    ours, theirs = tmp_path / "beam", tmp_path / "batch"
    subprocess.run(
        [sys.executable, "-m", "tunestats.cli", "batch", *many, "--out", str(theirs),
         "--tokenizer", TOKENIZER, "--jobs", "1", "--quiet"],
        capture_output=True, timeout=900,
    )  # fmt: skip
    runner = ["--runner", "DaskRunner", "--dask_client_address", dask_cluster.address]
    proc = subprocess.Popen(
        beam_command(many, ours, *runner), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 300
    while not list(ours.rglob("*.stats.json")) and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    killed = dask_cluster.kill_worker("w0")  # as an OOM kill would: the nanny starts another
    out, err = proc.communicate(timeout=900)
    assert killed and proc.returncode == 1, err.decode()[-3000:]
    rows = summary(ours)
    assert [r["uri"] for r in rows] == [r["uri"] for r in summary(theirs)]  # each once
    assert rows == summary(theirs)
    assert records(ours) == records(theirs)
    dask_cluster.wait_for_workers(2)


def test_options_the_command_does_not_own_go_to_beam():
    beams_own = ["--runner", "DaskRunner", "--dask_client_address", "tcp://127.0.0.1:1"]
    argv = ["a.jsonl", *beams_own, "--out", "stats", "--direct_num_workers", "2", "b.jsonl"]
    argv += ["--tokenizer", TOKENIZER]
    ours, beams = split_args(argv)
    assert ours == ["a.jsonl", "--out", "stats", "b.jsonl", "--tokenizer", TOKENIZER]
    assert beams == [*beams_own, "--direct_num_workers", "2"]
    help_text = subprocess.run([*BEAM, "--help"], capture_output=True, text=True, timeout=120)
    assert "goes to Beam" in " ".join(help_text.stdout.split())
    assert "--dask_client_address" in help_text.stdout


def test_dask_runner_is_named_as_users_name_it():
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from tunestats.beam import offline_direct_runner

    for name in ("DaskRunner", "dask"):
        options = PipelineOptions(["--runner", name])
        offline_direct_runner(options)
        assert options.view_as(StandardOptions).runner == DASK_RUNNER


def test_importing_tunestats_beam_prints_no_apitools_warning():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import logging, tunestats.beam; logging.getLogger('x').warning('w')",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert "apitools" not in done.stderr
    assert "WARNING:x:w" not in done.stderr  # and logging is left as it was: not configured


def test_a_failed_dataset_never_fails_the_pipeline(datasets, tmp_path):
    dest = tmp_path / "beam"
    bad = [d for d in datasets if d.endswith(("notes.jsonl", "missing.jsonl"))]
    done = run_beam(beam_command([*bad, datasets[0]], dest))
    rows = summary(dest)
    assert [r["status"] for r in rows] == ["failed", "failed", "computed"]
    assert rows[1]["error"].endswith("no such file or object") or "No such file" in rows[1]["error"]
    assert "2 failed" in done.stdout


def test_batch_summary_names_each_dataset_once(reference):
    rows = summary(reference)
    assert len({r["uri"] for r in rows}) == len(rows)
    assert batch.SUMMARY_NAME == "summary"


def test_a_failed_pipeline_still_leaves_a_summary_of_every_dataset(datasets, tmp_path):
    """A pipeline that fails (on Dask: a worker that died four times under one task) lists the
    datasets it counted and every other one as failed, with the pipeline's error."""
    from tunestats.beam.command import _rows_after_failure
    from tunestats.config.options import Options
    from tunestats.config.plan import make_plan

    plan = make_plan(Options(tokenizer=TOKENIZER))
    first, second = datasets[0], datasets[1]
    work = batch.work_of(batch.expand([first, second, str(tmp_path / "gone.jsonl")], []))
    dest = str(tmp_path / "out")
    counted = batch.save_record(dest, batch.count_whole(work.datasets[0], plan))
    rows = _rows_after_failure(work, dest, plan, RuntimeError("KilledWorker: w0 died"))
    assert [r.uri for r in rows] == work.order  # every dataset, once, in order
    assert rows[0] == counted
    assert rows[1].status == "failed" and rows[1].error.endswith("KilledWorker: w0 died")
    assert rows[1].error.startswith("the pipeline failed before this dataset was counted")
    assert rows[2] == work.failed[work.order[2]]
