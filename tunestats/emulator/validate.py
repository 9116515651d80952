"""Validate: the rules Vertex applies to a new TuningJob, before anything is stored.

Takes a TuningJob in canonical form (see ``messages``) and either returns what the job needs to
run (:class:`JobPlan`: task, model, datasets, epochs) or raises an INVALID_ARGUMENT
:class:`~tunestats.emulator.messages.ApiError` naming the field. The limits that no Google
document states are choices, written down in docs/CHOICES.md (Emulator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..profiles import UnknownModel, get_profile
from .messages import ApiError, invalid

MAX_DISPLAY_NAME = 128  # the resource document
MAX_LABELS = 64
MAX_LABEL_CHARS = 64  # the resource document: keys and values
MAX_EPOCHS = 100
MAX_LEARNING_RATE_MULTIPLIER = 10.0

# Fields a client may send but only the service sets: ignored on create (AIP-203).
OUTPUT_ONLY = (
    "name",
    "state",
    "createTime",
    "startTime",
    "endTime",
    "updateTime",
    "error",
    "experiment",
    "tunedModel",
    "tuningDataStats",
    "pipelineJob",
    "evaluateDatasetRuns",
)
SPECS = (
    "supervisedTuningSpec",
    "distillationSpec",
    "partnerModelTuningSpec",
    "veoTuningSpec",
    "veoLoraTuningSpec",
)
SOURCES = ("baseModel", "preTunedModel", "customBaseModel")

_ALL_SIZES = ("ONE", "TWO", "FOUR", "EIGHT", "SIXTEEN", "THIRTY_TWO")
# Adapter sizes each model family supports (docs/CHOICES.md); open models take all of them.
ADAPTER_SIZES = {
    # SPEC §8: Google's "Supervised fine-tuning" page of 2026-09-25.
    "gemini-3.5-flash": ("ONE", "TWO", "FOUR", "EIGHT", "SIXTEEN"),
    "gemini-3.1-flash-lite": ("ONE", "TWO", "FOUR", "EIGHT", "SIXTEEN"),
    "gemini-2.5-pro": ("ONE", "TWO", "FOUR", "EIGHT"),
    "gemini-2.5-flash": ("ONE", "TWO", "FOUR", "EIGHT", "SIXTEEN"),
    "gemini-2.5-flash-lite": ("ONE", "TWO", "FOUR", "EIGHT", "SIXTEEN"),
    "gemini-2.0-flash": ("ONE", "TWO", "FOUR", "EIGHT", "SIXTEEN"),
    "gemini-2.0-flash-lite": ("ONE", "TWO", "FOUR", "EIGHT", "SIXTEEN"),
    "gemini-1.5-pro": ("ONE", "FOUR", "EIGHT"),
    "gemini-1.5-flash": ("ONE", "FOUR", "EIGHT", "SIXTEEN"),
    "gemini-1.0-pro": ("ONE", "FOUR"),
}


@dataclass(frozen=True)
class JobPlan:
    """What the lifecycle needs to count a job's datasets."""

    task: str  # supervised or distillation
    model: str  # the base model (the student, for distillation)
    training: str
    validation: str | None
    epochs: int | None
    batch_size: int | None


def validate_job(
    job: dict[str, Any], *, allow_local_paths: bool, tuned_models: dict[str, str]
) -> JobPlan:
    """Check a TuningJob as Vertex does; ``tuned_models`` maps tuned model names to bases."""
    model = _source_model(job, tuned_models)
    specs = [name for name in SPECS if name in job]
    if not specs:
        raise invalid(
            "A tuning spec is required: one of supervisedTuningSpec, distillationSpec or "
            "partnerModelTuningSpec.",
            "tuning_job.supervised_tuning_spec",
        )
    spec_name = specs[0]  # the protos allow one at most (a oneof)
    if spec_name.startswith("veo"):
        raise ApiError("UNIMPLEMENTED", f"{spec_name} is not emulated; only text tuning is.")
    spec = job[spec_name]
    if spec_name == "distillationSpec":
        model = _distillation_student(job, spec, model)
    _check_model(model)
    training = _dataset(spec, "trainingDatasetUri", spec_name, allow_local_paths, required=True)
    validation = _dataset(spec, "validationDatasetUri", spec_name, allow_local_paths)
    epochs, batch_size = _hyper_parameters(spec, spec_name, model)
    _check_display_name(job.get("tunedModelDisplayName", ""))
    _check_labels(job.get("labels", {}))  # the user's alone: app adds the emulator's after
    task = "distillation" if spec_name == "distillationSpec" else "supervised"
    return JobPlan(task, model, training or "", validation, epochs, batch_size)


def strip_output_only(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if k not in OUTPUT_ONLY}


def _source_model(job: dict[str, Any], tuned_models: dict[str, str]) -> str:
    if "preTunedModel" in job:
        name = job["preTunedModel"].get("tunedModelName", "")
        base = tuned_models.get(name.split("@", 1)[0])
        if base is None:
            raise invalid(
                f"preTunedModel.tunedModelName {name!r} is not a model tuned by a succeeded job.",
                "tuning_job.pre_tuned_model.tuned_model_name",
            )
        return base
    if "customBaseModel" in job:
        raise ApiError("UNIMPLEMENTED", "customBaseModel is not emulated; give a baseModel.")
    base = job.get("baseModel", "")
    if not base and "distillationSpec" not in job:
        raise invalid("baseModel is required.", "tuning_job.base_model")
    return base


def _distillation_student(job: dict[str, Any], spec: dict[str, Any], base: str) -> str:
    if not spec.get("baseTeacherModel") and not spec.get("tunedTeacherModelSource"):
        raise invalid(
            "distillationSpec needs baseTeacherModel or tunedTeacherModelSource.",
            "tuning_job.distillation_spec.base_teacher_model",
        )
    if spec.get("baseTeacherModel"):
        _check_model(spec["baseTeacherModel"], "tuning_job.distillation_spec.base_teacher_model")
    student = base or spec.get("studentModel", "")
    if not student:
        raise invalid("baseModel is required (the student model).", "tuning_job.base_model")
    return student


def _check_model(name: str, field_path: str = "tuning_job.base_model") -> None:
    try:
        get_profile(name)
    except UnknownModel:
        raise invalid(f"Base model {name} is not supported for tuning.", field_path) from None


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


_GCS_URI = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]/.+$")


def _dataset(
    spec: dict[str, Any], key: str, spec_name: str, allow_local: bool, required: bool = False
) -> str | None:
    uri = spec.get(key)
    field_path = f"tuning_job.{_snake(spec_name)}.{_snake(key)}"
    if not uri:
        if required:
            raise invalid(f"{spec_name}.{key} is required.", field_path)
        return None
    if _GCS_URI.match(uri) or (allow_local and _is_local(uri)):
        return uri
    hint = "" if allow_local else " (local paths only with --allow-local-paths)"
    raise invalid(
        f"{spec_name}.{key} must be a Cloud Storage URI gs://BUCKET/OBJECT{hint}: {uri}", field_path
    )


def _hyper_parameters(
    spec: dict[str, Any], spec_name: str, model: str
) -> tuple[int | None, int | None]:
    hp = spec.get("hyperParameters", {})
    prefix = f"tuning_job.{_snake(spec_name)}.hyper_parameters"
    if spec_name == "partnerModelTuningSpec":  # a free-form map: the model decides
        epochs = str(hp.get("epoch_count", hp.get("epochCount", "")))
        return (int(epochs) if epochs.isdigit() else None), None
    epochs = int(hp["epochCount"]) if "epochCount" in hp else None
    if epochs is not None and not 1 <= epochs <= MAX_EPOCHS:
        raise invalid(
            f"epochCount must be between 1 and {MAX_EPOCHS}, not {epochs}.", f"{prefix}.epoch_count"
        )
    multiplier = hp.get("learningRateMultiplier")
    if multiplier is not None and not 0 < multiplier <= MAX_LEARNING_RATE_MULTIPLIER:
        raise invalid(
            f"learningRateMultiplier must be greater than 0 and at most "
            f"{MAX_LEARNING_RATE_MULTIPLIER:g}, not {multiplier}.",
            f"{prefix}.learning_rate_multiplier",
        )
    size = hp.get("adapterSize", "ADAPTER_SIZE_UNSPECIFIED")
    if not isinstance(size, str):  # proto3 enums are open: a number no AdapterSize has
        raise invalid(f"adapterSize {size} is not a known AdapterSize.", f"{prefix}.adapter_size")
    size = size.removeprefix("ADAPTER_SIZE_")
    allowed = _adapter_sizes(model)
    if size != "UNSPECIFIED" and size not in allowed:
        choices = ", ".join(f"ADAPTER_SIZE_{s}" for s in allowed)
        raise invalid(
            f"adapterSize ADAPTER_SIZE_{size} is not supported for {model}; supported: {choices}.",
            f"{prefix}.adapter_size",
        )
    batch_size = int(hp["batchSize"]) if "batchSize" in hp else None
    if batch_size is not None and batch_size < 1:
        raise invalid(f"batchSize must be positive, not {batch_size}.", f"{prefix}.batch_size")
    return epochs, batch_size


def _adapter_sizes(model: str) -> tuple[str, ...]:
    bare = model.rsplit("/models/", 1)[-1]
    for family in sorted(ADAPTER_SIZES, key=len, reverse=True):
        if bare.startswith(family):
            return ADAPTER_SIZES[family]
    return _ALL_SIZES


def _check_display_name(name: str) -> None:
    if len(name) > MAX_DISPLAY_NAME:
        raise invalid(
            f"tunedModelDisplayName is {len(name)} characters long; at most "
            f"{MAX_DISPLAY_NAME} are allowed.",
            "tuning_job.tuned_model_display_name",
        )


def _label_char(c: str) -> bool:
    """Lowercase letters (any script with case), letters without case, digits, _ and -."""
    return c.islower() or c.isdigit() or c in "_-" or (c.isalpha() and not c.isupper())


def _check_labels(labels: dict[str, str]) -> None:
    if len(labels) > MAX_LABELS:
        raise invalid(
            f"At most {MAX_LABELS} labels are allowed, not {len(labels)}.", "tuning_job.labels"
        )
    for key, value in labels.items():
        where = f"tuning_job.labels[{key!r}]"
        if not key or len(key) > MAX_LABEL_CHARS or not all(map(_label_char, key)):
            raise invalid(
                f"Label key {key!r} is invalid: 1 to {MAX_LABEL_CHARS} lowercase letters, digits, "
                "underscores or dashes (international characters allowed).",
                where,
            )
        if not (key[0].isalpha()):
            raise invalid(f"Label key {key!r} must start with a letter.", where)
        if len(value) > MAX_LABEL_CHARS or not all(map(_label_char, value)):
            raise invalid(
                f"Label value {value!r} of {key!r} is invalid: at most {MAX_LABEL_CHARS} lowercase "
                "letters, digits, underscores or dashes (international characters allowed).",
                where,
            )


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)
