"""A real dask.distributed cluster on 127.0.0.1: a ``dask scheduler`` and ``dask worker`` processes.

What a user with a Dask cluster runs, started as separate processes with this venv's Python
(``python -m distributed.cli.dask_scheduler`` / ``dask_worker``, the modules behind the ``dask``
command), so the tests exercise the same sockets, pickling and process boundaries:

    with DaskCluster(tmp_path, workers=2).start() as cluster:
        options = ["--runner", DASK_RUNNER, "--dask_client_address", cluster.address]
        cluster.kill_worker("w0")          # the worker process dies as in an OOM kill

or, in a test module, ``dask_cluster = cluster_fixture(workers=2)`` and a test argument
``dask_cluster``.

Loopback only (tests/support/netguard refuses anything else, in these processes too):

- the scheduler gets ``--host 127.0.0.1`` and port 0; its address is read from the
  ``--scheduler-file`` it writes (no port is guessed, so there is no race for it);
- ``--no-dashboard`` still binds the HTTP server (health, metrics) on ``:8787``, every
  interface, a fixed port; ``--dashboard-address 127.0.0.1:0`` keeps it on loopback and lets
  clusters run side by side. The same for each worker;
- workers get ``--host 127.0.0.1``, which sets both their listen and their contact address
  (and their nanny's), so nothing resolves this machine's name or asks for a routable address.

Nanny: on, as ``dask worker`` does by default, because that is what users run and what we
want to test: the nanny restarts a worker process that dies (so :meth:`DaskCluster.kill_worker`
is a crash, and the cluster heals), terminates one that passes 95% of ``--memory-limit``, and
gives every worker process the same ``PYTHONHASHSEED`` (dask/dask#6640), which code that
hashes strings across processes relies on. The cost is one more process per worker and about a
second more to start. ``nanny=False`` gives bare worker processes (a killed one stays dead).

No leftover processes: every command runs in a session of its own (its process group holds
the nanny, its worker and multiprocessing's resource tracker), is started through a tiny
launcher that asks Linux to send it SIGTERM when the test process dies (``PR_SET_PDEATHSIG``,
kept across exec), and :meth:`DaskCluster.stop` (called by the fixture even when the test
fails, and at exit) sends SIGTERM to each group, then SIGKILL to what is left.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# Beam knows no short name for it: ``--runner DaskRunner`` is "Unexpected pipeline runner".
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"

# Run in the child between fork and the real program: die with the parent (the test process),
# and do not start at all if it is already gone. ``prctl(PR_SET_PDEATHSIG)`` survives execve.
_LAUNCHER = """
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    sys.exit(70)
os.execv(sys.argv[2], sys.argv[2:])
"""


class ClusterError(RuntimeError):
    """The cluster did not come up (the message holds the end of the process' log)."""


@dataclass
class _Process:
    """One command of the cluster: the scheduler or one ``dask worker`` (its nanny)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class DaskCluster:
    """A scheduler and ``workers`` worker processes on 127.0.0.1, their files under ``directory``.

    ``nthreads``: threads per worker process (1: tunestats counts under the GIL, so more
    threads in one process would only contend). ``memory_limit``: per worker process, as
    ``dask worker --memory-limit`` takes it. ``env``: added to the environment of every process
    (``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0``, say).
    """

    directory: Path
    workers: int = 2
    nthreads: int = 1
    memory_limit: str = "2GiB"
    nanny: bool = True
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = REPO  # so that workers import tunestats and tests' own DoFns as we do
    address: str = ""
    _scheduler: _Process | None = None
    _workers: dict[str, _Process] = field(default_factory=dict)

    # --- starting ------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> DaskCluster:
        """Start the scheduler and the workers; return once every worker is registered."""
        self.directory.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)  # if the caller forgets, or pytest is interrupted
        try:
            self._start_scheduler(timeout)
            for k in range(self.workers):
                self.add_worker(f"w{k}", wait=False)
            self.wait_for_workers(self.workers, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, args: Sequence[str]) -> _Process:
        log = self.directory / f"{name}.log"
        environment = {**os.environ, **self.env}
        command = [sys.executable, "-c", _LAUNCHER, str(os.getpid()), sys.executable, *args]
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=environment,
                start_new_session=True,  # its own process group: stop() signals all of it
            )
        return _Process(name, popen, log)

    def _start_scheduler(self, timeout: float) -> None:
        scheduler_file = self.directory / "scheduler.json"
        scheduler_file.unlink(missing_ok=True)
        self._scheduler = self._spawn(
            "scheduler",
            [
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(scheduler_file),
            ],
        )
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(self._scheduler)
            try:  # written once the scheduler listens; it may be caught half written
                self.address = json.loads(scheduler_file.read_text())["address"]
                return
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"no scheduler after {timeout:.0f} s:\n{self._scheduler.tail()}")
            time.sleep(0.1)

    def add_worker(self, name: str, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Start one more ``dask worker`` process named ``name``."""
        if name in self._workers:
            raise ValueError(f"a worker is already named {name}")
        self._workers[name] = self._spawn(
            name,
            [
                "-m",
                "distributed.cli.dask_worker",
                self.address,
                "--host",
                "127.0.0.1",
                "--name",
                name,
                "--nthreads",
                str(self.nthreads),
                "--memory-limit",
                self.memory_limit,
                "--nanny" if self.nanny else "--no-nanny",
                "--no-dashboard",
                "--dashboard-address",
                "127.0.0.1:0",
                "--local-directory",
                str(self.directory / name),
                # A worker whose scheduler is gone (a test process killed hard) exits.
                "--death-timeout",
                "60",
            ],
        )
        if wait:
            self.wait_for_workers(len(self.worker_pids()) + 1, timeout)

    def _check_alive(self, process: _Process) -> None:
        code = process.popen.poll()
        if code is not None:
            raise ClusterError(f"{process.name} exited with {code}:\n{process.tail()}")

    # --- looking at it -------------------------------------------------------------------

    def client(self, **kwargs: Any) -> Any:
        """A ``distributed.Client`` of this cluster (close it: use it in a ``with``).

        Not the default client of this process (``set_as_default=False``): dask code that
        looks for one, such as a Bag's choice of shuffle, must not find the test's.
        """
        from distributed import Client

        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("set_as_default", False)
        return Client(self.address, **kwargs)

    def worker_pids(self) -> dict[str, int]:
        """Worker name -> pid of the worker process (the one that runs tasks), registered now."""
        with self.client() as client:
            names = {
                a: w["name"] for a, w in client.scheduler_info(n_workers=-1)["workers"].items()
            }
            # A worker dying right now is left out, not an error.
            pids = client.run(os.getpid, on_error="ignore")
        return {names[address]: pid for address, pid in pids.items() if address in names}

    def wait_for_workers(self, n: int | None = None, timeout: float = 60.0) -> dict[str, int]:
        """Wait until ``n`` (default: all started) workers are registered; their pids by name."""
        n = len(self._workers) if n is None else n
        deadline = time.monotonic() + timeout
        while True:
            for process in [self._scheduler, *self._workers.values()]:
                if process is not None:
                    self._check_alive(process)
            try:
                pids = self.worker_pids()
            except OSError:  # the scheduler is still starting
                pids = {}
            if len(pids) >= n:
                return pids
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name}\n{p.tail(10)}" for p in self._workers.values())
                raise ClusterError(f"{len(pids)} of {n} workers after {timeout:.0f} s\n{logs}")
            time.sleep(0.2)

    def roots(self) -> list[int]:
        """The pid of each command (scheduler, each ``dask worker``): the roots of its tree."""
        return [p.popen.pid for p in self._all()]

    def processes(self) -> list[int]:
        """Every live process of the cluster: all members of its commands' process groups."""
        groups = set(self.roots())
        alive = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path("/proc", entry, "stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2 :].split()
            state, pgrp = fields[0], int(fields[2])
            if pgrp in groups and state != b"Z":  # a zombie is dead, only not yet reaped
                alive.append(int(entry))
        return sorted(alive)

    def log(self, name: str) -> str:
        """The output so far of ``scheduler`` or of the worker ``name``."""
        process = self._scheduler if name == "scheduler" else self._workers[name]
        assert process is not None
        return process.log.read_text(errors="replace")

    # --- breaking it ---------------------------------------------------------------------

    def kill_worker(self, name: str | None = None, *, whole: bool = False) -> int:
        """SIGKILL one worker process (``name``, or any); return its pid.

        With a nanny, only the worker process dies, as in an OOM kill: the nanny starts a new
        one, which registers under the same name with a new address. ``whole=True`` kills
        the nanny too (the machine is gone): that worker does not come back.
        """
        pids = self.worker_pids()
        if not pids:
            raise ClusterError("no worker to kill")
        name = name if name is not None else sorted(pids)[0]
        if whole:
            process = self._workers[name]
            _signal_group(process.popen.pid, signal.SIGKILL)
            process.popen.wait(10)
            return process.popen.pid
        pid = pids[name]
        os.kill(pid, signal.SIGKILL)
        return pid

    # --- stopping ------------------------------------------------------------------------

    def _all(self) -> list[_Process]:
        return [p for p in [*self._workers.values(), self._scheduler] if p is not None]

    def stop(self, timeout: float = 20.0) -> None:
        """Stop every process of the cluster, workers first; SIGKILL what has not exited."""
        processes = self._all()
        for process in processes:  # workers first: they leave the scheduler cleanly
            _signal_group(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(max(0.1, deadline - time.monotonic()))
        for process in processes:  # whatever is left of each group: stuck, or a grandchild
            _signal_group(process.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(5)
        deadline = time.monotonic() + 5
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.05)  # grandchildren are reaped by init, a moment later
        atexit.unregister(self.stop)

    def __enter__(self) -> DaskCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, sig)


def cluster_fixture(
    workers: int = 2, *, scope: str = "module", **options: Any
) -> Callable[..., Iterator[DaskCluster]]:
    """A pytest fixture of a running cluster: ``dask_cluster = cluster_fixture(workers=2)``.

    Skips the test when ``distributed`` is not installed (the ``dask`` extra). The cluster is
    stopped when the scope ends, whether the tests passed or not.
    """

    import pytest  # here, so that benchmarks can use the cluster without pytest

    @pytest.fixture(scope=scope)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
        pytest.importorskip("distributed")
        directory = tmp_path_factory.mktemp("dask-cluster")
        cluster = DaskCluster(directory, workers=workers, **options).start()
        try:
            yield cluster
        finally:
            cluster.stop()

    return fixture
