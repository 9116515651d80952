"""Datastats: a job's ``tuningDataStats``, counted with tunestats in a worker process that can
be stopped.

A count can take long or never end: a large dataset, a Cloud Storage endpoint that does not
answer (gcsfs retries for close to a minute), a file replaced by a FIFO after the job was
created. So counts run in worker processes (``python -m tunestats.emulator.count_worker``),
which the emulator kills when the job is cancelled, when the count passes its time limit (the
job then FAILS with DEADLINE_EXCEEDED) and when the emulator stops; a thread could only be
abandoned, and would keep its slot. A worker that finished a count serves the next one, its
tokenizers and Cloud Storage session warm (a count then costs what it costs in the emulator's
own process), for any emulator of the process; a killed one is replaced by a new one when a
count needs it (its start takes about half a second).
Every count takes on the emulator's environment and working directory of the moment
(``STORAGE_EMULATOR_HOST`` and credentials included). Workers ignore SIGINT (the emulator
decides when a count ends), and exit by themselves when the emulator's process ends.
Requests and replies are JSON lines, never pickles.

Hands to ``lifecycle``: :class:`Counted` results through :class:`CountTask` handles, from a
:class:`ProcessCounter` (the emulator's) or a :class:`ThreadCounter` (any callable, for tests
that count with a stub).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

STOP_GRACE = 1.0  # seconds a stopped count has to exit after SIGTERM, before SIGKILL


@dataclass(frozen=True)
class Counted:
    """What counting a job's datasets gave: its tuningDataStats, or why the job fails."""

    stats: dict[str, Any] | None
    error: str | None = None
    code: int = 3  # the google.rpc.Code of the job's error: INVALID_ARGUMENT, or 4 (deadline)
    labels: dict[str, str] | None = None  # labels the count adds to the job (media)


def count_job(plan: dict[str, Any], tokenizer: str | None, tokenizer_model: str | None) -> Counted:
    """Read the job's datasets with tunestats; a dataset that cannot be used fails the job."""
    import tunestats

    from ..io.files import SourceError
    from ..media import Access

    options = {
        "task": plan["task"],
        "model": plan["model"],
        "tokenizer": tokenizer,
        "tokenizer_model": tokenizer_model,
        "epochs": plan.get("epochs"),
        "batch_size": plan.get("batch_size"),
        "jobs": 1,
        # SPEC §9: media through the emulator's storage; never http(s), local paths only
        # when the emulator allows them.
        "media_access": Access(
            http=False, local=bool(plan.get("local_media")), any_local_file=False
        ),
    }
    problem = _local_problem(plan)
    if problem is not None:
        return Counted(None, f"Dataset cannot be used: {problem}")
    try:
        stats = tunestats.compute(plan["training"], validation=plan.get("validation"), **options)
    except SourceError as exc:
        return Counted(None, f"Dataset cannot be used: {exc}")
    except Exception as exc:  # a bug must fail the job, not the emulator
        return Counted(None, f"Internal error while reading the datasets: {exc}")
    for name, source in (("training", stats.training), ("validation", stats.validation)):
        if source is not None and source.kept == 0:
            first = "; ".join(source.result.dropped_reasons[:5])
            return Counted(
                None,
                f"The {name} dataset {source.uri} has no valid example "
                f"({source.dropped} dropped); first offending lines: {first}",
            )
    if not stats.readiness.ready:  # SPEC §8: the job-level limits, in the same words
        from ..job.readiness import REJECT

        reasons = [r.removeprefix(REJECT) for r in stats.readiness.rejections]
        return Counted(None, REJECT + "; ".join(reasons), labels=media_labels(stats))
    return Counted(stats.to_dict(), labels=media_labels(stats))


def _local_problem(plan: dict[str, Any]) -> str | None:
    """Why a local dataset may not be read now: it was a regular file outside /proc, /sys and
    /dev when the job was created, but may have become a link to one of them since. (Another
    kind of file, a FIFO, is not refused here: the count's time limit bounds it.)"""
    from .validate import system_file

    for uri in (plan["training"], plan.get("validation")):
        if uri and "://" not in uri:  # a local path (validate made it absolute)
            problem = system_file(uri)
            if problem is not None:
                return f"{uri}: {problem}"
    return None


def media_labels(stats: Any) -> dict[str, str]:
    """The label that says how a job's media tokens were counted (labels.MEDIA_LABEL)."""
    from .labels import MEDIA_LABEL

    sources = [s for s in (stats.training, stats.validation) if s is not None]
    media = [s.result.media for s in sources]
    parts = sum(m.total for m in media)
    if not parts:
        return {}  # a text-only job keeps the two labels it was created with
    if sum(m.parts.get("measured", 0) for m in media) == parts:
        value = "documented-rates"
    else:
        value = "incomplete"
    return {MEDIA_LABEL: value}


class CountTask(Protocol):
    """One count under way."""

    started: float  # time.monotonic() when it started

    def poll(self) -> Counted | None:
        """The result once there is one (then the count is over), else None."""

    def stop(self) -> None:
        """End the count now (its result, if any, is not wanted)."""


class Counter(Protocol):
    def start(self, plan: dict[str, Any]) -> CountTask: ...

    def close(self) -> None: ...


# --- in worker processes ------------------------------------------------------------------------


MAX_IDLE_WORKERS = 4  # idle workers kept for the next count, of any emulator of this process
_idle: list[_Worker] = []
_idle_lock = threading.Lock()


class ProcessCounter:
    """Counts in worker processes (``python -m tunestats.emulator.count_worker``), one count
    at a time each. A worker that finishes a count is kept for the next one (its tokenizers and
    Cloud Storage session stay warm), by any emulator of this process, up to
    MAX_IDLE_WORKERS; one whose count is stopped is killed, and a new one started when a
    count needs it. Each request carries the environment and working directory of the
    moment, which the worker takes on before it counts."""

    def __init__(self, tokenizer: str | None, tokenizer_model: str | None) -> None:
        self.tokenizer, self.tokenizer_model = tokenizer, tokenizer_model

    def warm(self) -> None:
        """Start a worker now if none is idle, so that the first count need not wait for it."""
        with _idle_lock:
            if not _idle:
                _idle.append(_Worker())

    def start(self, plan: dict[str, Any]) -> CountTask:
        worker = None
        gcs = _gcs_setting()
        with _idle_lock:
            while _idle and worker is None:
                candidate = _idle.pop()
                if candidate.alive() and candidate.gcs in (None, gcs):
                    worker = candidate
                else:
                    candidate.kill()
        if worker is None:
            worker = _Worker()
        request = {
            "plan": plan,
            "tokenizer": self.tokenizer,
            "tokenizer_model": self.tokenizer_model,
            "environ": dict(os.environ),  # STORAGE_EMULATOR_HOST, credentials...
            "cwd": os.getcwd(),
        }
        worker.gcs = gcs
        return _WorkerTask(worker, request)

    def close(self) -> None:
        pass  # the counts under way are stopped by their owner; idle workers serve others


def _gcs_setting() -> tuple[str | None, ...]:
    """What gcsfs reads once, when a worker imports it: a worker serves only counts under the
    same (the layout probe that ``tunestats.io.files`` turns off for a local GCS server)."""
    names = ("STORAGE_EMULATOR_HOST", "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT")
    return tuple(os.environ.get(name) for name in names)


def _release(worker: _Worker) -> None:
    with _idle_lock:
        if len(_idle) < MAX_IDLE_WORKERS:
            _idle.append(worker)
            return
    worker.kill()


class _Worker:
    """One worker process: JSON lines in on stdin (requests), out on stdout (results).

    It ends when this process does (its stdin closes), or when killed.
    """

    def __init__(self) -> None:
        import subprocess

        self.gcs: tuple[str | None, ...] | None = None  # _gcs_setting() of its first count
        environ = dict(os.environ)
        # The worker imports this tunestats, from a source tree as well (an installed one is
        # found anyway: its site-packages must not go before the standard library).
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        if os.path.basename(root) not in ("site-packages", "dist-packages"):
            environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, environ.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "tunestats.emulator.count_worker"]
        pass_fds: tuple[int, ...] = ()
        self._alive: int | None = None
        if os.name == "posix":  # a pipe whose end in this process closes when it dies
            read_end, self._alive = os.pipe()
            command.append(str(read_end))
            pass_fds = (read_end,)
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=environ,
                pass_fds=pass_fds,
            )
        finally:
            for fd in pass_fds:
                os.close(fd)
        self.results: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, name="tunestats-count-reader", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.results.put(json.loads(line))
            except ValueError:
                break
        self.results.put(None)  # the worker is gone

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGTERM, then SIGKILL after STOP_GRACE seconds; the pipes are closed."""
        import subprocess

        for end in (self.process.terminate, self.process.kill):
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                end()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_GRACE)
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]
        if self._alive is not None:
            with contextlib.suppress(OSError):
                os.close(self._alive)
            self._alive = None


class _WorkerTask:
    def __init__(self, worker: _Worker, request: dict[str, Any]) -> None:
        self.started = time.monotonic()
        self._worker: _Worker | None = worker
        self._result: Counted | None = None
        with contextlib.suppress(OSError):  # it died already: poll() tells the job why
            worker.send(request)

    def poll(self) -> Counted | None:
        if self._result is not None or self._worker is None:
            return self._result
        try:
            reply = self._worker.results.get_nowait()
        except queue.Empty:
            return None
        worker, self._worker = self._worker, None
        if reply is None:
            worker.kill()
            code = worker.process.returncode
            self._result = Counted(
                None,
                f"Internal error: the process counting the datasets ended (exit code {code}).",
            )
        else:
            self._result = Counted(**reply)
            _release(worker)
        return self._result

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None


def serve_counts(requests: Any, replies: Any) -> None:
    """The loop of a worker process: one JSON request per line in, one reply per line out."""
    for line in iter(requests.readline, ""):
        request = json.loads(line)
        _take_on(request["environ"], request["cwd"])
        counted = count_job(request["plan"], request["tokenizer"], request["tokenizer_model"])
        replies.write(json.dumps(dataclasses.asdict(counted)) + "\n")
        replies.flush()


def _take_on(environ: dict[str, str], cwd: str) -> None:
    """The emulator's environment and directory; file systems made under another are dropped."""
    if environ != os.environ:
        os.environ.clear()
        os.environ.update(environ)
        gcsfs = sys.modules.get("gcsfs")
        if gcsfs is not None:  # a cached instance keeps the endpoint and credentials it had
            gcsfs.GCSFileSystem.clear_instance_cache()
    with contextlib.suppress(OSError):
        os.chdir(cwd)


# --- in a thread (stubs) ------------------------------------------------------------------------


class ThreadCounter:
    """Runs ``count(plan)`` in a thread per count: for stubs; a stopped count is abandoned."""

    def __init__(self, count: Callable[[dict[str, Any]], Counted]) -> None:
        self.count = count

    def start(self, plan: dict[str, Any]) -> CountTask:
        return _ThreadTask(self.count, plan)

    def close(self) -> None:
        pass


class _ThreadTask:
    def __init__(self, count: Callable[[dict[str, Any]], Counted], plan: dict[str, Any]) -> None:
        self.started = time.monotonic()
        self._future: Future[Counted] = Future()

        def run() -> None:
            try:
                self._future.set_result(count(plan))
            except BaseException as exc:
                self._future.set_result(Counted(None, f"Internal error: {exc!r}"))

        threading.Thread(target=run, name="tunestats-count", daemon=True).start()

    def poll(self) -> Counted | None:
        return self._future.result() if self._future.done() else None

    def stop(self) -> None:
        pass  # a thread cannot be stopped: it runs on, and its result is dropped
