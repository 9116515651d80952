"""Batch pages: ``batch --html``'s index of datasets and a page per dataset, from records alone.

Takes the summary's rows and the records under DEST (never the datasets: pages are made from
what the records hold). Hands to the CLI and Beam: the path of ``index.html``.
"""

from __future__ import annotations

import os
from typing import Any

from ..io.files import join_path, read_bytes
from ..io.writing import write_bytes
from ..present.html import render_index, render_page
from ..present.view import iso_time, now_iso, package_version, page_of
from .paths import RECORD_SUFFIX, record_path
from .records import Record
from .summary import Row


def record_page_model(record: Record) -> dict[str, Any]:
    """The page of one dataset of a batch, from its record alone."""
    info, field = record.info, record.field
    source = {
        "uri": info.uri,
        "generation": info.generation,
        "mtime": iso_time(info.mtime),
        "size": info.size,
        "format": field("format"),
        "task": field("task"),
        "model": field("model"),
    }
    tokenizer = {
        "name": field("tokenizer"),
        "exact": field("exactTokenCounts"),
        "line": field("tokenizerLine", field("tokenizer")),
        "media": field("mediaLine"),
    }
    return page_of(source, tokenizer, field("readiness"), field("cost"), [field("page")])


def index_model(rows: list[tuple[Row, Record | None, str | None]]) -> dict[str, Any]:
    """The index of a batch: one row per dataset, from its summary row, its record (None when
    it failed) and the relative link to its page (None when it has none)."""
    out = []
    for row, record, page in rows:
        readiness = (record.field("readiness") if record else None) or {}
        cost = (record.field("cost") if record else None) or {}
        out.append(
            {
                "uri": row.uri,
                "status": row.status,
                "format": row.format,
                "tokenizer": row.tokenizer,
                "exact": row.exact,
                "examples": row.examples,
                "dropped": row.dropped,
                "billableTokens": row.billable_tokens,
                "inputP95": row.input_p95,
                "outputP95": row.output_p95,
                "ready": row.ready,
                "rejections": list(readiness.get("rejections", [])),
                "cost": cost.get("text"),
                "costHeadline": cost.get("headline"),
                "page": page,
                "error": row.error,
            }
        )
    version = package_version()
    return {
        "title": "tunestats batch",
        "generated": now_iso(),
        "version": version,
        "prefix": common_folder([row["uri"] for row in out]),
        "rows": out,
    }


def common_folder(uris: list[str]) -> str:
    """The folder every URI is in (``gs://b/tuning/``), which the index names once and leaves
    out of each row; "" when there are fewer than two, or they share only a scheme or the
    root."""
    if len(uris) < 2:
        return ""
    prefix = os.path.commonprefix(uris)
    folder = prefix[: prefix.rfind("/") + 1]
    if folder in ("", "/") or folder.endswith("://"):
        return ""
    return folder


def write_batch_html(folder: str, rows: list[Row]) -> str:
    """Write ``folder/index.html`` and a page per counted dataset (from its record, under
    ``folder/pages/``, named as the records are); return the index's path."""
    entries: list[tuple[Row, Record | None, str | None]] = []
    for row in rows:
        record = Record.from_bytes(read_bytes(row.record)) if row.record is not None else None
        if record is None or record.field("page") is None:  # failed, or made before pages
            entries.append((row, record, None))
            continue
        relative = record_path("pages", row.uri).removesuffix(RECORD_SUFFIX) + ".html"
        write_bytes(join_path(folder, relative), render_page(record_page_model(record)).encode())
        entries.append((row, record, relative))
    index = join_path(folder, "index.html")
    write_bytes(index, render_index(index_model(entries)).encode())
    return index
