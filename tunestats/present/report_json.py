"""Report JSON: everything the text report says, as one JSON object a CI pipeline can gate on.

``tunestats stats ... --report-json PATH`` writes it. Where ``--json`` prints Google's
TuningDataStats document alone (its schema is Vertex's: int64 as strings, defaults left out),
this document is tunestats' own: the tokenizer and whether its counts are exact, the media
tokens' line, per dataset the source, format, line accounting, characters, billable tokens,
every distribution with its buckets, the media summary and the dropped examples by kind, and
the job: readiness (SPEC §8), cost, epochs and steps. Plain JSON numbers, every key always
present (``null`` where a value does not apply), so ``jq '.datasets.training.dropped'`` never
meets a missing key. ``version`` changes when a key changes meaning or goes away; new keys may
be added within a version. docs/REPORT_JSON.md documents each field.

It takes a :class:`~tunestats.job.results.Stats` and reuses the sentences of ``text`` and the
values of ``view`` (the same words and figures as the text report and the HTML page). Hands a
dict, or its bytes, to the CLI.
"""

from __future__ import annotations

import json
from typing import Any

from ..counting.accumulate import Distribution, MediaSummary
from ..job.document import step_count
from ..job.results import SourceStats, Stats
from .text import dataset_media, media_counts, media_line, tokenizer_line, uncounted_text
from .view import (
    cost_view,
    counts_view,
    drop_groups_view,
    iso_time,
    package_version,
    readiness_view,
)

VERSION = 1

# The document's names of the distributions, and the DatasetResult attributes they come from.
DISTRIBUTIONS = (
    ("inputTokens", "input_tokens"),
    ("outputTokens", "output_tokens"),
    ("messagesPerExample", "messages"),
)


def distribution_json(d: Distribution | None) -> dict[str, Any] | None:
    """A distribution's figures (SPEC §3) and its non-empty buckets; None without examples."""
    if d is None:
        return None
    return {
        "sum": d.sum,
        "min": d.min,
        "p5": d.p5,
        "median": d.median,
        "mean": d.mean,
        "p95": d.p95,
        "max": d.max,
        "buckets": [{"count": c, "left": lo, "right": hi} for c, lo, hi in d.buckets],
    }


def media_json(media: MediaSummary) -> dict[str, Any]:
    """One dataset's media parts (SPEC §9): how many, their tokens, and why some were not
    counted; ``text`` is the text report's "media:" line (None without media)."""
    return {
        "parts": media.total,
        "tokens": media.tokens,
        "byStatus": dict(sorted(media.parts.items())),
        "uncounted": [
            {
                "status": u.status,
                "reason": u.reason,
                "count": u.count,
                "first": [{"line": line, "object": uri} for line, uri in u.first],
                "text": uncounted_text(u),
            }
            for u in media.uncounted
        ],
        "text": dataset_media(media) if media.total else None,
    }


def dataset_json(name: str, source: SourceStats, stats: Stats) -> dict[str, Any]:
    """One dataset as the text report shows it (``training`` or ``validation``)."""
    r = source.result
    training = source is stats.training
    info = source.info
    distributions = {
        key: distribution_json(getattr(r, attr))
        # Distillation datasets have no output (the text report shows no row for it).
        if key != "outputTokens" or stats.task == "supervised"
        else None
        for key, attr in DISTRIBUTIONS
    }
    epochs = stats.epochs if training else None  # tuning trains on the training set only
    return {
        "name": name,
        "source": source.uri,
        "format": source.format,
        "generation": info.generation if info else None,
        "modified": iso_time(info.mtime) if info else None,
        "size": info.size if info else None,
        **counts_view(r),
        "billableTokensAllEpochs": r.billable_tokens * epochs if epochs else None,
        "steps": step_count(r.examples, stats.epochs, stats.batch_size) if training else None,
        "distributions": distributions,
        "media": media_json(r.media),
        "droppedByCode": r.dropped_by_code,
        "dropGroups": drop_groups_view(r),
    }


def _media_totals(stats: Stats) -> dict[str, Any]:
    # The line first: media tokens are always estimates at documented rates.
    return {"line": media_line(stats), **media_counts(stats)}


def report_json(stats: Stats) -> dict[str, Any]:
    """The whole run as one object (docs/REPORT_JSON.md)."""
    validation = stats.validation
    training_steps = step_count(stats.training.kept, stats.epochs, stats.batch_size)
    return {
        "version": VERSION,
        "tunestats": package_version(),
        "model": stats.model,
        "task": stats.task,
        "tokenizer": {
            "name": stats.tokenizer,
            "exact": stats.exact,
            "notes": list(stats.notes),
            "line": tokenizer_line(stats),
        },
        "media": _media_totals(stats),
        "datasets": {
            "training": dataset_json("training", stats.training, stats),
            "validation": (
                dataset_json("validation", validation, stats) if validation is not None else None
            ),
        },
        "job": {
            **readiness_view(stats.readiness),
            "epochs": stats.epochs,
            "batchSize": stats.batch_size,
            "steps": training_steps,
            "cost": cost_view(stats.cost),
        },
    }


def dumps(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_report_json(path: str, stats: Stats) -> None:
    """Write the run's report JSON to ``path`` (local, atomically, or any fsspec URL), as
    ``--html`` writes its page; OSError when the local folder does not exist."""
    from .view import write_checked

    write_checked(path, dumps(report_json(stats)))
