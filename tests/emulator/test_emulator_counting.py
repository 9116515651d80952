"""Counts that never end, and stopping the emulator, with real processes and real signals.

A count runs in a worker process: a dataset that blocks (a file replaced by a FIFO after the
job was created, a Cloud Storage endpoint that never answers) fails its job after the count
timeout, a cancel ends its count and frees its place, and SIGINT or SIGTERM stop the
emulator at once, with no process and no temporary directory left behind.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

from tests.emulator.helpers import JOBS, emulators, local_emulator  # noqa: E402
from tunestats.emulator.lifecycle import Schedule  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and signals")

ROW = {
    "contents": [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "yo"}]},
    ]
}
# PENDING long enough to swap a dataset for a FIFO after create; then a quick RUNNING.
SCHEDULE = Schedule(pending=0.4, running=0.1, cancelling=0.1)
ENDED = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")


HTTP = httpx.Client(timeout=10)  # one client: a new one per request costs tens of ms


@pytest.fixture(scope="module", autouse=True)
def _close_http():
    yield
    HTTP.close()


def dataset(path: Path) -> str:
    path.write_text(json.dumps(ROW) + "\n")
    return str(path)


def create(url: str, uri: str) -> dict:
    body = {"baseModel": "gemini-2.5-flash", "supervisedTuningSpec": {"trainingDatasetUri": uri}}
    reply = HTTP.post(f"{url}/v1/{JOBS}", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def wait_state(url: str, name: str, states=ENDED, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = HTTP.get(f"{url}/v1/{name}").json()
        if job["state"] in states:
            return job
        assert time.monotonic() < deadline, f"{name} stayed {job['state']}"
        time.sleep(0.05)


def blocking(path: Path) -> None:
    """Replace a regular file with a FIFO nobody writes to: opening it blocks forever."""
    path.unlink()
    os.mkfifo(path)


def has_reader(fifo: Path) -> bool:
    """Whether some process has the FIFO open for reading (or waits in its open)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        assert exc.errno == errno.ENXIO
        return False
    os.close(fd)  # (this lets a waiting reader go on: to be asked only when none should be)
    return True


def blocked_job(url: str, tmp_path: Path, name: str) -> tuple[dict, Path]:
    """A job whose count is under way and blocked on a FIFO."""
    path = tmp_path / f"{name}.jsonl"
    job = create(url, dataset(path))
    blocking(path)
    wait_state(url, job["name"], ("JOB_STATE_RUNNING",))
    time.sleep(0.5)  # the count opens the FIFO and waits
    return job, path


@pytest.fixture
def start(tmp_path):
    """``start(count_timeout=...)``: an emulator of one's own on SCHEDULE; all stopped."""
    with emulators(tmp_path, SCHEDULE) as start:
        yield start


def test_a_count_that_never_ends_fails_its_job_after_the_timeout(start, tmp_path):
    emulator = start(count_timeout=2.0)
    job, fifo = blocked_job(emulator.url, tmp_path, "hang")
    failed = wait_state(emulator.url, job["name"])
    assert failed["state"] == "JOB_STATE_FAILED"
    assert failed["error"]["code"] == 4  # DEADLINE_EXCEEDED
    assert "took longer than 2 s" in failed["error"]["message"]
    assert "--count-timeout-seconds" in failed["error"]["message"]
    assert "tuningDataStats" not in failed and "endTime" in failed
    assert not has_reader(fifo)  # the count was stopped, not abandoned


def test_cancel_ends_the_count_and_frees_its_place(start, tmp_path):
    """Two blocked counts fill both places; cancelled, the next job is counted at once."""
    emulator = start(count_timeout=600)  # nothing but the cancel ends these counts
    jobs = [blocked_job(emulator.url, tmp_path, f"hang{i}") for i in range(2)]
    started = time.monotonic()
    for job, _ in jobs:
        assert HTTP.post(f"{emulator.url}/v1/{job['name']}:cancel", json={}).json() == {}
    for job, fifo in jobs:
        assert wait_state(emulator.url, job["name"])["state"] == "JOB_STATE_CANCELLED"
        assert not has_reader(fifo)
    fine = create(emulator.url, dataset(tmp_path / "fine.jsonl"))
    done = wait_state(emulator.url, fine["name"])
    assert done["state"] == "JOB_STATE_SUCCEEDED", done
    assert time.monotonic() - started < 15


class SilentServer:
    """A TCP server that accepts connections and never answers: an unreachable endpoint."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_an_endpoint_that_never_answers_holds_no_count_past_the_timeout(tmp_path, monkeypatch):
    silent = SilentServer()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", silent.url)
    try:
        quick = Schedule(pending=0.05, running=0.05)
        with local_emulator(tmp_path / "state", quick, count_timeout=1.5) as emu:
            names = [create(emu.url, f"gs://some-bucket/t{i}.jsonl")["name"] for i in range(2)]
            started = time.monotonic()
            for name in names:
                failed = wait_state(emu.url, name)
                assert failed["state"] == "JOB_STATE_FAILED" and failed["error"]["code"] == 4
            assert time.monotonic() - started < 6
            local = create(emu.url, dataset(tmp_path / "fine.jsonl"))
            assert wait_state(emu.url, local["name"])["state"] == "JOB_STATE_SUCCEEDED"
    finally:
        silent.close()


# --- the emulator as a command, stopped by signals ------------------------------------------------


class Command:
    """``python -m tunestats.cli emulator`` in a session of its own (to find its processes)."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tunestats.cli", "emulator", "--port", "0", *args],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        line = self.process.stdout.readline()
        assert line.startswith("tunestats emulator on http://127.0.0.1:"), line
        # "tunestats emulator on URL, data in DIR"
        self.url = line.split()[3].rstrip(",")
        self.data_dir = Path(line.rstrip("\n").split(", data in ", 1)[1])

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def wait_group_gone(self, timeout: float = 5) -> bool:
        deadline = time.monotonic() + timeout
        while self.group_alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def kill(self) -> None:
        if self.group_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


FAST_CLI = ("--pending-seconds", "0.4", "--running-seconds", "0.1", "--tokenizer", "cl100k_base")


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_emulator_even_with_counts_blocked(tmp_path, number):
    """With both count places blocked on FIFOs: the emulator exits 0 within seconds, its
    worker processes end with it, and its temporary data directory is removed."""
    command = Command("--allow-local-paths", *FAST_CLI)  # no --data-dir: a temporary one
    try:
        assert command.data_dir.is_dir() and (command.data_dir / "tuning_jobs.sqlite").exists()
        fine = create(command.url, dataset(tmp_path / "fine.jsonl"))
        assert wait_state(command.url, fine["name"])["state"] == "JOB_STATE_SUCCEEDED"
        fifos = [blocked_job(command.url, tmp_path, f"hang{i}")[1] for i in range(2)]
        started = time.monotonic()
        command.process.send_signal(number)
        assert command.process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        assert not command.data_dir.exists()
        assert command.wait_group_gone(), "a process of the emulator outlived it"
        assert not any(has_reader(fifo) for fifo in fifos)
    finally:
        command.kill()


def test_sigterm_while_idle_removes_the_temporary_directory(tmp_path):
    command = Command(*FAST_CLI)
    try:
        assert HTTP.get(f"{command.url}/v1/{JOBS}").json() == {"tuningJobs": []}
        command.process.send_signal(signal.SIGTERM)
        assert command.process.wait(timeout=15) == 0
        assert not command.data_dir.exists()
        assert command.wait_group_gone()
    finally:
        command.kill()


def test_workers_end_when_the_emulator_is_killed(tmp_path):
    """SIGKILL leaves no time to clean up; the worker blocked in a count ends all the same."""
    command = Command("--allow-local-paths", "--data-dir", str(tmp_path / "state"), *FAST_CLI)
    try:
        _, fifo = blocked_job(command.url, tmp_path, "hang")
        command.process.send_signal(signal.SIGKILL)
        assert command.process.wait(timeout=15) == -signal.SIGKILL
        assert command.wait_group_gone(), "a worker outlived the emulator"
        assert not has_reader(fifo)
    finally:
        command.kill()
