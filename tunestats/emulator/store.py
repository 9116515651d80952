"""Store: the emulator's state in one SQLite file, safe for many clients at once.

Jobs and operations are kept as their canonical JSON documents (see ``messages``) plus the
columns that lists and the schedule need. Every change is one transaction under one lock, so
concurrent requests neither lose nor duplicate anything; a restarted emulator opens the same
file and finds every job as it was.

Hands to ``app`` and ``lifecycle``: :class:`Job` and :class:`Operation` records.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,        -- projects/P/locations/L/tuningJobs/ID
    parent TEXT NOT NULL,         -- projects/P/locations/L
    create_ns INTEGER NOT NULL,   -- creation time, ns since the epoch: list order
    version TEXT NOT NULL,        -- v1 or v1beta1: the API it was created through
    plan TEXT NOT NULL,           -- what counting needs (validate.JobSpec as JSON)
    doc TEXT NOT NULL             -- the TuningJob, canonical proto3 JSON
);
CREATE INDEX IF NOT EXISTS jobs_by_parent ON jobs (parent, create_ns DESC, name DESC);
CREATE TABLE IF NOT EXISTS operations (
    name TEXT PRIMARY KEY,        -- .../operations/ID
    version TEXT NOT NULL,
    done_ns INTEGER NOT NULL,     -- when it is done (the schedule)
    doc TEXT NOT NULL             -- the Operation, canonical proto3 JSON, without done/result
);
"""


@dataclass
class Job:
    name: str
    parent: str
    create_ns: int
    version: str
    plan: dict[str, Any]
    doc: dict[str, Any]

    @property
    def state(self) -> str:
        return self.doc.get("state", "JOB_STATE_UNSPECIFIED")


@dataclass
class Operation:
    name: str
    version: str
    done_ns: int
    doc: dict[str, Any]


class Store:
    """One SQLite database; every method is one transaction."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- jobs ----------------------------------------------------------------------------

    def insert_job(
        self,
        parent: str,
        version: str,
        create_ns: int,
        plan: dict[str, Any],
        make_doc: Callable[[str], dict[str, Any]],
    ) -> Job:
        """Insert a job under a fresh numeric id; ``make_doc(name)`` builds its document."""
        with self.transaction() as db:
            while True:
                # Vertex's tuning job ids are 19-digit numbers.
                name = f"{parent}/tuningJobs/{secrets.randbelow(9 * 10**18) + 10**18}"
                if db.execute("SELECT 1 FROM jobs WHERE name = ?", (name,)).fetchone() is None:
                    break
            doc = make_doc(name)
            db.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?)",
                (name, parent, create_ns, version, json.dumps(plan), json.dumps(doc)),
            )
        return Job(name, parent, create_ns, version, plan, doc)

    def get_job(self, name: str) -> Job | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, parent, create_ns, version, plan, doc FROM jobs WHERE name = ?",
                (name,),
            ).fetchone()
        return None if row is None else _job(row)

    def update_job(self, name: str, change: Callable[[Job], dict[str, Any] | None]) -> Job | None:
        """Apply ``change`` (which returns the new document, or None for no change) atomically."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT name, parent, create_ns, version, plan, doc FROM jobs WHERE name = ?",
                (name,),
            ).fetchone()
            if row is None:
                return None
            job = _job(row)
            doc = change(job)
            if doc is not None:
                db.execute("UPDATE jobs SET doc = ? WHERE name = ?", (json.dumps(doc), name))
                job.doc = doc
            return job

    def jobs(self, parent: str | None = None) -> list[Job]:
        """Jobs newest first (by creation time, then name), of one parent or all."""
        query = "SELECT name, parent, create_ns, version, plan, doc FROM jobs"
        args: tuple[Any, ...] = ()
        if parent is not None:
            query += " WHERE parent = ?"
            args = (parent,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY create_ns DESC, name DESC", args).fetchall()
        return [_job(row) for row in rows]

    def names_in_states(self, states: tuple[str, ...]) -> list[str]:
        """Names of the jobs in one of ``states``: the schedule looks only at those."""
        marks = ", ".join("?" * len(states))
        query = f"SELECT name FROM jobs WHERE json_extract(doc, '$.state') IN ({marks})"
        with self._lock:
            return [row[0] for row in self._db.execute(query, states).fetchall()]

    # --- operations ------------------------------------------------------------------------

    def insert_operation(self, op: Operation) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO operations VALUES (?, ?, ?, ?)",
                (op.name, op.version, op.done_ns, json.dumps(op.doc)),
            )

    def get_operation(self, name: str) -> Operation | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, version, done_ns, doc FROM operations WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else Operation(row[0], row[1], row[2], json.loads(row[3]))

    def update_operation(
        self, name: str, change: Callable[[Operation], Operation | None]
    ) -> Operation | None:
        with self.transaction() as db:
            row = db.execute(
                "SELECT name, version, done_ns, doc FROM operations WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                return None
            op = Operation(row[0], row[1], row[2], json.loads(row[3]))
            new = change(op)
            if new is not None:
                db.execute(
                    "UPDATE operations SET done_ns = ?, doc = ? WHERE name = ?",
                    (new.done_ns, json.dumps(new.doc), name),
                )
                op = new
            return op


def _job(row: tuple[Any, ...]) -> Job:
    return Job(row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]))
