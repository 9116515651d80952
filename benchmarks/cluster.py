"""Beam on a Dask cluster against ``tunestats batch``: the same files, in the same run (issue 20).

    python benchmarks/cluster.py [--files 200] [--size 3MB] [--big 200MB] [--workers 1 2]
                                 [--jobs 1 2] [--dir DIR] [--beam-args '--dask_partition_size 1']

Generates ``--files`` datasets of ``--size`` each (seeds 0, 1, ...) plus one of ``--big``
(uncompressed, so every path splits it into byte ranges) into a temporary folder, reads them
once (page cache), then times, one after another:

- ``batch --jobs N``: ``tunestats batch DIR --out OUT --jobs N`` for each ``--jobs``;
- ``dask N workers``: a fresh cluster of N ``dask worker`` processes (one thread each, with
  their nanny; tests/support/dask_cluster.py) on 127.0.0.1, then ``python -m tunestats.beam DIR
  --out OUT --runner DaskRunner --dask_client_address ADDRESS``, for each ``--workers``. The
  cluster's start is not timed (a user's cluster is already up); its processes are measured.

For each it prints wall seconds, datasets/s, MB/s (bytes as stored), the peaks of RSS and PSS
summed over the command's process tree, and for Dask also over the cluster's processes
(scheduler, nannies, workers; see ``measure.py``); then whether each Beam run's records and
summary equal the batch's, byte for byte (the summary's rows without their record path).
``cl100k_base`` throughout. The folder is removed at the end.

The command picks the Dask partitions itself (two per worker thread); ``--beam-args
'--dask_npartitions 201'`` and the like try others. ``--beam-module`` runs another copy of the
command (a module that the workers can import too, via ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests.support.dask_cluster

from generate import parse_size, write_dataset  # noqa: E402
from measure import PERIOD, run_measured, tree_memory, warm_page_cache  # noqa: E402

from tests.support.dask_cluster import DaskCluster  # noqa: E402

TUNESTATS = [sys.executable, "-m", "tunestats.cli"]
TOKENIZER = ["--tokenizer", "cl100k_base"]
WORKER_MEMORY = "4GiB"  # per worker process: the 200 MB dataset's ranges and their accumulators


@dataclass
class Timed:
    """One path: its wall time and memory peaks (bytes); ``error`` when it failed."""

    name: str
    seconds: float
    peak_rss: int
    peak_pss: int
    cluster_rss: int = 0
    cluster_pss: int = 0
    error: str | None = None
    equal: bool | None = None  # Beam: records and summary equal the batch's
    load: float = 0.0  # the 1-minute load average when it ended: this machine is shared


class _ClusterSampler(threading.Thread):
    """Peak summed RSS and PSS of the cluster's processes while a command runs."""

    def __init__(self, cluster: DaskCluster) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.peak_rss = self.peak_pss = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            rss = pss = 0
            for root in self.cluster.roots():
                r, p = tree_memory(root)
                rss, pss = rss + r, pss + p
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.done.wait(PERIOD)


def _write_one(job: tuple[str, int, int]) -> int:
    path, size, seed = job
    return write_dataset(path, size, seed=seed)[1]


def make_datasets(folder: Path, files: int, size: int, big: int) -> list[Path]:
    """``files`` datasets of ``size`` and one of ``big``, written on every core."""
    jobs = [(str(folder / f"set{seed:03d}.jsonl"), size, seed) for seed in range(files)]
    if big:
        jobs.insert(0, (str(folder / "big.jsonl"), big, 10_000))  # the longest first
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(_write_one, jobs))
    return [Path(path) for path, _, _ in jobs]


def _failed(name: str, seconds: float, code: int, stderr: str) -> Timed:
    tail = " | ".join(stderr.strip().splitlines()[-3:])
    return Timed(name, seconds, 0, 0, error=f"exit {code}: {tail}")


def run_batch(data: Path, out: Path, jobs: int) -> Timed:
    command = [*TUNESTATS, "batch", str(data), "--out", str(out), *TOKENIZER]
    m = run_measured([*command, "--jobs", str(jobs), "--quiet"])
    name = f"batch --jobs {jobs}"
    if m.returncode != 0:
        return _failed(name, m.seconds, m.returncode, m.stderr)
    return Timed(name, m.seconds, m.peak_rss, m.peak_pss)


def run_dask(
    data: Path, out: Path, work: Path, workers: int, module: str, extra: Sequence[str]
) -> Timed:
    name = f"dask {workers} worker{'s' if workers > 1 else ''}"
    cluster = DaskCluster(
        work / f"cluster-{workers}", workers=workers, memory_limit=WORKER_MEMORY, cwd=work
    )
    with cluster.start(timeout=120):
        command = [sys.executable, "-m", module, str(data), "--out", str(out), *TOKENIZER]
        # As the issue has users call it: Dask's own options, given to the command as they are.
        command += ["--runner", "DaskRunner", "--dask_client_address", cluster.address, *extra]
        sampler = _ClusterSampler(cluster)
        sampler.start()
        try:
            m = run_measured(command)
        finally:
            sampler.done.set()
            sampler.join()
    if m.returncode != 0:
        return _failed(name, m.seconds, m.returncode, m.stderr)
    return Timed(
        name, m.seconds, m.peak_rss, m.peak_pss, sampler.peak_rss, sampler.peak_pss, error=None
    )


def same_as_batch(batch_out: Path, beam_out: Path) -> bool:
    """Byte-equal records, and summary rows equal but for the path of their record."""

    def rows(out: Path) -> list[dict]:
        lines = (out / "summary.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line]

    expected, got = rows(batch_out), rows(beam_out)
    if [{**r, "record": None} for r in expected] != [{**r, "record": None} for r in got]:
        return False
    for row in expected:
        if row.get("record"):
            mirrored = Path(str(row["record"]).replace(str(batch_out), str(beam_out), 1))
            if not mirrored.is_file() or mirrored.read_bytes() != Path(row["record"]).read_bytes():
                return False
    return True


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200, help="how many small datasets")
    parser.add_argument("--size", default="3MB", help="size of each small dataset")
    parser.add_argument("--big", default="200MB", help="size of the one large dataset (0: none)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Dask workers")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="batch --jobs")
    parser.add_argument("--dir", default=None, help="where to put the temporary folder")
    parser.add_argument("--beam-module", default="tunestats.beam", help="the Beam command")
    parser.add_argument(
        "--beam-args", default="", help="more Beam options, one string: '--dask_partition_size 1'"
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="tunestats-cluster-", dir=args.dir)).resolve()
    here = os.getcwd()
    # Every command and worker starts in the temporary folder, not in a checkout: they import
    # the installed tunestats (or, through PYTHONPATH, the copy --beam-module names).
    os.chdir(work)
    try:
        data = work / "data"
        data.mkdir()
        started = time.perf_counter()
        paths = make_datasets(data, args.files, parse_size(args.size), parse_size(args.big))
        stored = sum(p.stat().st_size for p in paths)
        print(
            f"{len(paths)} datasets, {_mb(stored)} as stored (generated in "
            f"{time.perf_counter() - started:.0f} s), cl100k_base, load average "
            f"{os.getloadavg()[0]:.2f}"
        )
        for path in paths:
            warm_page_cache(str(path))

        results: list[Timed] = []
        reference: Path | None = None
        for jobs in args.jobs:
            out = work / f"batch-{jobs}"
            results.append(run_batch(data, out, jobs))
            results[-1].load = os.getloadavg()[0]
            reference = reference or (out if results[-1].error is None else None)
        for workers in args.workers:
            out = work / f"dask-{workers}"
            timed = run_dask(
                data, out, work, workers, args.beam_module, shlex.split(args.beam_args)
            )
            timed.load = os.getloadavg()[0]
            if timed.error is None and reference is not None:
                timed.equal = same_as_batch(reference, out)
            results.append(timed)

        print(
            f"{'path':<16} {'seconds':>8} {'datasets/s':>10} {'MB/s':>6} {'peak RSS':>9} "
            f"{'peak PSS':>9} {'cluster RSS':>11} {'cluster PSS':>11} {'load':>5}  same as batch"
        )
        for r in results:
            if r.error is not None:
                print(f"{r.name:<16} {r.seconds:>8.1f}  FAILED {r.error}")
                continue
            same = {None: "-", True: "yes", False: "NO"}[r.equal]
            print(
                f"{r.name:<16} {r.seconds:>8.1f} {len(paths) / r.seconds:>10.1f} "
                f"{stored / r.seconds / 1e6:>6.1f} {_mb(r.peak_rss):>9} {_mb(r.peak_pss):>9} "
                f"{_mb(r.cluster_rss):>11} {_mb(r.cluster_pss):>11} {r.load:>5.1f}  {same}"
            )
        failed = any(r.error is not None or r.equal is False for r in results)
    finally:
        os.chdir(here)
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
