"""Beam: the statistics of many datasets as an Apache Beam pipeline (the ``beam`` extra).

:class:`ComputeStats` turns a PCollection of datasets (uri strings or ``SourceInfo``) into
``(uri, record)`` pairs, where ``record`` is exactly the JSON object ``tunestats batch`` writes
for the dataset (the ``doc`` of its :class:`~tunestats.batch.Record`), or, for a dataset that
could not be counted, its version and ``error``. A large uncompressed dataset is cut into byte
ranges that any worker may count; :class:`ShardCombineFn` merges their exact accumulators back
in file order, whatever order and grouping Beam combines them in. A dataset that fails becomes
its error record; the others go on.

``python -m tunestats.beam SOURCE... --out DEST [Beam options]`` is ``tunestats batch`` on any
Beam runner: the FnApiRunner by default (what the DirectRunner would run, without its
download), Beam's DaskRunner on a dask.distributed cluster, DataflowRunner in the cloud.

- ``transforms``: :class:`ComputeStats` and its steps, and the values that travel between them.
- ``command``: the command: records and summary written by the pipeline, options split
  between us and Beam, runners.

Hands on: ``(uri, record)`` pairs; from the command, the files under DEST.
"""

from __future__ import annotations

import logging


def _import_beam_quietly() -> None:
    """Import apache_beam without its "apitools not found" warning (it logs it on the root
    logger when Beam's gcp extra is missing, which also sets up logging for everyone)."""
    root = logging.getLogger()
    quiet = logging.NullHandler()  # with a handler, logging.warning() skips basicConfig()

    def drop(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("apitools not found")

    root.addHandler(quiet)
    root.addFilter(drop)
    try:
        import apache_beam  # noqa: F401
    finally:
        root.removeFilter(drop)
        root.removeHandler(quiet)


_import_beam_quietly()

from .command import (  # noqa: E402 (after the quiet import)
    DASK_RUNNER,
    LOCAL_RUNNER,
    build_pipeline,
    main,
    offline_direct_runner,
    split_args,
)
from .transforms import ComputeStats, Merging, Shard, ShardCombineFn, Whole  # noqa: E402

__all__ = [
    "DASK_RUNNER",
    "LOCAL_RUNNER",
    "ComputeStats",
    "Merging",
    "Shard",
    "ShardCombineFn",
    "Whole",
    "build_pipeline",
    "main",
    "offline_direct_runner",
    "split_args",
]
