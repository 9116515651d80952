"""Document: from accumulated results to the TuningDataStats document (SPEC §6).

The document follows the proto3 JSON mapping: lowerCamelCase names, int64 as strings, doubles
as numbers, fields at their default value left out. Supervised runs give
``{"supervisedTuningDataStats": ...}``; distillation runs give
``{"distillationDataStats": {"trainingDatasetStats": ...}}`` with the DatasetDistribution types.

It takes plain values (a DatasetResult and what the run was told), so it depends on nothing
but ``counting.accumulate``. Hands dicts to ``results`` (the API) and JSON text to the CLI; the
terminal report is ``text``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..counting.accumulate import DatasetResult, Distribution


def _int64(value: int) -> str:
    return str(value)


def _prune(doc: dict[str, Any]) -> dict[str, Any]:
    """Leave out fields at their proto3 default: 0, "0", empty lists and messages, None."""
    return {k: v for k, v in doc.items() if v not in (0, 0.0, "0", None, [], {})}


def _distribution(d: Distribution | None, *, supervised: bool, billable: bool) -> dict | None:
    if d is None:
        return None
    doc: dict[str, Any] = {"sum": _int64(d.sum) if supervised else float(d.sum)}
    if supervised and billable:
        doc["billableSum"] = _int64(d.sum)  # SPEC §3: equal to sum for token distributions
    doc.update(
        min=float(d.min),
        max=float(d.max),
        mean=d.mean,
        median=float(d.median),
        p5=float(d.p5),
        p95=float(d.p95),
    )
    buckets = []
    for count, left, right in d.buckets:
        # SupervisedTuningDatasetDistribution.DatasetBucket.count is a double;
        # DatasetDistribution.DistributionBucket.count an int64.
        bucket = {
            "count": float(count) if supervised else _int64(count),
            "left": float(left),
            "right": float(right),
        }
        buckets.append(_prune(bucket))
    doc["buckets"] = buckets
    return _prune(doc)


def step_count(examples: int, epochs: int | None, batch_size: int | None) -> int | None:
    """SPEC §5: tuningStepCount, when both epochs and batch size are known."""
    if epochs is None or batch_size is None:
        return None
    return epochs * math.ceil(examples / batch_size)


def dataset_stats(
    result: DatasetResult,
    *,
    task: str,
    epochs: int | None = None,
    batch_size: int | None = None,
    training: bool = True,
) -> dict[str, Any]:
    """SupervisedTuningDataStats or DatasetStats (distillation) of one dataset; tuning steps
    are the training set's only (CHOICES.md)."""
    supervised = task == "supervised"
    steps = step_count(result.examples, epochs, batch_size) if training else None
    doc: dict[str, Any] = {
        "tuningDatasetExampleCount": _int64(result.examples),
        "totalTuningCharacterCount": _int64(result.characters),
        "totalBillableCharacterCount": _int64(result.billable_characters),
        "totalBillableTokenCount": _int64(result.billable_tokens),
        "tuningStepCount": None if steps is None else _int64(steps),
        "userInputTokenDistribution": _distribution(
            result.input_tokens, supervised=supervised, billable=True
        ),
        "userOutputTokenDistribution": (
            _distribution(result.output_tokens, supervised=True, billable=True)
            if supervised
            else None
        ),
        "userMessagePerExampleDistribution": _distribution(
            result.messages, supervised=supervised, billable=False
        ),
        "userDatasetExamples": result.samples,
    }
    indices = [_int64(line) for line in result.dropped_lines]
    if supervised:
        doc["totalTruncatedExampleCount"] = _int64(result.dropped)
        doc["truncatedExampleIndices"] = indices
    else:
        doc["droppedExampleIndices"] = indices
    doc["droppedExampleReasons"] = result.dropped_reasons
    return _prune(doc)


def tuning_data_stats(result: DatasetResult, *, task: str, **told: Any) -> dict[str, Any]:
    """The TuningDataStats document of one dataset, ready to sit in a TuningJob resource
    (``told``: epochs, batch_size, training, as for :func:`dataset_stats`)."""
    inner = dataset_stats(result, task=task, **told)
    if task == "supervised":
        return {"supervisedTuningDataStats": inner}
    return {"distillationDataStats": {"trainingDatasetStats": inner}}


def dumps(doc: Any, indent: int | None = 2) -> str:
    return json.dumps(doc, indent=indent, ensure_ascii=False)
