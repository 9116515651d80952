"""Nothing leaves 127.0.0.1: the suite's guard, and tunestats with a local GCS server.

The guard (``tests/support/netguard/sitecustomize.py``, installed by ``tests/conftest.py``) is
tested first: it refuses and records connections and name lookups outside loopback, in this
process and in subprocesses. Then tunestats itself: with ``STORAGE_EMULATOR_HOST`` set, the
command line (``stats``, ``batch``, a ``gs://`` tokenizer file), the Python API, Beam and the
emulator's count workers reach only that server. Those runs are made with Google's default
metadata addresses (169.254.169.254, ``metadata.google.internal``) restored, so any credential
lookup would be seen by the guard as what it would be on a real machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tunestats
from tests.conftest import CORPUS

TUNESTATS = [sys.executable, "-m", "tunestats.cli"]
EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "example.jsonl"
GEMINI = CORPUS / "gemini" / "patient_glucose_sysinstr.jsonl"


@pytest.fixture
def private_log(tmp_path, monkeypatch):
    """Refusals of this test go to a file of its own (so that refusing on purpose passes)."""
    log = tmp_path / "refused.log"
    log.touch()
    monkeypatch.setenv("TUNESTATS_NET_LOG", str(log))
    return log


@pytest.fixture
def real_defaults(private_log, monkeypatch):
    """The environment of a real machine: google-auth would ask 169.254.169.254."""
    monkeypatch.delenv("GCE_METADATA_HOST", raising=False)
    monkeypatch.delenv("GCE_METADATA_IP", raising=False)
    return private_log


def refusals(log: Path) -> list[str]:
    return log.read_text().splitlines()


# --- the guard ----------------------------------------------------------------------------------


def test_guard_refuses_and_records_a_connection_outside_loopback(private_log):
    with socket.socket() as s, pytest.raises(ConnectionRefusedError, match="192.0.2.1"):
        s.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed anywhere
    with socket.socket(socket.AF_INET6) as s, pytest.raises(ConnectionRefusedError):
        s.connect_ex(("2001:db8::1", 443))
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s,
        pytest.raises(ConnectionRefusedError),
    ):
        s.sendto(b"x", ("192.0.2.53", 53))
    lines = refusals(private_log)
    assert len(lines) == 3
    assert "192.0.2.1" in lines[0] and "2001:db8::1" in lines[1] and "192.0.2.53" in lines[2]


def test_guard_refuses_name_lookups_but_not_loopback(private_log):
    for host in ("storage.googleapis.com", "metadata.google.internal", "example.invalid"):
        with pytest.raises(socket.gaierror, match="refused"):
            socket.getaddrinfo(host, 443)
    with pytest.raises(socket.gaierror):
        socket.gethostbyname("oauth2.googleapis.com")
    assert len(refusals(private_log)) == 4
    # Loopback works as ever: a lookup, and a connection to a listening socket.
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo("::1", 80) and socket.getaddrinfo("127.0.0.5", 80)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    assert len(refusals(private_log)) == 4


def test_guard_expected_lookups_are_refused_without_a_record(private_log, monkeypatch):
    monkeypatch.setenv("TUNESTATS_NET_EXPECT", "no-such-host.invalid")
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("no-such-host.invalid", 80)
    assert refusals(private_log) == []


def test_guard_is_in_every_subprocess(private_log):
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
        "except ConnectionRefusedError as e:\n"
        "    print('refused', e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("refused"), done.stderr
    assert "192.0.2.1" in refusals(private_log)[0]


def test_metadata_server_of_the_suite_is_a_trap(private_log):
    """google-auth, asked for default credentials, finds the suite's trap and no server."""
    code = (
        "import google.auth, google.auth.exceptions\n"
        "try:\n"
        "    google.auth.default()\n"
        "except google.auth.exceptions.DefaultCredentialsError:\n"
        "    print('no credentials')\n"
    )
    env = {**os.environ, "HOME": str(private_log.parent), "GOOGLE_APPLICATION_CREDENTIALS": ""}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert "no credentials" in done.stdout, done.stderr
    assert any("metadata server asked" in line for line in refusals(private_log))


# --- tunestats with STORAGE_EMULATOR_HOST -------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TUNESTATS, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": "", **(env or {})},
    )


def test_stats_and_batch_on_gs_reach_only_the_local_server(bucket, real_defaults, tmp_path):
    uri = bucket.put("train.jsonl", EXAMPLE.read_bytes())
    done = _cli("stats", uri, "--json")
    assert done.returncode in (0, 3), done.stderr
    assert json.loads(done.stdout) == tunestats.compute(str(EXAMPLE)).to_dict()
    done = _cli("batch", uri, "--out", bucket.uri("stats"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert refusals(real_defaults) == []


def test_tokenizer_file_on_gs_is_read_from_the_local_server(bucket, real_defaults):
    from tunestats.tokenizers import shipped_model_bytes

    tok = bucket.put("tokenizer.model", shipped_model_bytes("gemma2"))
    uri = bucket.put("train.jsonl", EXAMPLE.read_bytes())
    done = _cli("stats", uri, "--json", "--model", "gemini-1.5-flash-002", "--tokenizer-model", tok)
    assert done.returncode in (0, 3), done.stderr
    assert "exact" in done.stderr
    assert refusals(real_defaults) == []


def test_python_api_on_gs_reaches_only_the_local_server(bucket, private_log):
    """In this process google-auth reads the trap's address: the trap must stay unasked."""
    path = GEMINI
    uri = bucket.put("corpus.jsonl", path.read_bytes())
    remote = tunestats.compute(uri, tokenizer="cl100k_base", jobs=2, shard_bytes=1 << 20)
    assert remote.to_dict() == tunestats.compute(str(path), tokenizer="cl100k_base").to_dict()
    assert refusals(private_log) == []


def test_beam_on_gs_reaches_only_the_local_server(bucket, real_defaults):
    pytest.importorskip("apache_beam")
    uri = bucket.put("beam/train.jsonl", EXAMPLE.read_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "tunestats.beam", uri, "--out", bucket.uri("beam-stats")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": ""},
    )
    assert done.returncode == 0, done.stderr
    assert refusals(real_defaults) == []


def test_emulator_count_workers_reach_only_the_local_server(bucket, real_defaults, tmp_path):
    pytest.importorskip("starlette")
    import httpx

    from tunestats.emulator import Emulator
    from tunestats.emulator.lifecycle import Schedule

    uri = bucket.put("emulator/train.jsonl", GEMINI.read_bytes())
    emu = Emulator(
        data_dir=str(tmp_path / "emu"),
        schedule=Schedule(pending=0.05, running=0.1, cancelling=0.1, operation=0.05),
    ).start()
    try:
        parent = "projects/p/locations/us-central1"
        body = {
            "baseModel": "gemini-2.5-flash",
            "supervisedTuningSpec": {"trainingDatasetUri": uri},
        }
        with httpx.Client(base_url=emu.url, timeout=30) as http:
            job = http.post(f"/v1/{parent}/tuningJobs", json=body).json()
            deadline = time.monotonic() + 120
            while job["state"] not in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED"):
                assert time.monotonic() < deadline
                time.sleep(0.1)
                job = http.get(f"/v1/{job['name']}").json()
        assert job["state"] == "JOB_STATE_SUCCEEDED", job
        assert "tuningDataStats" in job
    finally:
        emu.stop()
    assert refusals(real_defaults) == []
