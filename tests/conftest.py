"""Shared helpers: write small JSONL files, count tokens independently with tiktoken; and the
loopback guard: no test, and no process a test starts, contacts anything but 127.0.0.1/::1."""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import tempfile
import threading
from pathlib import Path

import pytest

# --- loopback only (tests/support/netguard/sitecustomize.py) ------------------------------------

_GUARD_DIR = Path(__file__).resolve().parent / "support" / "netguard"


def _load_guard():
    spec = importlib.util.spec_from_file_location(
        "_tunestats_netguard", _GUARD_DIR / "sitecustomize.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_NET_LOG = Path(tempfile.mkdtemp(prefix="tunestats-net-")) / "refused.log"
_NET_LOG.touch()
_guard = _load_guard()


class _MetadataTrap(http.server.BaseHTTPRequestHandler):
    """Where Google's auth library finds "the metadata server" in every test process: any
    request is recorded as a refusal (and answered 404, so nobody waits)."""

    def _trap(self) -> None:
        _guard.record(f"metadata server asked: {self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = _trap

    def log_message(self, *args: object) -> None:
        pass


_trap = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MetadataTrap)
threading.Thread(target=_trap.serve_forever, daemon=True, name="metadata-trap").start()
_TRAP_ADDRESS = f"127.0.0.1:{_trap.server_address[1]}"
os.environ.update(
    {
        "TUNESTATS_NET_GUARD": "1",
        "TUNESTATS_NET_LOG": str(_NET_LOG),
        # google-auth reads these when it is imported, in this process and in subprocesses.
        "GCE_METADATA_HOST": _TRAP_ADDRESS,
        "GCE_METADATA_IP": _TRAP_ADDRESS,
        # Subprocesses import the guard as their sitecustomize.
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(_GUARD_DIR), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
)
_guard.install()


def refused_since(offset: int) -> list[str]:
    """What the guard refused (in any test process) since ``offset`` bytes of its log."""
    with open(_NET_LOG, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace").splitlines()


@pytest.fixture(autouse=True)
def loopback_only():
    """Fail the test that contacted (or looked up) anything but a loopback address."""
    start = _NET_LOG.stat().st_size
    yield
    refused = refused_since(start)
    if refused:
        pytest.fail(
            "contacted outside loopback (tests may reach only 127.0.0.0/8 and ::1): "
            + "; ".join(refused[:5])
            + (f" and {len(refused) - 5} more" if len(refused) > 5 else ""),
            pytrace=False,
        )


def pytest_sessionfinish(session, exitstatus):
    """Refusals outside any test (session fixtures, teardown) fail the run too."""
    refused = refused_since(0)
    if refused and session.exitstatus == 0:
        print("\ncontacted outside loopback:", *refused[:20], sep="\n  ")
        session.exitstatus = 1


# --- shared helpers ---------------------------------------------------------------------------

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
