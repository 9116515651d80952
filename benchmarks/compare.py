"""tunestats against the cookbook, Hugging Face ``datasets`` and the tokenizer ceiling.

    python benchmarks/compare.py FILE [--jobs N] [--repeat K]
                                 [--paths tunestats,cookbook,hf,ceiling]

Runs every path on the same file, each in its own process (the file is read once beforehand so
that it sits in the page cache for all of them), and prints one row per path:

- ``seconds``: wall time of the whole process, start-up and imports included (for ``ceiling``:
  the counting alone, as measured inside it);
- ``MB/s``: size of the file in MB (10^6 bytes) per second;
- ``tunestats x``: that path's seconds over tunestats' (``4.0`` = tunestats is 4 times as fast;
  against the ceiling, the fraction of the ceiling tunestats reaches);
- ``RSS sum``, ``PSS sum``: peaks of the memory summed over the path's process tree, sampled
  every 50 ms (see ``measure.py``); ``max RSS``: the largest single process (``ru_maxrss``).

With ``--repeat K`` every path runs K times and its fastest run counts (memory: the highest
peaks of all K runs); on a shared or virtual machine, timings vary by 20% or more from run to run.

Then it checks that the paths agree: the example count, the sum, min, max, mean, median, p5 and
p95 of input and output tokens and of messages per example, equal in tunestats, the cookbook and
HF; the ceiling's token total equal to tunestats' ``totalBillableTokenCount`` (no image tokens in
generated data). Exit status 1 if any figure differs, 2 if a path fails.

Needs ``datasets`` for the HF path (``pip install -e '.[bench]'``); the path is skipped, with a
note, when it is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Measured, run_measured, warm_page_cache  # noqa: E402

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PATHS = ("tunestats", "cookbook", "hf", "ceiling")
COMPARED = ("sum", "min", "max", "mean", "median", "p5", "p95")
TARGETS = {"cookbook": 4.0, "hf": 7.0, "ceiling": 0.9}  # tunestats x, from the issue
RSS_TARGET = 250e6


@dataclass
class PathRun:
    name: str
    measured: Measured
    seconds: float
    stats: dict[str, Any]


def command(name: str, file: str, jobs: int) -> list[str]:
    if name == "tunestats":
        tunestats = BIN / "tunestats"
        head = [str(tunestats)] if tunestats.exists() else [sys.executable, "-m", "tunestats.cli"]
        return [*head, "stats", file, "--tokenizer", "cl100k_base", "--json", "--jobs", str(jobs)]
    return [sys.executable, str(HERE / "baselines.py"), name, file, "--jobs", str(jobs)]


def tunestats_stats(document: dict[str, Any]) -> dict[str, Any]:
    """The figures of a tunestats JSON document, as numbers shaped like the baselines' stats."""
    stats = document["supervisedTuningDataStats"]

    def distribution(key: str) -> dict[str, Any]:
        d = stats[key]
        figures = {k: int(float(d[k])) for k in COMPARED if k != "mean"}
        return {**figures, "mean": float(d["mean"])}

    return {
        "examples": int(stats["tuningDatasetExampleCount"]),
        "tokens": int(stats["totalBillableTokenCount"]),
        "input": distribution("userInputTokenDistribution"),
        "output": distribution("userOutputTokenDistribution"),
        "messages": distribution("userMessagePerExampleDistribution"),
    }


def run_path(name: str, file: str, jobs: int) -> PathRun:
    measured = run_measured(command(name, file, jobs))
    if measured.returncode != 0:
        raise RuntimeError(f"{name} failed ({measured.returncode}):\n{measured.stderr}")
    result = json.loads(measured.stdout)
    if name == "tunestats":
        return PathRun(name, measured, measured.seconds, tunestats_stats(result))
    seconds = result["seconds"] if name == "ceiling" else measured.seconds
    return PathRun(name, measured, seconds, result["stats"])


def best_of(name: str, file: str, jobs: int, repeat: int) -> PathRun:
    """The fastest of ``repeat`` runs, with the highest memory peaks seen in any of them."""
    runs = [run_path(name, file, jobs) for _ in range(repeat)]
    best = min(runs, key=lambda run: run.seconds)
    best.measured.peak_rss = max(run.measured.peak_rss for run in runs)
    best.measured.peak_pss = max(run.measured.peak_pss for run in runs)
    best.measured.max_rss = max(run.measured.max_rss for run in runs)
    return best


def differences(reference: dict[str, Any], other: dict[str, Any], name: str) -> list[str]:
    """Every figure of ``other`` that is not the reference's (tunestats')."""
    if name == "ceiling":
        if other["tokens"] != reference["tokens"]:
            return [f"ceiling: tokens {other['tokens']} != tunestats {reference['tokens']}"]
        return []
    problems = []
    for key in ("examples", "tokens"):
        if other[key] != reference[key]:
            problems.append(f"{name}: {key} {other[key]} != tunestats {reference[key]}")
    for dist in ("input", "output", "messages"):
        for key in COMPARED:
            mine, theirs = reference[dist][key], other[dist][key]
            if mine != theirs:
                problems.append(f"{name}: {dist}.{key} {theirs} != tunestats {mine}")
    return problems


def table(runs: list[PathRun], size: int) -> str:
    base = runs[0].seconds if runs and runs[0].name == "tunestats" else None
    header = (
        f"{'path':<10} {'seconds':>8} {'MB/s':>7} {'tunestats x':>11} "
        f"{'RSS sum MB':>10} {'PSS sum MB':>10} {'max RSS MB':>10}"
    )
    rows = [header, "-" * len(header)]
    for run in runs:
        ratio = f"{run.seconds / base:.2f}" if base else "-"
        m = run.measured
        rows.append(
            f"{run.name:<10} {run.seconds:>8.2f} {size / 1e6 / run.seconds:>7.1f} {ratio:>11} "
            f"{m.peak_rss / 1e6:>10.0f} {m.peak_pss / 1e6:>10.0f} {m.max_rss / 1e6:>10.0f}"
        )
    return "\n".join(rows)


def target_lines(runs: list[PathRun]) -> list[str]:
    by_name = {run.name: run for run in runs}
    if "tunestats" not in by_name:
        return []
    mine = by_name["tunestats"]
    lines = []
    for name, target in TARGETS.items():
        if name in by_name:
            ratio = by_name[name].seconds / mine.seconds
            verdict = "met" if ratio >= target else "NOT met"
            lines.append(f"target tunestats >= {target}x {name}: {ratio:.2f}x, {verdict}")
    rss = mine.measured.peak_rss
    verdict = "met" if rss <= RSS_TARGET else "NOT met"
    lines.append(
        f"target tunestats peak RSS sum <= {RSS_TARGET / 1e6:.0f} MB: {rss / 1e6:.0f} MB, {verdict}"
        " (the issue sets it for 50 MB and 5 GB inputs)"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--paths", default=",".join(PATHS), help="a comma-separated subset")
    parser.add_argument("--repeat", type=int, default=1, help="runs per path; the fastest counts")
    args = parser.parse_args(argv)
    names = [name for name in PATHS if name in args.paths.split(",")]
    if "hf" in names and importlib.util.find_spec("datasets") is None:
        print("note: datasets is not installed; skipping hf (pip install -e '.[bench]')")
        names.remove("hf")
    size = os.path.getsize(args.file)
    warm_page_cache(args.file)
    print(
        f"{args.file}: {size / 1e6:.1f} MB, --jobs {args.jobs}, --repeat {args.repeat}, "
        f"{os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    runs: list[PathRun] = []
    for name in names:
        try:
            runs.append(best_of(name, args.file, args.jobs, args.repeat))
        except (RuntimeError, json.JSONDecodeError) as exc:
            print(table(runs, size))
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(table(runs, size))
    for line in target_lines(runs):
        print(line)
    reference = next((run.stats for run in runs if run.name == "tunestats"), None)
    if reference is None:
        print("statistics: not checked (tunestats was not run)")
        return 0
    problems = [p for run in runs[1:] for p in differences(reference, run.stats, run.name)]
    if problems:
        print("statistics DIFFER:")
        print("\n".join(f"  {p}" for p in problems))
        return 1
    others = ", ".join(run.name for run in runs[1:]) or "no other path"
    print(f"statistics: identical in tunestats and {others}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
