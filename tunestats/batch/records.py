"""Records: one dataset -> its record under DEST, and the summary of all records.

A dataset is counted whole (``count_whole``) or in byte ranges (``detect``, then
:func:`tunestats.counting.ranges.count_range` per range): plain functions of picklable values
that Beam's workers call too. Its record is the
TuningDataStats document plus the tokenizer, its exactness and the dataset's version. Record
names always lie inside DEST. The summary is one :class:`Row` per dataset, as JSONL, Parquet
and a table.

Hands to ``run`` (and to ``tunestats.beam``): records, rows and the files that hold them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..config.options import numbers_options
from ..config.plan import Plan
from ..counting.accumulate import Accumulator, MediaSummary
from ..counting.blocks import accumulate_blocks
from ..counting.ranges import Failure
from ..io import uris
from ..io.files import SourceError, join_path
from ..io.lines import read_blocks
from ..io.sources import SourceInfo, stat_source
from ..io.writing import write_bytes
from ..job.results import make_stats
from ..present.text import media_line, tokenizer_line
from ..present.view import record_views
from ..run.pipeline import finish_source, peek_format

# The smallest byte range of a split dataset in tunestats.beam, where workers are machines and
# each range costs a task. (The local batch splits like ``stats --jobs``: Options.shard_bytes.)
BATCH_SHARD_BYTES = 64 << 20


RECORD_SUFFIX = ".stats.json"
# What a record holds (2: drop kinds, readiness, cost, page): a record of another version is
# recomputed. Bump it when a record would say something else for the same dataset and options
# (a new field, or a change to drops.KINDS, readiness.LIMITS or cost.LIST_PRICES).
RECORD_VERSION = 3


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


# Record names: characters kept as they are (ASCII), the mark before a name's hash, and limits
# (a file name is at most 255 bytes on common file systems; a GCS object name 1,024 bytes, DEST's
# prefix included).


_SAFE_ASCII = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+=,@ ")


_HASH_MARK = "~"


_HASH_CHARS = 16


MAX_NAME_BYTES = 160  # one directory or file name of a record, before "~hash" and the suffix


MAX_RECORD_BYTES = 512  # a record's whole path under DEST


def record_path(dest: str, uri: str) -> str:
    """Where a dataset's record goes: DEST/<scheme>/<path of the source>.stats.json, always
    inside DEST, one record per URI.

    Local sources go under ``local/`` by their absolute path; ``gs://b/x.jsonl`` under
    ``gs/b/x.jsonl.stats.json``. The path is cut at ``/``; each part keeps letters, digits,
    non-ASCII printable characters and ``-_.+=,@`` and space, everything else is written ``%XX``
    (its UTF-8 bytes). Empty, ``.`` and ``..`` parts are left out, a part longer than
    :data:`MAX_NAME_BYTES` is cut, and a path longer than :data:`MAX_RECORD_BYTES` loses
    directories; whenever one of these changes the name, ``~`` and 16 hex digits of the SHA-256
    of the URI are added to it, so distinct URIs never share a record. Equal sources always map
    to equal names.
    """
    if uris.is_local(uri):
        scheme, rest = "local", uris.absolute(uri)
    else:
        scheme, rest = uris.scheme(uri) or "", uris.after_scheme(uri)
    scheme_name, exact = _record_name(scheme)
    raw = rest.lstrip("/").split("/")  # fsspec ignores the slashes after "://"; so do records
    parts = [part for part in raw if part not in ("", ".", "..")]
    exact = exact and len(parts) == len(raw) and bool(parts)
    names = []
    for part in parts:
        name, whole = _record_name(part)
        names.append(name)
        exact = exact and whole
    last = names.pop() if names else ""
    for whole in (True, False) if exact else (False,):
        tail = RECORD_SUFFIX if whole else f"{_HASH_MARK}{_uri_hash(uri)}{RECORD_SUFFIX}"
        budget = MAX_RECORD_BYTES - _size(scheme_name) - _size(last + tail) - 2
        kept = []
        for name in names:  # leading directories while they fit
            budget -= _size(name) + 1
            if budget < 0:
                break
            kept.append(name)
        if not whole or len(kept) == len(names):
            break
    return join_path(dest, scheme_name, *kept, last + tail)


def _record_name(part: str) -> tuple[str, bool]:
    """One part of a record path, safe in any file system or bucket, and whether it is whole
    (not cut to :data:`MAX_NAME_BYTES`)."""
    pieces, size = [], 0
    for char in part:
        if char in _SAFE_ASCII or (not char.isascii() and char.isprintable()):
            piece = char
        else:  # surrogatepass: lone surrogates too, as bytes no real character has
            piece = "".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))
        size += _size(piece)
        if size > MAX_NAME_BYTES:
            return "".join(pieces), False
        pieces.append(piece)
    return "".join(pieces), True


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _uri_hash(uri: str) -> str:
    return hashlib.sha256(uri.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]


# --- counting, one dataset or one range at a time ------------------------------------------


def options_key(plan: Plan) -> dict[str, Any]:
    """The options that decide the statistics, as stored in a record."""
    key = numbers_options(plan.options)
    key["model"] = plan.profile.name
    key["tokenizer"] = plan.choice.tokenizer.name
    return key


def count_whole(info: SourceInfo, plan: Plan, report: Any = None) -> dict[str, Any]:
    """Detect, read and count one dataset in this process; return its record.

    The dataset is stat'ed again first: one rewritten since it was listed is counted as it is
    now, and its record names the version that was read.
    """
    try:
        info = stat_source(info.uri)
        reader = read_blocks(info.uri, expect=info, max_line_bytes=plan.options.max_line_bytes)
        fmt, blocks = (
            (plan.options.format, reader)
            if plan.options.format
            else peek_format(reader, plan.profile.format)
        )
        return make_record(info, plan, fmt, accumulate_blocks(blocks, fmt, plan, report))
    except Exception as exc:
        return error_record(Failure.of(info, exc))


def detect(info: SourceInfo, plan: Plan) -> str:
    """The format of a dataset (from its first records) unless the options fix it."""
    if plan.options.format:
        return plan.options.format
    reader = read_blocks(info.uri, expect=info, max_line_bytes=plan.options.max_line_bytes)
    try:
        fmt, _ = peek_format(reader, plan.profile.format)
    finally:
        reader.close()
    return fmt


def make_record(info: SourceInfo, plan: Plan, fmt: str, acc: Accumulator) -> dict[str, Any]:
    """A dataset's record: what it is, how it was counted, and its TuningDataStats."""
    try:
        source = finish_source(info.uri, fmt, acc, info)
    except SourceError as exc:
        return error_record(Failure.of(info, exc))
    stats = make_stats(plan, source)
    r = source.result
    outputs = r.output_tokens if stats.task == "supervised" else None  # SPEC §6: none reported
    views = record_views(stats)
    return {
        "recordVersion": RECORD_VERSION,
        **_version(info),
        "format": fmt,
        "task": stats.task,
        "model": stats.model,
        "tokenizer": stats.tokenizer,
        "exactTokenCounts": stats.exact,
        "options": options_key(plan),
        "lines": r.lines,
        "blankLines": r.blank,
        "summary": {
            "examples": r.examples,
            "dropped": r.dropped,
            "billable_tokens": r.billable_tokens,
            "input_p95": r.input_tokens.p95 if r.input_tokens else None,
            "input_max": r.input_tokens.max if r.input_tokens else None,
            "output_p95": outputs.p95 if outputs else None,
            "output_max": outputs.max if outputs else None,
            "ready": stats.readiness.ready,
            "rejections": "; ".join(stats.readiness.rejections) or None,
            "media_parts": r.media.total,
            "media_uncounted": r.media.total - r.media.parts.get("measured", 0),
        },
        "tokenizerLine": tokenizer_line(stats),
        "mediaLine": media_line(stats),
        "media": media_record(r.media),
        **views,
        "tuningDataStats": stats.to_dict(),
    }


def media_record(media: MediaSummary) -> dict[str, Any]:
    """SPEC §9 in a record: media tokens, parts by status, and why some were not counted."""
    return {
        "tokens": media.tokens,
        "parts": media.parts,
        "uncounted": [
            {"status": u.status, "reason": u.reason, "count": u.count, "first": u.first}
            for u in media.uncounted
        ],
    }


def error_record(failure: Failure) -> dict[str, Any]:
    """The record of a dataset that could not be counted (never written under DEST)."""
    return {**_version(failure.info), "error": failure.error}


def _version(info: SourceInfo) -> dict[str, Any]:
    return {"uri": info.uri, "generation": info.generation, "mtime": info.mtime, "size": info.size}


def row_of(record: dict[str, Any], status: str, path: str | None) -> Row:
    """A record's summary row. One with no valid example is a failed row (as ``tunestats
    stats`` exits 1 for it) that still links to its record: the dropped reasons are there."""
    if "error" in record:
        return Row(
            uri=record["uri"],
            status="failed",
            generation=record.get("generation"),
            mtime=record.get("mtime"),
            size=record.get("size"),
            error=record["error"],
        )
    error = no_valid_example(record)
    return Row(
        uri=record["uri"],
        status=status if error is None else "failed",
        generation=record.get("generation"),
        mtime=record.get("mtime"),
        size=record.get("size"),
        format=record["format"],
        tokenizer=record["tokenizer"],
        exact=record["exactTokenCounts"],
        record=path,
        error=error,
        **record["summary"],
    )


def no_valid_example(record: dict[str, Any]) -> str | None:
    """Why a counted dataset is unusable: it has no valid example (None when it has one)."""
    summary = record["summary"]
    if summary["examples"]:
        return None
    doc = record.get("tuningDataStats") or {}
    stats = doc.get("supervisedTuningDataStats") or doc.get("distillationDataStats", {}).get(
        "trainingDatasetStats", {}
    )
    reasons = stats.get("droppedExampleReasons") or ["?"]
    return f"{record['uri']}: no valid example ({summary['dropped']} dropped; first: {reasons[0]})"


def record_bytes(record: dict[str, Any]) -> bytes:
    return json.dumps(record, indent=2, ensure_ascii=False).encode()


def save_record(dest: str, record: dict[str, Any]) -> Row:
    """Write a counted dataset's record under DEST and return its row (an error record is not
    written). A record that cannot be written makes a failed row that says why."""
    if "error" in record:
        return row_of(record, "computed", None)
    path = record_path(dest, record["uri"])
    try:
        write_bytes(path, record_bytes(record))
    except Exception as exc:  # OSError locally; gcsfs raises its own types too
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if not isinstance(exc, OSError):
            reason = f"{type(exc).__name__}: {reason}"
        row = row_of(record, "computed", None)
        return replace(row, status="failed", error=f"{path}: cannot write the record: {reason}")
    return row_of(record, "computed", path)


# --- the batch -------------------------------------------------------------------------------


def write_summary(dest: str, rows: list[Row]) -> tuple[str, str]:
    """DEST/summary.jsonl and DEST/summary.parquet, one row per dataset, in input order."""
    jsonl = join_path(dest, SUMMARY_NAME + ".jsonl")
    parquet = join_path(dest, SUMMARY_NAME + ".parquet")
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
    name = row.tokenizer or ""
    if name.startswith("gemini:"):  # the file name without .spiece.model / .model
        name = name.removeprefix("gemini:").split(".", 1)[0]
    return f"{name} ({'exact' if row.exact else 'ESTIMATE'})"


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
