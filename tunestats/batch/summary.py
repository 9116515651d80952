"""Summary: one row per dataset of a batch, as JSONL, Parquet and a table for the terminal.

Takes :class:`~tunestats.batch.records.Record` objects; hands to ``run``, Beam and the command
line: :class:`Row` objects, the summary's files and the lines printed under the table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

from ..io.files import join_path, read_bytes
from ..io.writing import write_bytes
from ..tokenizers import short_name
from .paths import record_path
from .records import Record

SUMMARY_NAME = "summary"


@dataclass(frozen=True)
class Row:
    """One line of the summary: a dataset, what was found, or why it failed."""

    uri: str
    status: str  # "computed", "unchanged" (record reused) or "failed"
    generation: str | None = None
    mtime: float | None = None
    size: int | None = None
    format: str | None = None
    tokenizer: str | None = None
    exact: bool | None = None  # the token counts are exact for the model (else estimates)
    examples: int | None = None
    dropped: int | None = None
    billable_tokens: int | None = None
    input_p95: int | None = None
    input_max: int | None = None
    output_p95: int | None = None
    output_max: int | None = None
    ready: bool | None = None  # Vertex would accept the job (SPEC §8)
    rejections: str | None = None  # why not: the "Vertex would reject this job" sentences
    media_parts: int | None = None  # media parts of the kept examples (SPEC §9)
    media_uncounted: int | None = None  # of those, parts whose tokens are not counted
    record: str | None = None  # where the dataset's record is
    error: str | None = None


def row_of(record: Record, status: str, path: str | None) -> Row:
    """A record's summary row. One with no valid example is a failed row (as ``tunestats
    stats`` exits 1 for it) that still links to its record: the dropped reasons are there."""
    info = record.info
    version = {"uri": info.uri, "generation": info.generation, "mtime": info.mtime}
    if record.error is not None:
        return Row(**version, size=info.size, status="failed", error=record.error)
    error = record.no_valid_example()
    return Row(
        **version,
        size=info.size,
        status=status if error is None else "failed",
        format=record.field("format"),
        tokenizer=record.field("tokenizer"),
        exact=record.field("exactTokenCounts"),
        record=path,
        error=error,
        **record.summary,
    )


def save_record(dest: str, record: Record) -> Row:
    """Write a counted dataset's record under DEST and return its row (a failed dataset's
    record is not written). A record that cannot be written makes a failed row that says why."""
    if record.error is not None:
        return row_of(record, "computed", None)
    path = record_path(dest, record.uri)
    try:
        write_bytes(path, record.to_bytes())
    except Exception as exc:  # OSError locally; gcsfs raises its own types too
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if not isinstance(exc, OSError):
            reason = f"{type(exc).__name__}: {reason}"
        row = row_of(record, "computed", None)
        return replace(row, status="failed", error=f"{path}: cannot write the record: {reason}")
    return row_of(record, "computed", path)


def summary_paths(dest: str) -> tuple[str, str]:
    """DEST/summary.jsonl and DEST/summary.parquet."""
    return join_path(dest, SUMMARY_NAME + ".jsonl"), join_path(dest, SUMMARY_NAME + ".parquet")


def write_summary(dest: str, rows: list[Row]) -> tuple[str, str]:
    """DEST/summary.jsonl and DEST/summary.parquet, one row per dataset, in input order."""
    jsonl, parquet = summary_paths(dest)
    lines = [json.dumps(asdict(row), ensure_ascii=False) for row in rows]
    write_bytes(jsonl, ("\n".join(lines) + "\n").encode() if lines else b"")
    write_bytes(parquet, _parquet_bytes(rows))
    return jsonl, parquet


def _parquet_bytes(rows: list[Row]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"mtime": pa.float64(), "size": pa.int64(), "exact": pa.bool_(), "ready": pa.bool_()}
    for name in Row.__dataclass_fields__:
        kind = Row.__dataclass_fields__[name].type
        if name not in types:
            types[name] = pa.int64() if "int" in str(kind) else pa.string()
    columns = {
        name: pa.array([getattr(r, name) for r in rows], type=t) for name, t in types.items()
    }
    table = pa.table({name: columns[name] for name in Row.__dataclass_fields__})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _tokenizer_cell(row: Row) -> str:
    """The tokenizer's short name, and whether its counts are exact for the model."""
    return f"{short_name(row.tokenizer or '')} ({'exact' if row.exact else 'ESTIMATE'})"


def summary_lines(rows: list[Row], jsonl: str, parquet: str) -> list[str]:
    """What ``tunestats batch`` and ``python -m tunestats.beam`` print under the table."""
    computed = sum(r.status == "computed" for r in rows)
    unchanged = sum(r.status == "unchanged" for r in rows)
    failed = sum(r.status == "failed" for r in rows)
    lines = [
        f"{len(rows)} datasets: {computed} computed, {unchanged} unchanged, {failed} failed; "
        f"summary in {jsonl} and {parquet}"
    ]
    rejected = sum(r.ready is False and r.status != "failed" for r in rows)
    if rejected:
        lines.append(f"{rejected} of them Vertex would reject (the summary's `rejections` say why)")
    return lines


def table(rows: list[Row]) -> str:
    """The summary as a text table for the terminal."""
    head = (
        "dataset",
        "format",
        "tokenizer",
        "examples",
        "dropped",
        "billable",
        "in p95",
        "in max",
        "out p95",
        "out max",
        "ready",
        "status",
    )
    body = []
    for r in rows:
        if r.status == "failed":
            body.append((r.uri, "", "", "", "", "", "", "", "", "", "", f"FAILED: {r.error}"))
            continue
        cells = (
            r.examples,
            r.dropped,
            r.billable_tokens,
            r.input_p95,
            r.input_max,
            r.output_p95,
            r.output_max,
        )
        numbers = ("-" if c is None else f"{c:,}" for c in cells)
        ready = "-" if r.ready is None else "yes" if r.ready else "NO"
        body.append((r.uri, r.format or "", _tokenizer_cell(r), *numbers, ready, r.status))
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head) - 1)]
    out = []
    for cells in [head, *body]:
        left = [str(c).ljust(w) for c, w in zip(cells[:3], widths)]
        nums = [str(c).rjust(w) for c, w in zip(cells[3:-1], widths[3:])]
        out.append("  ".join([*left, *nums, str(cells[-1])]))
    return "\n".join(out)


def read_summary(dest: str) -> list[Row]:
    """The rows of DEST/summary.jsonl."""
    data = read_bytes(summary_paths(dest)[0])
    return [Row(**json.loads(line)) for line in data.decode().splitlines() if line]
