"""What the emulator's test modules share: the paths of a parent's jobs, a job's body, and
emulators that count with cl100k_base and take local dataset paths.

Import it after ``pytest.importorskip("starlette")``: the emulator needs its extra. The shared
fixture (``local``) is in conftest.py, built on :func:`local_emulator`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tunestats.emulator import Emulator
from tunestats.emulator.lifecycle import Schedule

PARENT = "projects/proj/locations/us-central1"
JOBS = f"{PARENT}/tuningJobs"
# Jobs that never leave PENDING: nothing is counted, so no gs:// URI reaches the network.
IDLE = Schedule(pending=3600, running=3600)


def job(uri: str = "gs://some-bucket/train.jsonl", **extra: Any) -> dict:
    """The body of a create: supervised tuning of gemini-2.5-flash on ``uri``."""
    return {
        "baseModel": "gemini-2.5-flash",
        "supervisedTuningSpec": {"trainingDatasetUri": uri},
        **extra,
    }


def local_emulator(data_dir: Path, schedule: Schedule = IDLE, **options: Any) -> Emulator:
    """An emulator (not started yet) with its data in ``data_dir``, counting with cl100k_base
    and taking local dataset paths, unless ``options`` (Emulator's fields) say otherwise."""
    options = {"tokenizer": "cl100k_base", "allow_local_paths": True, **options}
    return Emulator(data_dir=str(data_dir), schedule=schedule, **options)


@contextlib.contextmanager
def emulators(folder: Path, schedule: Schedule) -> Iterator[Callable[..., Emulator]]:
    """``start(name="own", **options)``: a started :func:`local_emulator` on ``schedule`` (or
    the options' own) with its data in folder/name. All are stopped on leaving."""
    started: list[Emulator] = []

    def start(name: str = "own", **options: Any) -> Emulator:
        options.setdefault("schedule", schedule)
        emu = local_emulator(folder / name, **options).start()
        started.append(emu)
        return emu

    try:
        yield start
    finally:
        for emu in started:
            emu.stop()
