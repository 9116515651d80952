"""Records: one dataset counted, and what a batch keeps for it under DEST.

A dataset is counted whole (:func:`count_whole`) or in byte ranges (:func:`detect`, then
:func:`tunestats.counting.ranges.count_range` per range, joined by
:mod:`tunestats.counting.combine`): plain functions of picklable values that Beam's workers call
too. :func:`make_record` turns a dataset's Accumulator into its :class:`Record`: the
TuningDataStats document plus the tokenizer, its exactness and the dataset's version.

Hands to ``run`` (and to ``tunestats.beam``): :class:`Record` objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..config.options import numbers_options
from ..config.plan import Plan
from ..counting.accumulate import Accumulator, MediaSummary
from ..counting.blocks import accumulate_blocks
from ..counting.ranges import Failure
from ..io.files import SourceError, read_bytes
from ..io.lines import read_blocks
from ..io.sources import SourceInfo, stat_source
from ..job.results import make_stats
from ..present.text import media_line, tokenizer_line
from ..present.view import record_views
from ..run.pipeline import finish_source, peek_format
from .paths import record_path

# The smallest byte range of a split dataset in tunestats.beam, where workers are machines and
# each range costs a task. (The local batch splits like ``stats --jobs``: Options.shard_bytes.)
BATCH_SHARD_BYTES = 64 << 20


# What a record holds (2: drop kinds, readiness, cost, page; 3: media): a record of another
# version is recomputed. Bump it when a record would say something else for the same dataset
# and options (a new field, or a change to drops.KINDS, readiness.LIMITS or cost.LIST_PRICES).
RECORD_VERSION = 3


@dataclass(frozen=True)
class Record:
    """A dataset's record: the one reader and writer of what a batch keeps for a dataset.

    ``doc`` is the JSON object written under DEST (:meth:`to_bytes`, :meth:`from_bytes`):
    ``recordVersion``, the dataset's version, its format, task, model, tokenizer and whether
    its counts are exact, the options, its lines, the summary row's figures, media, readiness,
    drops by code, cost, its page and the ``tuningDataStats`` document. A dataset that could not
    be counted has a record of its version and ``error`` only, which is never written.
    """

    doc: dict[str, Any]

    @classmethod
    def failed(cls, failure: Failure) -> Record:
        return cls({**_version(failure.info), "error": failure.error})

    @classmethod
    def from_bytes(cls, data: bytes) -> Record:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("a record is a JSON object")
        return cls(doc)

    def to_bytes(self) -> bytes:
        return json.dumps(self.doc, indent=2, ensure_ascii=False).encode()

    @property
    def uri(self) -> str:
        return self.doc["uri"]

    @property
    def info(self) -> SourceInfo:
        """The version of the dataset that was counted."""
        doc = self.doc
        return SourceInfo(doc["uri"], doc.get("size"), doc.get("generation"), doc.get("mtime"))

    @property
    def error(self) -> str | None:
        return self.doc.get("error")

    @property
    def summary(self) -> dict[str, Any]:
        """The figures of the summary row (examples, dropped, billable tokens, p95s ...)."""
        return self.doc["summary"]

    def field(self, name: str, default: Any = None) -> Any:
        """A field of the record by its JSON name (``format``, ``tokenizer``, ``page`` ...)."""
        return self.doc.get(name, default)

    def reusable_for(self, info: SourceInfo, plan: Plan) -> bool:
        """Whether this record is for ``info``'s dataset at its version, with ``plan``'s
        options, made by a tunestats that writes records of this version."""
        return (
            self.error is None
            and self.uri == info.uri
            and self.info.same_version(info)
            and self.doc.get("options") == options_key(plan)
            and self.doc.get("recordVersion") == RECORD_VERSION
        )

    def no_valid_example(self) -> str | None:
        """Why a counted dataset is unusable: it has no valid example (None when it has one)."""
        summary = self.summary
        if summary["examples"]:
            return None
        doc = self.doc.get("tuningDataStats") or {}
        stats = doc.get("supervisedTuningDataStats") or doc.get("distillationDataStats", {}).get(
            "trainingDatasetStats", {}
        )
        reasons = stats.get("droppedExampleReasons") or ["?"]
        return f"{self.uri}: no valid example ({summary['dropped']} dropped; first: {reasons[0]})"


# --- counting a dataset: whole, or its format for its ranges; its record --------------------------


def stored_record(dest: str, info: SourceInfo, plan: Plan) -> Record | None:
    """The record under DEST when it is for this dataset, this version and these options."""
    try:
        record = Record.from_bytes(read_bytes(record_path(dest, info.uri)))
        return record if record.reusable_for(info, plan) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def options_key(plan: Plan) -> dict[str, Any]:
    """The options that decide the statistics, as stored in a record."""
    key = numbers_options(plan.options)
    key["model"] = plan.profile.name
    key["tokenizer"] = plan.choice.tokenizer.name
    return key


def count_whole(info: SourceInfo, plan: Plan, report: Any = None) -> Record:
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
        return Record.failed(Failure.of(info, exc))


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


def make_record(info: SourceInfo, plan: Plan, fmt: str, acc: Accumulator) -> Record:
    """A dataset's record: what it is, how it was counted, and its TuningDataStats."""
    try:
        source = finish_source(info.uri, fmt, acc, info)
    except SourceError as exc:
        return Record.failed(Failure.of(info, exc))
    stats = make_stats(plan, source)
    r = source.result
    outputs = r.output_tokens if stats.task == "supervised" else None  # SPEC §6: none reported
    views = record_views(stats)
    doc = {
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
    return Record(doc)


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


def _version(info: SourceInfo) -> dict[str, Any]:
    return {"uri": info.uri, "generation": info.generation, "mtime": info.mtime, "size": info.size}
