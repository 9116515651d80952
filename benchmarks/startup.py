"""Start-up time: tunestats on a one-line file, against an empty Python.

    python benchmarks/startup.py [--runs 10]

Writes a one-record Gemini file into a temporary folder, then times, as wall time of the whole
process, ``tunestats stats FILE --json`` (the default, exact Gemini tokenizer), the same with
``--tokenizer cl100k_base`` and, for reference,
``python -c pass`` (the interpreter alone), ``--runs`` times each, after one untimed run (so the
files are in the page cache). Prints the median and the minimum of each; the issue's target is
under 0.5 s for tunestats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import records  # noqa: E402

TARGET = 0.5


def wall_times(command: Sequence[str], runs: int) -> list[float]:
    subprocess.run(command, check=True, capture_output=True)  # untimed: warm the caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    tunestats = Path(sys.executable).parent / "tunestats"
    head = [str(tunestats)] if tunestats.exists() else [sys.executable, "-m", "tunestats.cli"]
    with tempfile.TemporaryDirectory(prefix="tunestats-startup-") as folder:
        path = os.path.join(folder, "one.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(records(1)[0], ensure_ascii=False) + "\n")
        commands = {
            # the default: the exact Gemini 2.x tokenizer, loaded on first use
            "tunestats (gemini)": [*head, "stats", path, "--json"],
            "tunestats (cl100k_base)": [
                *head,
                "stats",
                path,
                "--json",
                "--tokenizer",
                "cl100k_base",
            ],
            "python -c pass": [sys.executable, "-c", "pass"],
        }
        for name, command in commands.items():
            times = wall_times(command, args.runs)
            print(
                f"{name:<24} median {statistics.median(times):.3f} s, "
                f"min {min(times):.3f} s ({args.runs} runs)"
            )
            if name.startswith("tunestats"):
                verdict = "met" if statistics.median(times) < TARGET else "NOT met"
                print(f"{'':<24} target median < {TARGET} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
