"""A local Vertex AI TuningJob emulator that Google's own clients can drive (extra ``emulator``).

``tunestats emulator`` serves ``projects.locations.tuningJobs`` (create, get, list, cancel,
rebaseTunedModel) and their long-running operations under ``/v1/``, ``/v1beta1/`` and ``/ui/``,
validates requests as Vertex does, reads the datasets with tunestats (``gs://`` through gcsfs)
and fills ``tuningDataStats``. State lives in SQLite, so a restarted emulator keeps every job.

Takes HTTP requests from Google's clients; hands back JSON replies, keeps the jobs in SQLite.
The modules, in the order a request meets them:
``connections`` (HTTP/1.1 under uvicorn: time limits for headers and body, a bounded number of
connections, malformed HTTP as google.rpc.Status) -> ``guard`` (Host and Origin, content type,
body size, UTF-8 JSON shape) -> ``app`` (routes: method and path to a handler; every error as
a google.rpc.Status) -> ``service`` (what every handler takes) -> the handlers:
``tuning_jobs`` (create, get, list, cancel, rebaseTunedModel), ``operations`` (get, cancel,
wait) and ``contexts`` (a job's experiment) -> ``messages`` (proto3 JSON through the protos
that google-cloud-aiplatform ships) -> ``validate`` (Vertex's rules, dataset URIs) and
``labels`` (the two labels every job gets: which tokenizer counts it, whether its counts are
exact) -> ``store`` (SQLite, indexed for lists).
The ``filter`` of a list: ``filter_tokens`` (its words) -> ``filters`` (its grammar; hands
the list a predicate and SQL) -> ``filter_fields`` (which field a name means; also the
store's columns) -> ``filter_conditions`` (each restriction as a predicate and as SQL) ->
``filter_sql`` (the SQL over the store's columns).
After the request: ``lifecycle`` moves each job through its states on a schedule, and
``datastats`` counts its datasets (its ``tuningDataStats``) in a ``count_worker`` process that
can be stopped (cancel, timeout, shutdown). ``server`` runs it all under uvicorn and stops it
cleanly on SIGINT and SIGTERM.
"""

from __future__ import annotations

from .server import Emulator, serve

__all__ = ["Emulator", "serve"]
