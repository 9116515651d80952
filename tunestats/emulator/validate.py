"""Validate: the rules Vertex applies to a new TuningJob, before anything is stored.

Takes a TuningJob in canonical form (see ``messages``) and either returns what the job needs to
run (:class:`JobSpec`: task, model, datasets, epochs) or raises an INVALID_ARGUMENT
:class:`~tunestats.emulator.messages.ApiError` naming the field. The limits that no Google
document states are choices, written down in docs/CHOICES.md (Emulator).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from typing import Any

from ..config.profiles import UnknownModel, get_profile
from ..io.files import system_dir
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
    "gemini-3.5-flash-lite": ("ONE", "TWO", "FOUR", "EIGHT", "SIXTEEN"),
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
class JobSpec:
    """What the lifecycle needs to count a job's datasets."""

    task: str  # supervised or distillation
    model: str  # the base model (the student, for distillation)
    training: str
    validation: str | None
    epochs: int | None
    batch_size: int | None
    # Media objects named by local paths may be read (--allow-local-paths); http(s) never.
    local_media: bool = False


def validate_job(
    job: dict[str, Any], *, allow_local_paths: bool, tuned_models: dict[str, str]
) -> JobSpec:
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
    _check_labels(job.get("labels", {}))  # the user's alone: tuning_jobs adds ours after
    task = "distillation" if spec_name == "distillationSpec" else "supervised"
    return JobSpec(task, model, training or "", validation, epochs, batch_size, allow_local_paths)


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


# Cloud Storage's naming rules (cloud.google.com/storage/docs/buckets#naming, .../objects#naming).
_BUCKET = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
_IP_LIKE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
MAX_OBJECT_BYTES = 1024


def _bucket_problem(bucket: str) -> str | None:
    if not _BUCKET.fullmatch(bucket):
        return (
            "a bucket name is lowercase letters, digits, '-', '_' and '.', and starts and ends "
            "with a letter or digit"
        )
    parts = bucket.split(".")
    if len(parts) == 1 and not 3 <= len(bucket) <= 63:
        return "a bucket name is 3 to 63 characters long"
    if len(parts) > 1 and (
        not 3 <= len(bucket) <= 222 or not all(1 <= len(part) <= 63 for part in parts)
    ):
        return (
            "a bucket name with dots is 3 to 222 characters long, each dot-separated part 1 to 63"
        )
    if _IP_LIKE.fullmatch(bucket):
        return "a bucket name cannot be an IP address"
    if bucket.startswith("goog") or "google" in bucket or "g00gle" in bucket:
        return 'a bucket name cannot begin with "goog" or contain "google"'
    return None


def _object_problem(name: str) -> str | None:
    if not name:
        return "the object name is empty"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_OBJECT_BYTES:
        return f"an object name is at most {MAX_OBJECT_BYTES} bytes long"
    if name in (".", "..") or name.startswith(".well-known/acme-challenge/"):
        return f"{name!r} cannot be an object name"
    if "#" in name or "?" in name:
        return "'#' and '?' would be read as an object generation, not as part of the name"
    return None


def _text_problem(uri: str) -> str | None:
    """What no dataset URI may hold: line breaks, control characters, file system chains."""
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") for c in uri):
        return "it holds a control character or a line break"
    if "::" in uri:
        return "'::' chains file systems, which a dataset URI may not do"
    return None


def gcs_problem(uri: str) -> str | None:
    """Why ``uri`` is not a plain ``gs://BUCKET/OBJECT``, or None when it is one."""
    if not uri.startswith("gs://"):
        return "it does not start with gs://"
    bucket, slash, name = uri[len("gs://") :].partition("/")
    if not slash:
        return "it names no object after the bucket"
    return _text_problem(uri) or _bucket_problem(bucket) or _object_problem(name)


def local_file(uri: str) -> tuple[str | None, str | None]:
    """(the resolved path of the regular file ``uri`` names, None) or (None, why not).

    A plain path or ``file:///PATH``; with its links resolved, it must exist and be a regular
    file now, outside ``io.files.SYSTEM_DIRS``: not ``-`` (standard input), a directory, a FIFO, a
    socket or a device, which either cannot be read as a dataset or could hold a count
    forever, nor ``/proc/self/environ`` and the like, whose contents a job would show.
    """
    problem = _text_problem(uri)
    if problem is not None:
        return None, problem
    if uri == "-":
        return None, "'-' (standard input) is not a dataset file"
    if uri.startswith("file:"):
        if not uri.startswith("file:///"):
            return None, "a file URI is file:///ABSOLUTE/PATH"
        path = uri[len("file://") :]
    elif "://" in uri:
        return None, "it is neither a gs:// URI nor a local path"
    else:
        path = uri
    try:
        real = os.path.realpath(path, strict=True)
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return None, "no such file"
    except (OSError, ValueError) as exc:
        return None, f"cannot be examined: {exc.strerror if isinstance(exc, OSError) else exc}"
    if not stat.S_ISREG(mode):
        return None, f"it is {_kind(mode)}, not a regular file"
    problem = system_file(real)
    if problem is not None:
        return None, problem
    return real, None


def system_file(path: str) -> str | None:
    """Why ``path`` (links resolved) is a file of the system, not a dataset; None if it is not.

    Counting checks this again when it starts: the path may have become a link since.
    """
    real = os.path.realpath(path)
    system = system_dir(real)
    if system is None:
        return None
    return f"it is {real}, a file of the system under {system}, not a dataset"


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def _shown(uri: str) -> str:
    """A URI as a message quotes it: as it is when printable, else escaped, on one line."""
    if uri.isprintable() and len(uri) <= 300:
        return uri
    return json.dumps(uri if len(uri) <= 300 else uri[:300] + "...")


def _dataset(
    spec: dict[str, Any], key: str, spec_name: str, allow_local: bool, required: bool = False
) -> str | None:
    """The URI a count reads (a local path made absolute), or INVALID_ARGUMENT naming it."""
    uri = spec.get(key)
    field_path = f"tuning_job.{_snake(spec_name)}.{_snake(key)}"
    where = f"{spec_name}.{key}"
    if not uri:
        if required:
            raise invalid(f"{where} is required.", field_path)
        return None
    if uri.startswith("gs://"):
        problem = gcs_problem(uri)
        if problem is None:
            return uri
        raise invalid(
            f"{where} must be a Cloud Storage URI gs://BUCKET/OBJECT: {_shown(uri)} ({problem}).",
            field_path,
        )
    if not allow_local:
        raise invalid(
            f"{where} must be a Cloud Storage URI gs://BUCKET/OBJECT (local paths only with "
            f"--allow-local-paths): {_shown(uri)}",
            field_path,
        )
    if "://" in uri and not uri.startswith("file://") and _text_problem(uri) is None:
        raise invalid(
            f"{where} must be a Cloud Storage URI gs://BUCKET/OBJECT or a local file: "
            f"{_shown(uri)}",
            field_path,
        )
    path, problem = local_file(uri)
    if path is None:
        raise invalid(
            f"{where} must be a regular local file: {_shown(uri)} ({problem}).", field_path
        )
    return path


def _hyper_parameters(
    spec: dict[str, Any], spec_name: str, model: str
) -> tuple[int | None, int | None]:
    hp = spec.get("hyperParameters", {})
    prefix = f"tuning_job.{_snake(spec_name)}.hyper_parameters"
    if spec_name == "partnerModelTuningSpec":  # a free-form map: only the epochs are read
        return _partner_epochs(hp, prefix), None
    epochs = int(hp["epochCount"]) if "epochCount" in hp else None
    if epochs is not None and not 1 <= epochs <= MAX_EPOCHS:
        raise invalid(
            f"epochCount must be between 1 and {MAX_EPOCHS}, not {epochs}.", f"{prefix}.epoch_count"
        )
    multiplier = hp.get("learningRateMultiplier")  # a number, or "NaN", "Infinity" (proto3)
    if multiplier is not None and not 0 < float(multiplier) <= MAX_LEARNING_RATE_MULTIPLIER:
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


def _partner_epochs(hp: dict[str, Any], prefix: str) -> int | None:
    """``epoch_count`` of a partner model's hyperparameters (google.protobuf.Value): a whole
    number from 1 to MAX_EPOCHS, as a number or a decimal string; absent: the default."""
    key = "epoch_count" if "epoch_count" in hp else "epochCount"
    value = hp.get(key)
    if value is None:
        return None
    epochs = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value) and value == int(value):
            epochs = int(value)
    elif isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) <= 6:
        epochs = int(value)
    if epochs is None or not 1 <= epochs <= MAX_EPOCHS:
        shown = json.dumps(value)[:100]
        raise invalid(
            f"hyperParameters.{key} must be a whole number from 1 to {MAX_EPOCHS}, not {shown}.",
            f"{prefix}.{key}",
        )
    return epochs


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
