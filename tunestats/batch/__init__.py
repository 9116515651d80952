"""Batch: many datasets in one run (``tunestats batch SOURCE... --out DEST``).

:func:`expand` turns files, prefixes and globs (local or any fsspec URL, ``gs://`` included)
into datasets with their version (generation, or size and mtime). :func:`run_batch` skips the
datasets whose record under DEST is for the same version and options, counts the others on all
cores (a large uncompressed file in byte ranges, like ``stats --jobs``; everything else whole),
writes one record per dataset (the TuningDataStats document plus the tokenizer and the
version) and a summary with one row per dataset as JSONL and Parquet.

Each record is written as soon as its dataset is counted, so a batch that is stopped (SIGINT,
SIGTERM, even SIGKILL) keeps every finished one and a rerun reuses them. A dataset that fails
becomes a row with its error, and so does one whose record cannot be written or that has no
valid example (its record is written all the same); the batch goes on. The pieces that count
(:func:`count_whole`, :func:`detect`, :func:`make_record`, and
:func:`tunestats.counting.ranges.count_range` per range) are plain functions of picklable
values, which ``tunestats.beam`` reuses; ranges are joined by ``tunestats.counting.combine``,
as for ``stats --jobs`` and Beam.

The stages, one module each: ``expand`` (SOURCE arguments to datasets), ``records`` (a dataset
to its record, and the summary), ``run`` (the batch on a pool). This package re-exports them.

Hands to the CLI: :class:`BatchResult` (rows in input order, plus where the summary went), or
:class:`BatchInterrupted` when SIGINT or SIGTERM stopped the batch (no summary is written then).
"""

from __future__ import annotations

from .expand import COMPRESSED_SUFFIXES, DATASET_SUFFIXES, Expansion, expand, is_dataset_name
from .records import (
    BATCH_SHARD_BYTES,
    MAX_NAME_BYTES,
    MAX_RECORD_BYTES,
    RECORD_SUFFIX,
    SUMMARY_NAME,
    Row,
    count_whole,
    detect,
    error_record,
    make_record,
    no_valid_example,
    options_key,
    record_bytes,
    record_path,
    row_of,
    save_record,
    summary_lines,
    table,
    write_summary,
)
from .run import BatchInterrupted, BatchResult, Finished, Work, run_batch, work_of

__all__ = [
    "COMPRESSED_SUFFIXES",
    "DATASET_SUFFIXES",
    "Expansion",
    "expand",
    "is_dataset_name",
    "BATCH_SHARD_BYTES",
    "MAX_NAME_BYTES",
    "MAX_RECORD_BYTES",
    "RECORD_SUFFIX",
    "Row",
    "SUMMARY_NAME",
    "count_whole",
    "detect",
    "error_record",
    "make_record",
    "no_valid_example",
    "options_key",
    "record_bytes",
    "record_path",
    "row_of",
    "save_record",
    "summary_lines",
    "table",
    "write_summary",
    "BatchInterrupted",
    "Work",
    "BatchResult",
    "Finished",
    "work_of",
    "run_batch",
]
