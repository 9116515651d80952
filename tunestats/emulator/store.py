"""Store: the emulator's state in one SQLite file, safe for many clients at once.

Jobs and operations are kept as their canonical JSON documents (see ``messages``) plus the
columns that lists and the schedule need: the state, the tuned model, what list filters read
(``filter_fields.COLUMNS``) and the labels (table ``job_labels``), all indexed where a lookup
needs it, so that a create, a list or a tick of the schedule never reads every job's document.
A file written by an older emulator gets these columns when it is opened. Every change is one
transaction under one lock, so concurrent requests neither lose nor duplicate anything; a
restarted emulator opens the same file and finds every job as it was.

Hands to the handlers (``tuning_jobs``, ``operations``, ``contexts``) and ``lifecycle``:
:class:`Job` and :class:`Operation` records.
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

from .filter_fields import facets, label_items

SCHEMA_VERSION = 2  # PRAGMA user_version; 0: documents in jobs, no columns for lists
# A list walks the jobs of a parent newest first, reading the columns its filter names: so jobs
# is stored in that order (a table WITHOUT ROWID is kept in the order of its key) and its rows
# are small, the documents (kilobytes each, with their statistics) apart.
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT NOT NULL UNIQUE,    -- projects/P/locations/L/tuningJobs/ID
    parent TEXT NOT NULL,         -- projects/P/locations/L
    create_ns INTEGER NOT NULL,   -- creation time, ns since the epoch: list order
    version TEXT NOT NULL,        -- v1 or v1beta1: the API it was created through
    state TEXT,                   -- the document's state: the schedule and filters
    tuned_model TEXT,             -- tunedModel.model without @VERSION: preTunedModel, rebase
    -- filter_fields.COLUMNS, what list filters read, taken from the document by its facets()
    f_name TEXT, f_create_ns INTEGER, f_update_ns INTEGER, f_start_ns INTEGER,
    f_end_ns INTEGER, f_display_name TEXT, f_description TEXT, f_base_model TEXT,
    PRIMARY KEY (parent, create_ns DESC, name DESC)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state);
CREATE INDEX IF NOT EXISTS jobs_by_tuned_model ON jobs (tuned_model);
CREATE TABLE IF NOT EXISTS job_labels (
    job TEXT NOT NULL,            -- jobs.name
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (job, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS job_labels_by_key ON job_labels (key, value);
CREATE TABLE IF NOT EXISTS job_documents (
    job TEXT PRIMARY KEY,         -- jobs.name
    plan TEXT NOT NULL,           -- what counting needs (validate.JobSpec as JSON)
    doc TEXT NOT NULL             -- the TuningJob, canonical proto3 JSON
);
CREATE TABLE IF NOT EXISTS operations (
    name TEXT PRIMARY KEY,        -- .../operations/ID
    version TEXT NOT NULL,
    done_ns INTEGER NOT NULL,     -- when it is done (the schedule)
    doc TEXT NOT NULL             -- the Operation, canonical proto3 JSON, without done/result
);
"""
# What makes a Job (the filters' SQL names the columns of jobs bare: none is in both tables).
_JOB = (
    "SELECT name, parent, create_ns, version, plan, doc FROM jobs JOIN job_documents ON job = name"
)


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
        self._create_schema()

    def _create_schema(self) -> None:
        """The tables and indexes; a file of an older emulator gets the new columns, filled."""
        with self.transaction() as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            older = "doc" in columns  # a file of an emulator that kept documents in jobs
            if older:
                db.execute("ALTER TABLE jobs RENAME TO jobs_before")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            if older:
                query = "SELECT name, parent, create_ns, version, plan, doc FROM jobs_before"
                rows = db.execute(query).fetchall()
                for name, parent, create_ns, version, plan, doc in rows:
                    _insert(db, name, parent, create_ns, version, plan, json.loads(doc))
                db.execute("DROP TABLE jobs_before")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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
            _insert(db, name, parent, create_ns, version, json.dumps(plan), doc)
        return Job(name, parent, create_ns, version, plan, doc)

    def get_job(self, name: str) -> Job | None:
        with self._lock:
            row = self._db.execute(f"{_JOB} WHERE name = ?", (name,)).fetchone()
        return None if row is None else _job(row)

    def update_job(self, name: str, change: Callable[[Job], dict[str, Any] | None]) -> Job | None:
        """Apply ``change`` (which returns the new document, or None for no change) atomically."""
        with self.transaction() as db:
            row = db.execute(f"{_JOB} WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            job = _job(row)
            doc = change(job)
            if doc is not None:
                derived = _derived(doc)
                sets = ", ".join(f"{column} = ?" for column in derived)
                db.execute(f"UPDATE jobs SET {sets} WHERE name = ?", (*derived.values(), name))
                db.execute(
                    "UPDATE job_documents SET doc = ? WHERE job = ?", (json.dumps(doc), name)
                )
                if doc.get("labels") != job.doc.get("labels"):
                    db.execute("DELETE FROM job_labels WHERE job = ?", (name,))
                    _insert_labels(db, name, doc)
                job.doc = doc
            return job

    def jobs(self, parent: str | None = None) -> list[Job]:
        """Jobs newest first (by creation time, then name), of one parent or all."""
        query = _JOB
        args: tuple[Any, ...] = ()
        if parent is not None:
            query += " WHERE parent = ?"
            args = (parent,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY create_ns DESC, name DESC", args).fetchall()
        return [_job(row) for row in rows]

    def page(
        self,
        parent: str,
        after: tuple[int, str] | None,
        where: str,
        args: tuple[Any, ...],
        limit: int,
    ) -> list[Job]:
        """Up to ``limit`` jobs of ``parent``, newest first, that come after ``after`` (its
        creation time and name) and meet ``where``, a condition on the columns of jobs (see
        filters.compile_filter). Only those jobs' documents are read."""
        query = f"{_JOB} WHERE parent = ?"
        params: list[Any] = [parent]
        if after is not None:
            query += " AND (create_ns < ? OR (create_ns = ? AND name < ?))"
            params += [after[0], after[0], after[1]]
        query += f" AND ({where}) ORDER BY create_ns DESC, name DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*params, *args, limit)).fetchall()
        return [_job(row) for row in rows]

    def scan(self, parent: str, after: tuple[int, str] | None, batch: int = 200) -> Iterator[Job]:
        """The jobs of ``parent`` newest first after ``after``, read ``batch`` at a time (the
        store is not held between batches), for a filter that only Python can evaluate."""
        while True:
            page = self.page(parent, after, "1", (), batch)
            yield from page
            if len(page) < batch:
                return
            after = (page[-1].create_ns, page[-1].name)

    def tuned_by(self, model: str) -> Job | None:
        """The newest job whose tuned model (without @VERSION) is ``model``, in any state."""
        query = f"{_JOB} WHERE tuned_model = ? ORDER BY create_ns DESC, name DESC LIMIT 1"
        with self._lock:
            row = self._db.execute(query, (model,)).fetchone()
        return None if row is None else _job(row)

    def names_in_states(self, states: tuple[str, ...]) -> list[str]:
        """Names of the jobs in one of ``states``: the schedule looks only at those."""
        marks = ", ".join("?" * len(states))
        query = f"SELECT name FROM jobs WHERE state IN ({marks})"
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


def _derived(doc: dict[str, Any]) -> dict[str, Any]:
    """The columns of jobs that come from its document: the tuned model and
    filter_fields.COLUMNS."""
    tuned = doc.get("tunedModel")
    model = tuned.get("model") if isinstance(tuned, dict) else None
    return {
        "tuned_model": model.split("@", 1)[0] if isinstance(model, str) and model else None,
        **facets(doc),  # state among them
    }


def _insert(
    db: sqlite3.Connection,
    name: str,
    parent: str,
    create_ns: int,
    version: str,
    plan: str,
    doc: dict[str, Any],
) -> None:
    derived = _derived(doc)
    columns = ", ".join(["name", "parent", "create_ns", "version", *derived])
    marks = ", ".join("?" * (4 + len(derived)))
    db.execute(
        f"INSERT INTO jobs ({columns}) VALUES ({marks})",
        (name, parent, create_ns, version, *derived.values()),
    )
    db.execute(
        "INSERT INTO job_documents (job, plan, doc) VALUES (?, ?, ?)",
        (name, plan, json.dumps(doc)),
    )
    _insert_labels(db, name, doc)


def _insert_labels(db: sqlite3.Connection, name: str, doc: dict[str, Any]) -> None:
    db.executemany(
        "INSERT INTO job_labels (job, key, value) VALUES (?, ?, ?)",
        [(name, key, value) for key, value in label_items(doc)],
    )
