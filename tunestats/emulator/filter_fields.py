"""Filter fields: the fields a TuningJob can be listed by, and the store's columns for them.

For the filter, :func:`resolve_field` turns a member as written (``state``, ``create_time``,
``labels.team``) into a :class:`Field`: how to read it from a job (a proto3 JSON dict,
camelCase keys) and, for SQL, its column or its label key. For the store, :func:`facets` and
:func:`label_items` fill those columns (:data:`COLUMNS`) and the ``job_labels`` table from a
job, so that a list picks jobs without reading each one's document. Also the readers of values
that both sides share: :func:`parse_timestamp` (RFC 3339 to nanoseconds) and
:func:`state_number`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from .filter_tokens import FilterError, Token, quote

JOB_STATES: MappingProxyType[str, int] = MappingProxyType(
    {
        "JOB_STATE_UNSPECIFIED": 0,
        "JOB_STATE_QUEUED": 1,
        "JOB_STATE_PENDING": 2,
        "JOB_STATE_RUNNING": 3,
        "JOB_STATE_SUCCEEDED": 4,
        "JOB_STATE_FAILED": 5,
        "JOB_STATE_CANCELLING": 6,
        "JOB_STATE_CANCELLED": 7,
        "JOB_STATE_PAUSED": 8,
        "JOB_STATE_EXPIRED": 9,
        "JOB_STATE_UPDATING": 10,
        "JOB_STATE_PARTIALLY_SUCCEEDED": 11,
    }
)
STATE_PREFIX = "JOB_STATE_"

# Filter name -> (JSON key in the job, kind). Both spellings, since clients send either.
_FIELDS: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {
        "state": ("state", "state"),
        "create_time": ("createTime", "time"),
        "createTime": ("createTime", "time"),
        "update_time": ("updateTime", "time"),
        "updateTime": ("updateTime", "time"),
        "start_time": ("startTime", "time"),
        "startTime": ("startTime", "time"),
        "end_time": ("endTime", "time"),
        "endTime": ("endTime", "time"),
        "display_name": ("tunedModelDisplayName", "string"),
        "displayName": ("tunedModelDisplayName", "string"),
        "tuned_model_display_name": ("tunedModelDisplayName", "string"),
        "tunedModelDisplayName": ("tunedModelDisplayName", "string"),
        "description": ("description", "string"),
        "base_model": ("baseModel", "string"),
        "baseModel": ("baseModel", "string"),
        "name": ("name", "string"),
        "labels": ("labels", "labels"),
    }
)
_KNOWN = ", ".join(
    [*(name for name in _FIELDS if name.islower() and name != "labels"), "labels:KEY", "labels.KEY"]
)

# JSON key -> the store's column that holds it for the SQL (times as nanoseconds, the state as
# its name); labels are rows (job, key, value) of the table job_labels.
COLUMNS: MappingProxyType[str, str] = MappingProxyType(
    {
        "name": "f_name",
        "state": "state",
        "createTime": "f_create_ns",
        "updateTime": "f_update_ns",
        "startTime": "f_start_ns",
        "endTime": "f_end_ns",
        "tunedModelDisplayName": "f_display_name",
        "description": "f_description",
        "baseModel": "f_base_model",
    }
)
STATE_NAMES = MappingProxyType({number: name for name, number in JOB_STATES.items()})


def facets(job: dict) -> dict[str, Any]:
    """The values of :data:`COLUMNS` for a job: None where the predicate sees nothing."""
    out: dict[str, Any] = {}
    for key, column in COLUMNS.items():
        value = job.get(key)
        if key.endswith("Time"):
            value = parse_timestamp(value) if isinstance(value, str) else None
        elif key == "state" and isinstance(value, int) and not isinstance(value, bool):
            value = STATE_NAMES.get(value, str(value))  # a number: its name, as stored
        elif not isinstance(value, str):
            value = None
        out[column] = value
    return out


def label_items(job: dict) -> list[tuple[str, str]]:
    """The (key, value) rows of ``job_labels`` for a job."""
    return [(k, v) for k, v in labels_of(job).items() if isinstance(v, str)]


@dataclass(frozen=True)
class Field:
    """A resolved filter field: how to read it from a job, and how to compare it."""

    name: str  # as written, for messages
    kind: str  # "string", "time", "state", "labels"
    get: Callable[[dict], Any]
    present: Callable[[dict], bool]  # what FIELD:* asks
    column: str | None = None  # its column in the store (JSON fields)
    label: str | None = None  # its key in job_labels (label fields)


def _json_field(name: str, key: str, kind: str) -> Field:
    # proto3 JSON leaves out empty values, so an empty one counts as missing for ":*".
    return Field(
        name,
        kind,
        lambda job: job.get(key),
        lambda job: job.get(key) not in (None, "", {}, []),
        column=COLUMNS.get(key),
    )


def _label_field(name: str, key: str) -> Field:
    # A label may be set to "", and is still there.
    return Field(
        name,
        "string",
        lambda job: labels_of(job).get(key),
        lambda job: key in labels_of(job),
        label=key,
    )


def labels_of(job: dict) -> dict:
    labels = job.get("labels")
    return labels if isinstance(labels, dict) else {}


_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def parse_timestamp(text: str) -> int | None:
    """Nanoseconds since the epoch for an RFC 3339 timestamp, or None if it is not one.

    Integer arithmetic throughout: a float holds only about 16 digits, and an instant to the
    nanosecond needs 19.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    try:
        datetime(year, month, day, hour, minute, second)  # checks day of month, hour, ...
    except ValueError:
        return None
    offset = 0
    if match[8] is not None:
        offset_hours, offset_minutes = int(match[9]), int(match[10])
        if offset_hours > 23 or offset_minutes > 59:
            return None
        offset = (offset_hours * 60 + offset_minutes) * 60 * (1 if match[8] == "+" else -1)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    return seconds * 1_000_000_000 + int((match[7] or "0").ljust(9, "0"))


def state_number(value: Any) -> int | None:
    """The JobState number of a job's ``state`` (JSON name or number); -1 if unknown."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return JOB_STATES.get(value, -1) if isinstance(value, str) else -1


def resolve_field(parts: Sequence[Token]) -> Field:
    """The field that a member (its names, without the dots) stands for; FilterError if none."""
    written = ".".join(part.text for part in parts)
    names = [part.literal.plain if part.literal is not None else part.text for part in parts]
    if len(parts) == 1 and names[0] in _FIELDS:
        key, kind = _FIELDS[names[0]]
        return _json_field(written, key, kind)
    if len(parts) == 2 and names[0] == "labels":
        return _label_field(written, names[1])
    hint = " (AND, OR and NOT are upper case)" if written in ("and", "or", "not") else ""
    raise FilterError(parts[0].pos, f"unknown field {quote(written)}{hint}; known: {_KNOWN}")
