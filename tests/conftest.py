"""Shared helpers: write small JSONL files, count tokens independently with tiktoken."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# The project's shared/ folder sits beside the clone (as in CI); TUNESTATS_SHARED overrides.
SHARED = Path(os.environ.get("TUNESTATS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CORPUS = SHARED / "corpus"
REFERENCE = SHARED / "reference"


def write_jsonl(path: Path, rows: list) -> Path:
    """Rows are dicts (dumped as JSON), str (written as is) or bytes (written raw)."""
    data = b""
    for row in rows:
        if isinstance(row, bytes):
            data += row + b"\n"
        elif isinstance(row, str):
            data += row.encode() + b"\n"
        else:
            data += json.dumps(row, ensure_ascii=False).encode() + b"\n"
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def cl100k():
    """An independent token counter: tiktoken's own BPE over the same encoding file."""
    from tunestats.tokenizers import tiktoken_encoding

    enc = tiktoken_encoding("cl100k_base")
    return lambda text: len(enc.encode_ordinary(text))


@pytest.fixture
def jsonl(tmp_path):
    counter = iter(range(10**6))

    def make(rows: list, name: str | None = None) -> Path:
        return write_jsonl(tmp_path / (name or f"data{next(counter)}.jsonl"), rows)

    return make


@pytest.fixture(scope="session")
def gcs_server():
    """The local GCS server of the whole session; STORAGE_EMULATOR_HOST points at it."""
    from tests.support.gcs import GcsServer

    server = GcsServer().start()
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = server.url
    yield server
    server.stop()
    if previous is None:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = previous


@pytest.fixture
def bucket(gcs_server):
    """A new, empty bucket on the local GCS server."""
    from tests.support.gcs import Bucket, gcs_filesystem

    return Bucket(gcs_filesystem()).create()


@pytest.fixture
def emulator(tmp_path):
    """A running TuningJob emulator with a fast schedule, its state under tmp_path/emulator."""
    pytest.importorskip("starlette")
    from tunestats.emulator import Emulator
    from tunestats.emulator.lifecycle import Schedule

    schedule = Schedule(pending=0.1, running=0.3, cancelling=0.2, operation=0.1)
    emu = Emulator(
        data_dir=str(tmp_path / "emulator"),
        schedule=schedule,
        tokenizer="cl100k_base",
        allow_local_paths=True,
    ).start()
    yield emu
    emu.stop()
