"""A local Vertex AI TuningJob emulator that Google's own clients can drive (extra ``emulator``).

``tunestats emulator`` serves ``projects.locations.tuningJobs`` (create, get, list, cancel,
rebaseTunedModel) and their long-running operations under ``/v1/``, ``/v1beta1/`` and ``/ui/``,
validates requests as Vertex does, reads the datasets with tunestats (``gs://`` through gcsfs)
and fills ``tuningDataStats``. State lives in SQLite, so a restarted emulator keeps every job.

The modules, in the order a request meets them:
``connections`` (HTTP/1.1 under uvicorn: time limits for headers and body, a bounded number of
connections, malformed HTTP as google.rpc.Status) -> ``guard`` (Host and Origin, content type,
body size, UTF-8 JSON shape) -> ``app`` (HTTP routes, Google's JSON conventions, errors) ->
``messages`` (proto3 JSON through the protos that google-cloud-aiplatform ships) ->
``validate`` (Vertex's rules, dataset URIs) -> ``store`` (SQLite, indexed for lists) ->
``lifecycle`` (the schedule of states) and ``filters`` (the ``filter`` of list, as a predicate
and as SQL).
``counting`` counts a job's datasets in a ``worker`` process that can be stopped (cancel,
timeout, shutdown). ``server`` runs it all under uvicorn and stops it cleanly on SIGINT and
SIGTERM; ``labels`` adds to every job the two labels that say which tokenizer counts it and
whether its counts are exact.
"""

from __future__ import annotations

from .server import Emulator, serve

__all__ = ["Emulator", "serve"]
