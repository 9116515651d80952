"""Lifecycle: moves jobs through their states on a schedule and counts their datasets.

PENDING -> RUNNING after ``Schedule.pending`` seconds; while RUNNING, the datasets are counted
with tunestats (gs:// through gcsfs) and ``tuningDataStats`` is filled; then SUCCEEDED once
``Schedule.running`` seconds have passed since the start (or FAILED at once when a dataset
cannot be used). ``cancel`` sets CANCELLING, and ``Schedule.cancelling`` seconds later the job
is CANCELLED. Everything is derived from the stored documents and the clock, so a restarted
emulator resumes every schedule where it stood (a count cut short by the restart starts again).

Hands to ``app``: nothing but the changed jobs in the store; ``timestamp`` for RFC 3339 times.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .filters import parse_timestamp
from .store import Job, Store

ACTIVE = ("JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_CANCELLING")
ENDED = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED")
TICK = 0.05  # seconds between two looks at the active jobs
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


@dataclass(frozen=True)
class Counted:
    """What counting a job's datasets gave: its tuningDataStats, or why the job fails."""

    stats: dict[str, Any] | None
    error: str | None = None


def count_job(plan: dict[str, Any], tokenizer: str | None, tokenizer_model: str | None) -> Counted:
    """Read the job's datasets with tunestats; a dataset that cannot be used fails the job."""
    import tunestats

    from ..source import SourceError

    options = {
        "task": plan["task"],
        "model": plan["model"],
        "tokenizer": tokenizer,
        "tokenizer_model": tokenizer_model,
        "epochs": plan.get("epochs"),
        "batch_size": plan.get("batch_size"),
        "jobs": 1,
    }
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
    return Counted(stats.to_dict())


class Lifecycle:
    """A thread that advances the active jobs of a store, and a pool that counts datasets."""

    def __init__(
        self,
        store: Store,
        schedule: Schedule,
        count: Callable[[dict[str, Any]], Counted],
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.store, self.schedule, self.count, self.clock = store, schedule, count, clock
        self._counting: dict[str, Future[Counted]] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tunestats-count")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tunestats-lifecycle", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.wait(TICK):
            self.tick()

    def tick(self) -> None:
        """Advance every active job as far as the clock allows."""
        for name in self.store.names_in_states(ACTIVE):
            self.advance(name)

    def advance(self, name: str) -> None:
        job = self.store.get_job(name)
        if job is None:
            return
        counting = job.state == "JOB_STATE_RUNNING" and "tuningDataStats" not in job.doc
        if counting and self._counted(job) is None:
            return  # still counting; the state waits
        self.store.update_job(name, self._next_doc)

    def _counted(self, job: Job) -> Counted | None:
        future = self._counting.get(job.name)
        if future is None:
            self._counting[job.name] = self._pool.submit(self.count, job.plan)
            return None
        if not future.done():
            return None
        counted = future.result()
        del self._counting[job.name]
        now = self.clock()

        def record(current: Job) -> dict[str, Any] | None:
            if current.state != "JOB_STATE_RUNNING":
                return None  # cancelled meanwhile: the count is not needed
            doc = dict(current.doc)
            if counted.error is not None:
                return _ended(doc, "JOB_STATE_FAILED", now, {"code": 3, "message": counted.error})
            doc["tuningDataStats"] = counted.stats
            doc["updateTime"] = timestamp(now)
            return doc

        self.store.update_job(job.name, record)
        return counted

    def _next_doc(self, job: Job) -> dict[str, Any] | None:
        """The job's next document if its time has come (pure but for the clock)."""
        now, doc, s = self.clock(), dict(job.doc), self.schedule
        state = job.state
        if state == "JOB_STATE_PENDING" and now >= job.create_ns + _ns(s.pending):
            doc.update(
                state="JOB_STATE_RUNNING", startTime=timestamp(now), updateTime=timestamp(now)
            )
            doc["experiment"] = (
                f"{job.parent}/metadataStores/default/contexts/tuning-experiment-{_id(job)}"
            )
            return doc
        if state == "JOB_STATE_RUNNING" and "tuningDataStats" in doc:
            started = parse_timestamp(doc["startTime"]) or 0  # always set by RUNNING
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
