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
counted, to its :class:`Record`), ``paths`` (where a record goes under DEST), ``summary`` (rows,
the summary's files and table), ``run`` (the batch on the pool), ``pages`` (``--html``). This
package re-exports what the CLI and Beam use.

Hands to the CLI: :class:`BatchResult` (rows in input order, plus where the summary went), or
:class:`BatchInterrupted` when SIGINT or SIGTERM stopped the batch (no summary is written then).
"""

from __future__ import annotations

from .expand import (
    COMPRESSED_SUFFIXES,
    DATASET_SUFFIXES,
    Expansion,
    expand,
    is_dataset_name,
)
from .paths import (
    MAX_NAME_BYTES,
    MAX_RECORD_BYTES,
    RECORD_SUFFIX,
    record_path,
)
from .records import (
    BATCH_SHARD_BYTES,
    RECORD_VERSION,
    Record,
    count_whole,
    detect,
    make_record,
    options_key,
    stored_record,
)
from .run import (
    BatchInterrupted,
    BatchResult,
    Finished,
    Work,
    run_batch,
    work_of,
)
from .summary import (
    SUMMARY_NAME,
    Row,
    read_summary,
    row_of,
    save_record,
    summary_lines,
    summary_paths,
    table,
    write_summary,
)

__all__ = [
    "COMPRESSED_SUFFIXES",
    "DATASET_SUFFIXES",
    "Expansion",
    "expand",
    "is_dataset_name",
    "MAX_NAME_BYTES",
    "MAX_RECORD_BYTES",
    "RECORD_SUFFIX",
    "record_path",
    "BATCH_SHARD_BYTES",
    "RECORD_VERSION",
    "Record",
    "count_whole",
    "detect",
    "make_record",
    "options_key",
    "stored_record",
    "SUMMARY_NAME",
    "Row",
    "read_summary",
    "row_of",
    "save_record",
    "summary_lines",
    "summary_paths",
    "table",
    "write_summary",
    "BatchInterrupted",
    "BatchResult",
    "Finished",
    "Work",
    "run_batch",
    "work_of",
]
