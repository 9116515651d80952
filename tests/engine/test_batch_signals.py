"""``tunestats batch`` stopped by real signals: finished records stay, workers never outlive it.

Each test runs the installed ``tunestats`` command in its own process group and signals it
as a terminal (Ctrl-C: SIGINT to the group), a service manager (SIGTERM) or the OOM killer
(SIGKILL) would. Linux only: the children of a process are read from /proc.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.generate import write_dataset
from tunestats import batch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

TUNESTATS = str(Path(sys.executable).with_name("tunestats"))
OPTIONS = {"tokenizer": "cl100k_base"}
DATASETS = 12  # of CHUNK bytes each: a batch of a few seconds on two workers
CHUNK = 4 << 20


@pytest.fixture(scope="module")
def chunk(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("chunk") / "chunk.jsonl"
    write_dataset(str(path), CHUNK)
    return path


@pytest.fixture
def data(tmp_path, chunk) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    for i in range(DATASETS):
        shutil.copy(chunk, root / f"set{i:02}.jsonl")
    return root


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [TUNESTATS, "batch", *args, "--quiet"],
        cwd=cwd,
        stdout=open(cwd / "stdout.txt", "wb"),  # noqa: SIM115 - closed with the process
        stderr=open(cwd / "stderr.txt", "wb"),  # noqa: SIM115
        start_new_session=True,  # its own process group, as a shell's foreground job
    )


def _records(out: Path) -> list[Path]:
    return sorted(out.rglob("*.stats.json")) if out.exists() else []


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def children(pid: int) -> set[int]:
    """The live children of ``pid``: /proc/PID/task/*/children, else every /proc/*/stat."""
    found: set[int] = set()
    tasks = Path(f"/proc/{pid}/task")
    try:
        for task in tasks.iterdir():
            found.update(int(x) for x in (task / "children").read_text().split())
        return {c for c in found if alive(c)}
    except OSError:
        pass
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and int(stat[1]) == pid:
                found.add(int(entry.name))
    return {c for c in found if alive(c)}


def _stat(pid: int) -> list[str] | None:
    """State, ppid, ... of a process (the fields after its name), or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")  # a zombie has stopped for good


def _busy(pid: int) -> float:
    """CPU seconds a process has used (user + system)."""
    stat = _stat(pid)
    return 0.0 if stat is None else (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize(
    "signum, returncode, jobs",
    [
        (signal.SIGINT, 130, 2),
        (signal.SIGTERM, 143, 2),
        (signal.SIGKILL, -signal.SIGKILL, 2),
        (signal.SIGTERM, 143, 1),  # counting in the main process itself
    ],
    ids=["SIGINT", "SIGTERM", "SIGKILL", "SIGTERM-jobs1"],
)
def test_a_stopped_batch_keeps_every_finished_record(data, tmp_path, signum, returncode, jobs):
    out = tmp_path / "out"
    proc = _start(str(data), "--out", str(out), "--jobs", str(jobs), *_options(), cwd=tmp_path)
    try:
        _wait_for(lambda: len(_records(out)) >= 2 or proc.poll() is not None, 60, "2 records")
        assert proc.poll() is None, "the batch ended before it could be stopped"
        workers = children(proc.pid)
        assert len(workers) == (jobs if jobs > 1 else 0), "the pool's workers"
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)  # Ctrl-C: the whole foreground group
        else:
            os.kill(proc.pid, signum)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _wait_for(lambda: not any(alive(w) for w in workers), 5, "the workers to end")

    kept = _records(out)
    assert 2 <= len(kept) < DATASETS
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]  # no half-written record
    stamps = {}
    for path in kept:
        record = json.loads(path.read_text())  # each one whole
        assert batch.record_path(str(out), record["uri"]) == str(path)
        stamps[record["uri"]] = path.stat().st_mtime_ns
    # The summary is only written by a batch that ran to the end.
    assert not (out / "summary.jsonl").exists() and not (out / "summary.parquet").exists()

    again = batch.run_batch([str(data)], str(out), jobs=2, **OPTIONS)
    status = {r.uri: r.status for r in again.rows}
    assert {uri for uri, s in status.items() if s == "unchanged"} == set(stamps)
    assert {s for uri, s in status.items() if uri not in stamps} == {"computed"}
    reused = {r.uri: Path(r.record).stat().st_mtime_ns for r in again.rows if r.uri in stamps}
    assert reused == stamps  # not rewritten

    stderr = (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in stderr, stderr
    assert proc.returncode == returncode, (
        f"exit status {proc.returncode}, expected {returncode} (cli.py maps "
        f"batch.BatchInterrupted to its exit_code); stderr: {stderr}"
    )


def _options() -> list[str]:
    return [f"--{k.replace('_', '-')}={v}" for k, v in OPTIONS.items()]


def test_workers_end_when_the_batch_is_killed(tmp_path, chunk):
    """kill -9 of the batch's process: its pool workers, mid-count, end within a few seconds."""
    data = tmp_path / "big"
    data.mkdir()
    payload = chunk.read_bytes()
    # Compressed, so each file is one task of many seconds (more than this test waits).
    with gzip.open(data / "a.jsonl.gz", "wb", compresslevel=1) as f:
        for _ in range(24):
            f.write(payload)
    shutil.copy(data / "a.jsonl.gz", data / "b.jsonl.gz")
    proc = _start(str(data), "--out", str(tmp_path / "out"), "--jobs", "2", cwd=tmp_path)
    workers: set[int] = set()
    try:

        def counting() -> bool:
            workers.update(children(proc.pid))
            return proc.poll() is not None or (
                len(workers) == 2 and all(_busy(w) > 0.5 for w in workers)
            )

        _wait_for(counting, 60, "two workers counting")
        assert proc.poll() is None, "the batch ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        started = time.monotonic()
        _wait_for(lambda: not any(alive(w) for w in workers), 3, "the orphaned workers to end")
        assert time.monotonic() - started < 3
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
