"""Many datasets at once: ``tunestats batch`` against running ``tunestats stats`` per file.

    python benchmarks/batch.py [--files 40] [--size 5MB] [--jobs N] [--dir DIR] [--gzip K]

Generates ``--files`` datasets of ``--size`` each (seeds 0, 1, ...; the last ``--gzip`` of them
gzip-compressed, which cannot be split) into a temporary folder, then times, in one invocation:

- ``stats loop``: ``tunestats stats FILE --json --jobs N`` once per file, one after another
  (what a shell loop over a bucket does: files under 16 MiB are read by one process);
- ``batch``: ``tunestats batch DIR --out OUT --jobs N`` (datasets spread over the cores);
- ``batch rerun``: the same command again, every record reused.

For each it prints wall seconds, MB/s of dataset bytes (as stored) and the peaks of RSS and PSS
summed over the process tree (see ``measure.py``), and checks that the batch's records equal the
``stats`` documents. ``cl100k_base`` throughout. The folder is removed at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import parse_size, write_dataset  # noqa: E402
from measure import run_measured  # noqa: E402

TUNESTATS = [sys.executable, "-m", "tunestats.cli"]


def make_datasets(folder: Path, files: int, size: int, gzipped: int) -> list[Path]:
    paths = []
    for seed in range(files):
        path = folder / f"set{seed:03d}.jsonl"
        write_dataset(str(path), size, seed=seed)
        if seed >= files - gzipped:
            packed = path.with_suffix(".jsonl.gz")
            packed.write_bytes(gzip.compress(path.read_bytes(), compresslevel=1))
            path.unlink()
            path = packed
        paths.append(path)
    return paths


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--size", default="5MB", help="size of each dataset")
    parser.add_argument("--gzip", type=int, default=4, help="how many of them gzip-compressed")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dir", default=None, help="where to put the temporary folder")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="tunestats-batch-", dir=args.dir))
    try:
        data = work / "data"
        data.mkdir()
        paths = make_datasets(data, args.files, parse_size(args.size), args.gzip)
        stored = sum(p.stat().st_size for p in paths)
        print(f"{len(paths)} datasets, {_mb(stored)} as stored, jobs {args.jobs}, cl100k_base")
        common = ["--tokenizer", "cl100k_base", "--jobs", str(args.jobs), "--quiet"]

        loop_seconds, loop_rss, loop_pss, documents = 0.0, 0, 0, {}
        for path in paths:
            m = run_measured([*TUNESTATS, "stats", str(path), "--json", *common])
            assert m.returncode == 0, m.stderr
            loop_seconds += m.seconds
            loop_rss, loop_pss = max(loop_rss, m.peak_rss), max(loop_pss, m.peak_pss)
            documents[str(path)] = json.loads(m.stdout)

        out = work / "out"
        batch_cmd = [*TUNESTATS, "batch", str(data), "--out", str(out), *common]
        first = run_measured(batch_cmd)
        assert first.returncode == 0, first.stderr
        rerun = run_measured(batch_cmd)
        assert rerun.returncode == 0, rerun.stderr

        rows = [json.loads(x) for x in (out / "summary.jsonl").read_text().splitlines()]
        for row in rows:
            record = json.loads(Path(row["record"]).read_text())
            assert record["tuningDataStats"] == documents[row["uri"]], row["uri"]
        print("batch records equal the stats documents: yes")

        print(f"{'path':<12} {'seconds':>8} {'MB/s':>7} {'peak RSS':>9} {'peak PSS':>9}")
        for name, seconds, rss, pss in (
            ("stats loop", loop_seconds, loop_rss, loop_pss),
            ("batch", first.seconds, first.peak_rss, first.peak_pss),
            ("batch rerun", rerun.seconds, rerun.peak_rss, rerun.peak_pss),
        ):
            print(
                f"{name:<12} {seconds:>8.1f} {stored / seconds / 1e6:>7.1f} "
                f"{_mb(rss):>9} {_mb(pss):>9}"
            )
        print(f"batch is {loop_seconds / first.seconds:.2f}x the stats loop")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
