"""Peak memory of tunestats on a large generated file (default 5 GB).

    python benchmarks/memory.py [--size 5GB] [--jobs N] [--shared-system] [--dir DIR]

Generates the file into a temporary folder (in ``--dir``, default the system's temporary
folder) after checking that the disk has room for 1.5 times the size (on all cores: one part per
core, seeds 0, 1, ..., appended to the first part one after another, each removed once
appended), runs
``tunestats stats FILE --tokenizer cl100k_base --json --jobs N`` on it, and prints the wall time,
the throughput and the peaks of RSS and PSS summed over tunestats' process tree (sampled every
50 ms, see ``measure.py``). The file is removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import RSS_TARGET, command  # noqa: E402
from generate import parse_size, write_dataset  # noqa: E402


def _write_part(args: tuple[str, int, int, bool]) -> tuple[int, int]:
    path, size, seed, shared_system = args
    return write_dataset(path, size, seed=seed, shared_system=shared_system)


def generate_parallel(path: str, size: int, parts: int, shared_system: bool) -> tuple[int, int]:
    """``parts`` generated files of ``size / parts`` bytes, in parallel, joined into ``path``."""
    names = [path] + [f"{path}.part{i}" for i in range(1, parts)]
    tasks = [(name, -(-size // parts), seed, shared_system) for seed, name in enumerate(names)]
    with multiprocessing.Pool(parts) as pool:
        counts = pool.map(_write_part, tasks)
    with open(path, "ab") as out:
        for name in names[1:]:
            with open(name, "rb") as part:
                shutil.copyfileobj(part, out, 8 << 20)
            os.remove(name)
    return sum(c for c, _ in counts), sum(w for _, w in counts)


from measure import run_measured  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="5GB", help="file size (50MB, 5GB, ...)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--shared-system", action="store_true")
    parser.add_argument("--dir", default=None, help="where to put the temporary file")
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    folder = args.dir or tempfile.gettempdir()
    free = shutil.disk_usage(folder).free
    if free < size * 1.5:
        print(
            f"refusing: {folder} has {free / 1e9:.1f} GB free, {size * 1.5 / 1e9:.1f} GB needed "
            "(1.5 times --size); pass --dir or a smaller --size",
            file=sys.stderr,
        )
        return 1
    workdir = tempfile.mkdtemp(prefix="tunestats-memory-", dir=folder)
    try:
        path = os.path.join(workdir, "data.jsonl")
        start = time.perf_counter()
        records, written = generate_parallel(path, size, os.cpu_count() or 1, args.shared_system)
        print(
            f"generated {path}: {records} records, {written / 1e6:.1f} MB "
            f"in {time.perf_counter() - start:.1f} s"
        )
        measured = run_measured(command("tunestats", path, args.jobs))
        if measured.returncode != 0:
            print(f"tunestats failed ({measured.returncode}):\n{measured.stderr}", file=sys.stderr)
            return 2
        verdict = "met" if measured.peak_rss <= RSS_TARGET else "NOT met"
        print(
            f"tunestats --jobs {args.jobs}: {measured.seconds:.2f} s, "
            f"{written / 1e6 / measured.seconds:.1f} MB/s\n"
            f"peak RSS sum {measured.peak_rss / 1e6:.0f} MB, "
            f"peak PSS sum {measured.peak_pss / 1e6:.0f} MB, "
            f"largest process {measured.max_rss / 1e6:.0f} MB\n"
            f"target peak RSS sum <= {RSS_TARGET / 1e6:.0f} MB: {verdict}"
        )
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
