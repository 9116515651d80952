"""Formats: from one raw JSONL line to a normalized :class:`Example`, or a drop reason.

One table of formats (SPEC §1), :data:`REGISTRY`, in the manner of tiktoken's encodings: each
format module (gemini, messages, pairs) has one constructor per format, and the
:class:`~.format.Format` it returns says everything about that format: the keys that mark its
records, how a record is validated and normalized, its userDatasetExamples sample, and its
Arrow schema and vector checks. Validation (SPEC §4) lives in those modules, next to the shape
it checks: a problem raises :class:`Invalid` with the JSON path and what is wrong, and
:func:`parse_example` turns it into a reason that names the line. Here: the table, detection
(which format a record or a file is) and the per-line entry points that read the table.

Hands to the next stages (media, then counting): :class:`Example` records, or :class:`Drop`
reasons for dropped lines; whole blocks go through the Arrow path, :mod:`.blocks`, to an
ExampleBatch.
Token counts are not known here; the "too long" rule is applied after counting.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson

from .common import (
    MAX_DEPTH,
    MAX_IMAGES,
    MEDIA_LIMITS,
    SAMPLE_TEXT_LIMIT,
    TOO_DEEP,
    Example,
    Invalid,
    MediaPart,
    TooDeep,
    _check_depth,
    _kind_name,
    compact_json,
)
from .drops import classify
from .format import Format
from .gemini import MAX_INLINE_BYTES, gemini
from .messages import gemini_messages, openai_chat
from .pairs import palm, prompt_completion
from .tools import call_texts, schema_texts, tool_texts, value_texts

__all__ = [
    "FORMATS",
    "MAX_DEPTH",
    "MAX_IMAGES",
    "MAX_INLINE_BYTES",
    "MEDIA_LIMITS",
    "REGISTRY",
    "SAMPLE_TEXT_LIMIT",
    "TASKS",
    "TOO_DEEP",
    "Drop",
    "Example",
    "Format",
    "Invalid",
    "MediaPart",
    "TooDeep",
    "call_texts",
    "compact_json",
    "detect_format",
    "is_blank",
    "parse_example",
    "parse_record",
    "record_format",
    "sample_contents",
    "schema_texts",
    "tool_texts",
    "value_texts",
]

# One constructor per format; FORMATS lists them in this order.
REGISTRY: dict[str, Format] = {
    spec.name: spec
    for spec in (gemini(), gemini_messages(), palm(), openai_chat(), prompt_completion())
}
FORMATS = tuple(REGISTRY)
TASKS = ("supervised", "distillation")


def _check_format(record: dict[str, Any], fmt: str) -> None:
    """Invalid unless the record has the keys of ``fmt``; the reason names what it is instead."""
    spec = REGISTRY[fmt]
    if any(record.get(key) is not None for key in spec.signature):
        return
    expected = " or ".join(f'"{k}"' for k in spec.signature)
    other = _other_format(record, fmt)
    if other is not None:
        key, name = other
        raise Invalid(
            "", f'record has "{key}": {name}, but the file is {fmt} (expected {expected})'
        )
    nulls = [key for key in spec.signature if key in record]
    if nulls:
        raise Invalid(nulls[0], f"is null; expected {spec.expects}")
    keys = ", ".join(f'"{k}"' for k in list(record)[:5]) or "none"
    raise Invalid("", f"record matches no format: expected {expected} for {fmt} (keys: {keys})")


def _other_format(record: dict[str, Any], fmt: str) -> tuple[str, str] | None:
    """(the key that shows it, what the record is) when it is a record of another format."""
    decided = record_format(record)
    if decided is not None and decided != fmt:
        key = next(k for k in REGISTRY[decided].signature if record.get(k) is not None)
        return key, f"{'an' if decided[0] in 'aeiou' else 'a'} {decided} record"
    if record.get("messages") is not None and fmt not in ("gemini-messages", "openai-chat"):
        return "messages", "a gemini-messages or openai-chat record"
    return None


# --- lines ----------------------------------------------------------------------------------


def is_blank(raw: bytes) -> bool:
    return not raw.strip(b" \t\r")


def parse_record(raw: bytes) -> Any:
    """Parse one line as JSON; raise Invalid with the byte offset for bad UTF-8 or JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise Invalid("", f"not valid UTF-8 (byte offset {bad.start})") from None
        if "depth" in exc.msg:  # orjson's own limit (1024) is past ours: the same reason
            raise TooDeep("record", TOO_DEEP) from None
        nul = raw.find(b"\x00")
        if nul >= 0:  # JSON text never holds one: name it rather than a control character
            raise Invalid("", f"not valid JSON: NUL byte at byte offset {nul}") from None
        raise Invalid("", f"not valid JSON at character {exc.pos}: {exc.msg}") from None


class Drop(NamedTuple):
    """A dropped line: what is wrong (without the line number), whether it was JSON, the kind
    of problem (a code of :data:`tunestats.formats.drops.KINDS`) and the JSON path where it is."""

    problem: str
    json: bool
    code: str
    path: str = ""


def parse_example(raw: bytes, line: int, fmt: str, distill: bool) -> Example | Drop:
    """Return the normalized example of a non-blank line, or why it is dropped."""
    try:
        record = parse_record(raw)
    except TooDeep as exc:
        return _drop(exc, True, raw, None)
    except Invalid as exc:
        return _drop(exc, False, raw, None)
    try:
        if not isinstance(record, dict):
            raise Invalid("", f"record is {_kind_name(record)}; expected a JSON object")
        if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:  # else it cannot be that deep
            _check_depth(record)
        _check_format(record, fmt)
        return REGISTRY[fmt].normalize(record, line, distill)
    except Invalid as exc:
        return _drop(exc, True, raw, record)


def _drop(exc: Invalid, json: bool, raw: bytes, record: Any) -> Drop:
    return Drop(str(exc), json, classify(exc.path, exc.problem, raw, record), exc.path)


# --- detection ------------------------------------------------------------------------------


def record_format(record: Any) -> str | None:
    """The format a single record decides, or None when it decides nothing (CHOICES.md)."""
    if not isinstance(record, dict):
        return None
    if record.get("contents") is not None:
        return "gemini"
    messages = record.get("messages")
    if isinstance(messages, list):
        roles = [m.get("role") for m in messages if isinstance(m, dict)]
        roles = {r for r in roles if isinstance(r, str)}
        if "model" in roles:
            return "gemini-messages"
        if roles & {"assistant", "tool"}:
            return "openai-chat"
        return None
    if record.get("input_text") is not None or record.get("output_text") is not None:
        return "palm"
    if record.get("prompt") is not None or record.get("completion") is not None:
        return "prompt-completion"
    return None


def detect_format(lines: Iterable[bytes], fallback: str) -> str:
    """Decide a file's format from its first records (see CHOICES.md, "Formats")."""
    saw_messages = False
    for raw in lines:
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        fmt = record_format(record)
        if fmt is not None:
            return fmt
        saw_messages = saw_messages or (isinstance(record, dict) and "messages" in record)
    if saw_messages:
        return "gemini-messages" if fallback == "gemini-messages" else "openai-chat"
    return fallback


# --- userDatasetExamples --------------------------------------------------------------------


def sample_contents(example: Example, fmt: str) -> list[dict[str, Any]]:
    """SPEC §5: the example as Gemini Contents with one (cut) text part each."""
    return REGISTRY[fmt].sample(example.record)
