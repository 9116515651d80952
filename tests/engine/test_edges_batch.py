"""Batch and names at their edges (issue 18, item 5): a file name that is not UTF-8, a batch
that would read its own outputs, ``::`` and ``file:`` in local file names.

Each test is a reproducer that failed before, through the CLI (``main``, in-process) and
:func:`tunestats.batch.run_batch`.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from tunestats import batch
from tunestats.cli import main
from tunestats.io import uris

OPTIONS = {"tokenizer": "cl100k_base"}
CLI_OPTIONS = ["--tokenizer", "cl100k_base", "--quiet", "--jobs", "1"]


def _rows(n: int) -> bytes:
    lines = []
    for i in range(n):
        row = {
            "messages": [
                {"role": "user", "content": f"q{i} " * (i + 1)},
                {"role": "model", "content": "a"},
            ]
        }
        lines.append(json.dumps(row))
    return ("\n".join(lines) + "\n").encode()


def _summary(dest: Path) -> list[dict]:
    """The summary, parsed strictly (orjson rejects lone surrogates), and its Parquet twin."""
    data = (dest / "summary.jsonl").read_bytes()
    rows = [orjson.loads(line) for line in data.decode("utf-8").splitlines()]
    assert pq.read_table(dest / "summary.parquet").column("uri").to_pylist() == [
        r["uri"] for r in rows
    ]
    return rows


def _stats_examples(source: str, capsys) -> int:
    """``tunestats stats SOURCE --json``: its example count."""
    capsys.readouterr()
    assert main(["stats", source, "--json", *CLI_OPTIONS[:3]]) == 0
    doc = json.loads(capsys.readouterr().out)
    return int(doc["supervisedTuningDataStats"]["tuningDatasetExampleCount"])


# --- a file name that is not UTF-8 -----------------------------------------------------------


@pytest.fixture
def bad_name_dir(tmp_path) -> Path:
    """A SOURCE directory with a good dataset and one named b"bad\\xff.jsonl"."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "good.jsonl").write_bytes(_rows(3))
    try:
        with open(os.path.join(os.fsencode(source), b"bad\xff.jsonl"), "wb") as f:
            f.write(_rows(4))
    except OSError as exc:  # a file system that takes UTF-8 names only
        pytest.skip(f"cannot make a file name that is not UTF-8 here: {exc}")
    return source


def test_a_file_name_that_is_not_utf8_is_one_failed_row(bad_name_dir, tmp_path, capsys):
    dest = tmp_path / "stats"
    code = main(["batch", str(bad_name_dir), "--out", str(dest), *CLI_OPTIONS])
    out, err = capsys.readouterr()
    assert code == 1  # a failed row, not a usage error, and the summary is written
    rows = _summary(dest)
    shown = f"{bad_name_dir}/bad\\xff.jsonl"
    assert [(r["uri"], r["status"]) for r in rows] == [
        (shown, "failed"),
        (f"{bad_name_dir}/good.jsonl", "computed"),
    ]
    assert rows[0]["error"].startswith(f"{shown}: the file name is not UTF-8")
    assert rows[0]["record"] is None
    assert "2 datasets: 1 computed, 0 unchanged, 1 failed" in out
    assert f"tunestats: error: {shown}: the file name is not UTF-8" in err
    # No record for it: everything under DEST has a UTF-8 name, and the rerun goes the same way.
    assert all(uris.is_utf8(str(p)) for p in dest.rglob("*"))
    assert main(["batch", str(bad_name_dir), "--out", str(dest), *CLI_OPTIONS]) == 1
    assert [r["status"] for r in _summary(dest)] == ["failed", "unchanged"]


def test_run_batch_goes_on_past_names_that_are_not_utf8(bad_name_dir, tmp_path):
    bad_dir = os.path.join(os.fsencode(tmp_path), b"dir\xfe")
    os.mkdir(bad_dir)
    with open(os.path.join(bad_dir, b"inner.jsonl"), "wb") as f:
        f.write(_rows(2))
    missing = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"gone\xfd.jsonl"))
    sources = [str(bad_name_dir), os.fsdecode(bad_dir), missing]
    result = batch.run_batch(sources, str(tmp_path / "out"), jobs=1, **OPTIONS)
    assert [(r.uri.rsplit("/", 1)[-1], r.status) for r in result.rows] == [
        ("bad\\xff.jsonl", "failed"),
        ("good.jsonl", "computed"),
        ("inner.jsonl", "failed"),  # its directory's name is not UTF-8
        ("gone\\xfd.jsonl", "failed"),  # a SOURCE that is not there: its row is valid text too
    ]
    assert all(uris.is_utf8(r.uri) and uris.is_utf8(r.error or "") for r in result.rows)
    assert result.rows[2].uri == f"{tmp_path}/dir\\xfe/inner.jsonl"
    assert "no such file" in result.rows[3].error
    _summary(tmp_path / "out")


def test_the_shown_name_of_a_bad_name_is_never_a_real_file_too(bad_name_dir, tmp_path):
    """A file literally named ``bad\\xff.jsonl`` (a backslash) is counted beside the bad one."""
    (bad_name_dir / "bad\\xff.jsonl").write_bytes(_rows(2))
    result = batch.run_batch([str(bad_name_dir)], str(tmp_path / "out"), jobs=1, **OPTIONS)
    assert sorted((r.status, r.examples) for r in result.rows) == [
        ("computed", 2),
        ("computed", 3),
        ("failed", None),
    ]


# --- a batch never reads its own outputs -----------------------------------------------------


def test_a_rerun_of_batch_dot_does_not_count_its_own_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("train.jsonl").write_bytes(_rows(3))
    for _ in range(2):
        assert main(["batch", ".", "--out", "stats", *CLI_OPTIONS]) == 0
        rows = _summary(tmp_path / "stats")
        assert [r["uri"] for r in rows] == [f"{tmp_path}/train.jsonl"]
    assert rows[0]["status"] == "unchanged"
    assert "1 datasets: 0 computed, 1 unchanged, 0 failed" in capsys.readouterr().out


def test_a_glob_over_everything_skips_dest_and_the_html_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("train.jsonl").write_bytes(_rows(3))
    args = ["batch", "**", "--out", "stats", "--html", "html", *CLI_OPTIONS]
    for _ in range(2):
        assert main(args) == 0
        assert [r["uri"] for r in _summary(tmp_path / "stats")] == [f"{tmp_path}/train.jsonl"]
    assert (tmp_path / "html" / "index.html").exists()  # it was there to be matched
    assert "1 datasets: 0 computed, 1 unchanged" in capsys.readouterr().out


def test_run_batch_excludes_dest_however_it_is_spelled(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_bytes(_rows(3))
    (tmp_path / "link").symlink_to(data)
    first = batch.run_batch([str(data)], str(data / "out"), jobs=1, **OPTIONS)
    assert [r.status for r in first.rows] == ["computed"]
    # The SOURCE through a link, DEST by its real path; then a listing made first (expand).
    again = batch.run_batch([str(tmp_path / "link")], str(data / "out"), jobs=1, **OPTIONS)
    assert [r.uri for r in again.rows] == [f"{tmp_path}/link/train.jsonl"]
    listed = batch.expand([str(data)])
    assert len(listed[0].datasets) == 2  # the summary is a .jsonl file: listed...
    kept = batch.run_batch(listed, f"{data}/./out/", jobs=1, **OPTIONS)
    assert [r.uri for r in kept.rows] == [f"{data}/train.jsonl"]  # ...but never counted


def test_a_source_that_names_only_outputs_is_a_failed_row(tmp_path, capsys):
    (tmp_path / "train.jsonl").write_bytes(_rows(3))
    dest = tmp_path / "stats"
    assert main(["batch", str(tmp_path), "--out", str(dest), *CLI_OPTIONS]) == 0
    summary = str(dest / "summary.jsonl")
    assert main(["batch", summary, str(tmp_path), "--out", str(dest), *CLI_OPTIONS]) == 1
    rows = _summary(dest)
    assert [r["status"] for r in rows] == ["failed", "unchanged"]
    assert rows[0]["error"] == (
        f"{summary}: names only files under {dest}, where the batch writes its outputs "
        "(a batch never reads them as datasets)"
    )


def test_a_remote_dest_is_excluded_too():
    root = f"memory://edges-{uuid.uuid4().hex[:8]}"
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe_file(f"{root}/train.jsonl", _rows(3))
    for status in ("computed", "unchanged"):
        result = batch.run_batch([f"{root}/"], f"{root}/out", jobs=1, **OPTIONS)
        assert [(r.uri.rsplit("/", 1)[-1], r.status) for r in result.rows] == [
            ("train.jsonl", status)
        ]
    assert fs.exists(f"{root}/out/summary.jsonl")


# --- `::` and `file:` in local names: one rule for stats and batch ---------------------------


def test_a_local_name_with_double_colons_is_a_path_in_batch_as_in_stats(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    Path("d").mkdir()
    Path("d/x::y.jsonl").write_bytes(_rows(3))
    assert _stats_examples("d/x::y.jsonl", capsys) == 3
    assert main(["batch", "d/x::y.jsonl", "--out", "stats", *CLI_OPTIONS]) == 0
    (row,) = _summary(tmp_path / "stats")
    assert (row["uri"], row["status"], row["examples"]) == (
        f"{tmp_path}/d/x::y.jsonl",
        "computed",
        3,
    )
    assert Path(row["record"]).resolve().is_relative_to(tmp_path / "stats")
    # A directory with "::" in its name is a prefix, and a glob under it works.
    Path("e::f").mkdir()
    Path("e::f/z.jsonl").write_bytes(_rows(2))
    result = batch.run_batch(["e::f", "e::f/*.jsonl"], "stats", jobs=1, **OPTIONS)
    assert [(r.uri, r.examples) for r in result.rows] == [(f"{tmp_path}/e::f/z.jsonl", 2)]


def test_an_existing_name_with_glob_characters_is_that_file(tmp_path):
    (tmp_path / "[a].jsonl").write_bytes(_rows(2))
    (tmp_path / "a.jsonl").write_bytes(_rows(5))  # what the glob "[a].jsonl" matches
    result = batch.run_batch([str(tmp_path / "[a].jsonl")], str(tmp_path / "o"), **OPTIONS)
    assert [(r.uri, r.examples) for r in result.rows] == [(f"{tmp_path}/[a].jsonl", 2)]
    glob = batch.run_batch([str(tmp_path / "[ab].jsonl")], str(tmp_path / "o"), **OPTIONS)
    assert [(r.uri, r.examples) for r in glob.rows] == [(f"{tmp_path}/a.jsonl", 5)]


def test_a_local_file_named_file_colon_is_that_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("file:x.jsonl").write_bytes(_rows(4))
    Path("x.jsonl").write_bytes(_rows(2))  # what fsspec's URL file:x.jsonl would read
    Path("y.jsonl").write_bytes(_rows(3))
    assert _stats_examples("file:x.jsonl", capsys) == 4
    assert main(["batch", "file:x.jsonl", "--out", "stats", *CLI_OPTIONS]) == 0
    (row,) = _summary(tmp_path / "stats")
    assert (row["uri"], row["examples"]) == (f"{tmp_path}/file:x.jsonl", 4)
    # With no file of that name, file:y.jsonl is fsspec's URL of ./y.jsonl, as before; a
    # file:// URL is always a URL.
    assert _stats_examples("file:y.jsonl", capsys) == 3
    url = f"file://{tmp_path}/x.jsonl"
    assert _stats_examples(url, capsys) == 2
    result = batch.run_batch(["file:y.jsonl", url], "stats", jobs=1, **OPTIONS)
    assert [(r.uri, r.examples) for r in result.rows] == [
        (f"{tmp_path}/y.jsonl", 3),
        (f"{tmp_path}/x.jsonl", 2),
    ]


def test_uris_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert uris.is_plain_path("d/x::y.jsonl")
    assert not uris.is_plain_path("file:x.jsonl")
    Path("file:x.jsonl").write_bytes(b"")
    assert uris.is_plain_path("file:x.jsonl")
    assert not uris.is_plain_path("file:///x.jsonl")
    assert not uris.is_plain_path("simplecache::gs://b/x.jsonl")
    assert uris.is_utf8("día.jsonl") and not uris.is_utf8(os.fsdecode(b"bad\xff"))
    assert uris.shown(os.fsdecode(b"bad\xff.jsonl")) == "bad\\xff.jsonl"
    assert uris.shown("\ud800x") == "\\ud800x"
    assert uris.shown("día") == "día"
