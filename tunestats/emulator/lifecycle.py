"""Lifecycle: moves jobs through their states on a schedule and counts their datasets.

PENDING -> RUNNING after ``Schedule.pending`` seconds; while RUNNING, the datasets are counted
with tunestats (gs:// through gcsfs; see ``datastats``) and ``tuningDataStats`` is filled; then
SUCCEEDED once ``Schedule.running`` seconds have passed since the start (or FAILED at once when
a dataset cannot be used, or when the count passes ``count_timeout`` seconds). At most
``workers`` counts run at once; a RUNNING job waits for a free one. ``cancel`` sets
CANCELLING (and stops the job's count), and ``Schedule.cancelling`` seconds later the job is
CANCELLED. Everything is derived from the stored documents and the clock, so a restarted
emulator resumes every schedule where it stood (a count cut short by the restart starts again).

Hands to the handlers (``tuning_jobs``): nothing but the changed jobs in the store;
``timestamp`` for RFC 3339 times.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .datastats import Counted, Counter, CountTask, ThreadCounter, count_job
from .labels import add_labels
from .store import Job, Store

EXPERIMENT_PREFIX = "tuning-experiment-"  # a job's experiment context: this and its id

__all__ = ["Counted", "Lifecycle", "Schedule", "count_job", "request_cancel", "timestamp"]

ACTIVE = ("JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_CANCELLING")
ENDED = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED")
TICK = 0.05  # seconds between two looks at the active jobs
COUNT_WORKERS = 2  # counts at once
DEFAULT_COUNT_TIMEOUT = 600.0  # seconds a count may take; then the job FAILS
DEADLINE_EXCEEDED = 4  # google.rpc.Code
# Hidden fields of a stored document (the protos do not know them, so replies drop them).
CANCEL_AT = "_cancelRequestedNs"


@dataclass(frozen=True)
class Schedule:
    """Seconds each stage lasts at least (counting the datasets may take longer)."""

    pending: float = 0.2
    running: float = 0.5
    cancelling: float = 0.2
    operation: float = 0.2  # until a rebaseTunedModel operation is done


def timestamp(ns: int) -> str:
    """RFC 3339 with Z and 0, 3, 6 or 9 fractional digits, as Google's JSON mapping writes it."""
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.FromNanoseconds(ns)
    return ts.ToJsonString()


def nanoseconds(text: str) -> int:
    """The inverse of :func:`timestamp`, for the times the emulator wrote itself."""
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.FromJsonString(text)
    return ts.ToNanoseconds()


class Lifecycle:
    """A thread that advances the active jobs of a store, and the counts of their datasets.

    ``count`` is a :class:`~tunestats.emulator.datastats.Counter` (the emulator gives a
    ``ProcessCounter``), or a plain function of the plan, run in threads (stubs).
    """

    def __init__(
        self,
        store: Store,
        schedule: Schedule,
        count: Counter | Callable[[dict[str, Any]], Counted],
        clock: Callable[[], int] = time.time_ns,
        *,
        count_timeout: float = DEFAULT_COUNT_TIMEOUT,
        workers: int = COUNT_WORKERS,
    ) -> None:
        self.store, self.schedule, self.clock = store, schedule, clock
        self.counter: Counter = count if hasattr(count, "start") else ThreadCounter(count)
        self.count_timeout, self.workers = count_timeout, workers
        self._counting: dict[str, CountTask] = {}  # job name -> its count under way
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tunestats-lifecycle", daemon=True)

    def start(self) -> None:
        warm = getattr(self.counter, "warm", None)
        if warm is not None:
            try:
                warm()  # a worker that imports tunestats while the first job is PENDING
            except OSError as exc:  # the first count will try again, and fail its job
                print(
                    f"tunestats emulator: cannot start a counting process: {exc}", file=sys.stderr
                )
        self._thread.start()

    def stop(self) -> None:
        """Stop advancing and end every count under way (their jobs stay RUNNING)."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
        for task in self._counting.values():
            task.stop()
        self._counting.clear()
        self.counter.close()

    def _loop(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self.tick()
            except Exception as exc:  # a bug, or a store closed under us: keep the schedule
                print(f"tunestats emulator: lifecycle: {exc!r}", file=sys.stderr)

    def tick(self) -> None:
        """Advance every active job as far as the clock allows."""
        self._stop_unneeded_counts()
        for name in self.store.names_in_states(ACTIVE):
            self.advance(name)

    def _stop_unneeded_counts(self) -> None:
        """A job cancelled (or gone) while counting: end its count, free its place."""
        for name, task in list(self._counting.items()):
            job = self.store.get_job(name)
            if job is None or job.state != "JOB_STATE_RUNNING" or "tuningDataStats" in job.doc:
                task.stop()
                del self._counting[name]

    def advance(self, name: str) -> None:
        job = self.store.get_job(name)
        if job is None:
            return
        counting = job.state == "JOB_STATE_RUNNING" and "tuningDataStats" not in job.doc
        if counting and self._counted(job) is None:
            return  # still counting; the state waits
        self.store.update_job(name, self._next_doc)

    def _counted(self, job: Job) -> Counted | None:
        task = self._counting.get(job.name)
        if task is None:
            if len(self._counting) < self.workers:
                try:
                    self._counting[job.name] = self.counter.start(job.plan)
                except Exception as exc:  # no process to be had (EAGAIN...): the job fails
                    self._record(job, Counted(None, f"Internal error: cannot count: {exc}"))
            return None
        counted = task.poll()
        if counted is None:
            if time.monotonic() - task.started < self.count_timeout:
                return None
            task.stop()
            counted = Counted(
                None,
                f"Counting the datasets took longer than {self.count_timeout:g} s, the "
                "emulator's limit (--count-timeout-seconds); the count was stopped.",
                DEADLINE_EXCEEDED,
            )
        del self._counting[job.name]
        self._record(job, counted)
        return counted

    def _record(self, job: Job, counted: Counted) -> None:
        now = self.clock()

        def record(current: Job) -> dict[str, Any] | None:
            if current.state != "JOB_STATE_RUNNING":
                return None  # cancelled meanwhile: the count is not needed
            doc = add_labels(dict(current.doc), counted.labels or {})
            if counted.error is not None:
                error = {"code": counted.code, "message": counted.error}
                return _ended(doc, "JOB_STATE_FAILED", now, error)
            doc["tuningDataStats"] = counted.stats
            doc["updateTime"] = timestamp(now)
            return doc

        self.store.update_job(job.name, record)

    def _next_doc(self, job: Job) -> dict[str, Any] | None:
        """The job's next document if its time has come (pure but for the clock)."""
        now, doc, s = self.clock(), dict(job.doc), self.schedule
        state = job.state
        if state == "JOB_STATE_PENDING" and now >= job.create_ns + _ns(s.pending):
            doc.update(
                state="JOB_STATE_RUNNING", startTime=timestamp(now), updateTime=timestamp(now)
            )
            doc["experiment"] = (
                f"{job.parent}/metadataStores/default/contexts/{EXPERIMENT_PREFIX}{_id(job)}"
            )
            return doc
        if state == "JOB_STATE_RUNNING" and "tuningDataStats" in doc:
            started = nanoseconds(doc["startTime"])  # always set by RUNNING
            if now >= started + _ns(s.running):
                doc["tunedModel"] = {
                    "model": f"{job.parent}/models/{_id(job)}@1",
                    "endpoint": f"{job.parent}/endpoints/{_id(job)}",
                }
                return _ended(doc, "JOB_STATE_SUCCEEDED", now)
        if state == "JOB_STATE_CANCELLING" and now >= doc.get(CANCEL_AT, 0) + _ns(s.cancelling):
            error = {"code": 1, "message": "The tuning job was cancelled."}
            return _ended(doc, "JOB_STATE_CANCELLED", now, error)
        return None


def request_cancel(job: Job, now: int) -> dict[str, Any]:
    """The document of a job asked to cancel (the caller checked that it has not ended)."""
    doc = dict(job.doc)
    doc.update(state="JOB_STATE_CANCELLING", updateTime=timestamp(now))
    doc[CANCEL_AT] = now
    return doc


def _ended(doc: dict[str, Any], state: str, now: int, error: dict | None = None) -> dict[str, Any]:
    doc.update(state=state, endTime=timestamp(now), updateTime=timestamp(now))
    if error is not None:
        doc["error"] = error
    return doc


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _id(job: Job) -> str:
    return job.name.rsplit("/", 1)[1]
