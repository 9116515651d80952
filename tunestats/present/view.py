"""View: a run's results as the plain values that the HTML pages and the batch records show.

From :class:`~tunestats.job.results.Stats` (or a batch record) to the *page model* that
:mod:`tunestats.present.html` renders (its shape is documented there): what was read, the tokenizer
and whether it is exact, readiness, cost, and per dataset the totals, distributions, drop
groups (code, count, hint, first lines) and samples. Also the parts of a batch record that
say the same (``droppedByCode``, ``dropGroups``, ``readiness``, ``cost``), so that a batch
page is built from its record alone.

Hands to the CLI and the batch: dicts, and the HTML files written from them.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from ..counting.accumulate import DatasetResult, Distribution
from ..formats.drops import KINDS
from ..job.cost import Cost
from ..job.cost import _usd as usd  # the sentence's own rounding
from ..job.document import step_count
from ..job.readiness import Readiness
from ..job.results import SourceStats, Stats
from .text import dataset_media, media_line, tokenizer_line

_DISTRIBUTIONS = (
    ("input tokens", "userInputTokenDistribution", "input_tokens"),
    ("output tokens", "userOutputTokenDistribution", "output_tokens"),
    ("messages per example", "userMessagePerExampleDistribution", "messages"),
)


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_time(mtime: float | None) -> str | None:
    if mtime is None:
        return None
    moment = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def package_version() -> str:
    """The installed tunestats' version ("unknown" in a source tree never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tunestats")
    except PackageNotFoundError:
        return "unknown"


def distribution_view(name: str, field: str, d: Distribution) -> dict[str, Any]:
    return {
        "name": name,
        "field": field,
        "sum": d.sum,
        "min": d.min,
        "max": d.max,
        "mean": d.mean,
        "median": d.median,
        "p5": d.p5,
        "p95": d.p95,
        "buckets": [{"count": c, "left": lo, "right": hi} for c, lo, hi in d.buckets],
    }


def drop_groups_view(result: DatasetResult) -> list[dict[str, Any]]:
    """The dropped lines by kind, most frequent first: code, title, hint, count, first lines."""
    return [
        {
            "code": g.code,
            "title": KINDS[g.code].title,
            "hint": KINDS[g.code].hint,
            "count": g.count,
            "path": g.path or None,
            "examples": [{"line": line, "reason": reason} for line, reason in g.examples],
        }
        for g in result.drop_groups
    ]


def counts_view(r: DatasetResult) -> dict[str, int]:
    """A dataset's lines and characters, and its billable tokens, as every output names them."""
    return {
        "lines": r.lines,
        "kept": r.examples,
        "dropped": r.dropped,
        "blank": r.blank,
        "characters": r.characters,
        "billableCharacters": r.billable_characters,
        "billableTokens": r.billable_tokens,
    }


def dataset_view(name: str, source: SourceStats, stats: Stats) -> dict[str, Any]:
    r = source.result
    training = source is stats.training
    shown = _DISTRIBUTIONS if stats.task == "supervised" else _DISTRIBUTIONS[::2]
    return {
        "name": name,
        "uri": source.uri,
        "format": source.format,
        **counts_view(r),
        "images": r.images,
        "mediaParts": r.media.total,
        "mediaTokens": r.media.tokens,
        "mediaText": dataset_media(r.media) if r.media.total else None,
        "steps": step_count(r.examples, stats.epochs, stats.batch_size) if training else None,
        "distributions": [
            distribution_view(label, field, getattr(r, attr))
            for label, field, attr in shown
            if getattr(r, attr) is not None
        ],
        "dropGroups": drop_groups_view(r),
        "samples": [
            {"role": content["role"], "text": content["parts"][0]["text"]} for content in r.samples
        ],
        "sampleExamples": sample_examples_view(source),
    }


def sample_examples_view(source: SourceStats) -> list[dict[str, Any]]:
    """The sample examples one by one, each with its line and turns (``samples`` holds the same
    turns run together, as Vertex's ``userDatasetExamples`` lists them)."""
    return [
        {
            "line": line,
            "turns": [{"role": c["role"], "text": c["parts"][0]["text"]} for c in contents],
        }
        for line, contents in source.accumulator.samples
    ]


def readiness_view(readiness: Readiness) -> dict[str, Any]:
    return {
        "ready": readiness.ready,
        "rejections": list(readiness.rejections),
        "warnings": list(readiness.warnings),
    }


def cost_headline(cost: Cost) -> str:
    """The figure a reader looks for: the amount, the amount per epoch, or "no list price"
    (the sentence with its basis and hints goes under it)."""
    if cost.amount is not None:
        return usd(cost.amount)
    if cost.per_epoch is not None:
        return f"{usd(cost.per_epoch)} per epoch"
    return "no list price"


def cost_view(cost: Cost | None) -> dict[str, Any] | None:
    if cost is None:
        return None
    return {
        "headline": cost_headline(cost),
        "text": cost.text,
        "amount": cost.amount,
        "perEpoch": cost.per_epoch,
        "pricePerMillion": cost.price,
        "priceDate": cost.price_date,
        "priceUrl": cost.price_url,
        "priceOrigin": cost.price_origin,
        "epochs": cost.epochs,
        "epochsNote": cost.epochs_note,
        "trainingTokens": cost.training_tokens,
    }


def page_of(
    source: dict[str, Any],
    tokenizer: dict[str, Any],
    readiness: dict[str, Any],
    cost: dict[str, Any] | None,
    datasets: list[dict[str, Any]],
) -> dict[str, Any]:
    uri = source["uri"]
    return {
        "title": os.path.basename(uri.rstrip("/")) or uri,
        "generated": now_iso(),
        "version": package_version(),
        "source": source,
        "tokenizer": tokenizer,
        "readiness": readiness,
        "cost": cost,
        "datasets": datasets,
    }


def page_model(stats: Stats) -> dict[str, Any]:
    """The page of one run (``tunestats stats SOURCE --html PATH``)."""

    training = stats.training
    info = training.info
    datasets = [dataset_view("training", training, stats)]
    if stats.validation is not None:
        datasets.append(dataset_view("validation", stats.validation, stats))
    source = {
        "uri": training.uri,
        "generation": info.generation if info else None,
        "mtime": iso_time(info.mtime) if info else None,
        "size": info.size if info else None,
        "format": training.format,
        "task": stats.task,
        "model": stats.model,
    }
    tokenizer = {
        "name": stats.tokenizer,
        "exact": stats.exact,
        "line": tokenizer_line(stats),
        "media": media_line(stats),
    }
    readiness = readiness_view(stats.readiness)
    return page_of(source, tokenizer, readiness, cost_view(stats.cost), datasets)


def page_path_problem(path: str) -> str | None:
    """Why the page cannot be written at ``path``, or None. A local page goes into a folder
    that exists (as ``--write-kept`` does): a mistyped folder is said, not created. fsspec URLs
    have no folders to check."""
    from ..io import uris

    if not uris.is_local(path):
        return None
    local = uris.local_path(path)
    folder = os.path.dirname(local) or "."
    if os.path.isdir(local):
        return f"{local} is a directory"
    if not os.path.exists(folder):
        return f"no such directory {folder}"
    if not os.path.isdir(folder):
        return f"{folder} is not a directory"
    return None


def write_checked(path: str, data: bytes) -> None:
    """Write a file a run was asked for (``--html``, ``--report-json``) to ``path`` (local,
    atomically, or any fsspec URL); OSError when :func:`page_path_problem` finds one."""
    from ..io.writing import write_bytes

    problem = page_path_problem(path)
    if problem is not None:
        raise OSError(problem)
    write_bytes(path, data)


def write_page(path: str, stats: Stats) -> None:
    """Write the run's HTML page to ``path``, as :func:`write_checked` writes."""
    from .html import render_page

    write_checked(path, render_page(page_model(stats)).encode("utf-8"))


# --- what a batch record adds ---------------------------------------------------------------------


def record_views(stats: Stats) -> dict[str, Any]:
    """What a batch record adds about its dataset: readiness, drops by code, cost and the
    page's values (kept out of the TuningDataStats document, whose schema is Google's)."""
    r = stats.training.result
    return {
        "readiness": readiness_view(stats.readiness),
        "droppedByCode": r.dropped_by_code,
        "cost": cost_view(stats.cost),
        # The dataset as its page shows it (dropGroups included): a batch page needs only this.
        "page": dataset_view("training", stats.training, stats),
    }
