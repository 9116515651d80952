"""Gemini: the ``contents`` format (SPEC §1), per line and as Arrow vectors.

Per line: parts of exactly one kind, media (base64, MIME types), function calls and responses,
the system instruction and tools, user and model turns that alternate; the sample. As Arrow:
the plain shape (a system instruction and contents of text parts only) and the same rules as
vectors over a whole block.

Hands to the registry (the package) :func:`gemini`, the one record that says all of that.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

import numpy as np

from .arrow import _col, _Columns, _list_info, _mask, _turns, _valid
from .common import (
    Example,
    Invalid,
    MediaPart,
    _Builder,
    _content,
    _get,
    _kind_name,
    _nonempty_list,
    _quote,
    _role,
    _string,
    _tools,
    compact_json,
)
from .format import Format
from .tools import call_texts, tool_texts

MAX_INLINE_BYTES = 20_000_000  # SPEC §4 [D]: 20 MB decoded


def gemini() -> Format:
    """gemini: ``contents`` of Gemini Content, with ``systemInstruction`` and ``tools``."""
    return Format(
        name="gemini",
        signature=("contents",),
        expects="an array of Content",
        normalize=_gemini,
        sample=_gemini_sample,
        arrow_schema=_schema,
        arrow_checks=_gemini_arrow,
    )


# --- per line -------------------------------------------------------------------------------

_PART_KINDS = (
    ("text", "text"),
    ("inlineData", "inline_data"),
    ("fileData", "file_data"),
    ("functionCall", "function_call"),
    ("functionResponse", "function_response"),
)


def _part_kind(part: Any, path: str) -> tuple[str, str, Any]:
    """Return (canonical kind, key as spelled, value) of a Part with exactly one known kind."""
    if not isinstance(part, dict):
        raise Invalid(path, f"is {_kind_name(part)}; expected an object")
    found = [
        (camel, key)
        for camel, snake in _PART_KINDS
        for key in dict.fromkeys((camel, snake))  # "text" is spelled one way
        if part.get(key) is not None  # null is the same as missing
    ]
    if not found:
        raise Invalid(
            path, "has none of text, inlineData, fileData, functionCall, functionResponse"
        )
    if len(found) > 1:
        names = ", ".join(key for _, key in found)
        raise Invalid(path, f"has several kinds ({names}); a part holds exactly one")
    camel, key = found[0]
    return camel, key, part[key]


def _media(value: Any, path: str, kind: str, part: dict[str, Any], out: _Builder) -> MediaPart:
    if not isinstance(value, dict):
        raise Invalid(path, f"is {_kind_name(value)}; expected an object")
    mime_key, mime = _get(value, "mimeType", "mime_type")
    mime = _string(mime, f"{path}.{mime_key}")
    ppath = path.rsplit(".", 1)[0]
    start, end = _segment(part, ppath)
    common = {
        "path": path,
        "mime": mime,
        "part_resolution": _part_resolution(part, ppath),
        "line_resolution": out.resolution or None,
        "start": start,
        "end": end,
    }
    if kind == "inlineData":
        data = _string(value.get("data"), f"{path}.data")
        try:
            if len(data) % 4:  # b64decode accepts padding past a whole quantum
                raise ValueError
            decoded = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid(f"{path}.data", "is not valid base64") from None
        if len(decoded) > MAX_INLINE_BYTES:
            raise Invalid(
                f"{path}.data", f"is {len(decoded)} bytes decoded; at most 20 MB is allowed"
            )
        out.notice("inline-media")
        return MediaPart(data=decoded, digest=hashlib.sha256(decoded).hexdigest(), **common)
    uri_key, uri = _get(value, "fileUri", "file_uri")
    uri = _string(uri, f"{path}.{uri_key}")
    if not uri.startswith(("gs://", "http://", "https://")):
        out.notice("local-uri")  # read here, but Vertex reads only Cloud Storage and the web
    return MediaPart(uri=uri, **common)


def _part_resolution(part: dict[str, Any], path: str) -> str | None:
    """A part's own ``mediaResolution: {"level": ...}`` (SPEC §8: Gemini 3)."""
    key, value = _get(part, "mediaResolution", "media_resolution")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(f"{path}.{key}", f"is {_kind_name(value)}; expected an object")
    level = value.get("level")
    return None if level is None else _string(level, f"{path}.{key}.level")


def _segment(part: dict[str, Any], path: str) -> tuple[float | None, float | None]:
    """``videoMetadata.startOffset`` / ``endOffset`` in seconds (SPEC §9)."""
    key, meta = _get(part, "videoMetadata", "video_metadata")
    if meta is None:
        return None, None
    if not isinstance(meta, dict):
        raise Invalid(f"{path}.{key}", f"is {_kind_name(meta)}; expected an object")
    offsets = []
    for camel, snake in (("startOffset", "start_offset"), ("endOffset", "end_offset")):
        name, value = _get(meta, camel, snake)
        seconds = None if value is None else parse_offset(value)
        if value is not None and seconds is None:
            raise Invalid(
                f"{path}.{key}.{name}", f'is {_quote(value)}; expected a duration such as "5s"'
            )
        offsets.append(seconds)
    start, end = offsets
    if start is not None and end is not None and end <= start:
        raise Invalid(f"{path}.{key}", f"ends ({end:g}s) before it starts ({start:g}s)")
    return start, end


_OFFSET = re.compile(r"(\d+(?:\.\d*)?|\.\d+)s")


def parse_offset(value: Any) -> float | None:
    """A proto3 JSON Duration (``"5s"``, ``"2.5s"``) in seconds; None when it is not one."""
    if isinstance(value, str):
        match = _OFFSET.fullmatch(value.strip())
        if match:
            return float(match.group(1))
    if isinstance(value, dict):  # {"seconds": 5, "nanos": 0}, as a proto's repr reads
        seconds, nanos = value.get("seconds", 0), value.get("nanos", 0)
        if all(isinstance(v, (int, str)) and str(v).isdigit() for v in (seconds, nanos)):
            return int(seconds) + int(nanos) / 1e9
    return None


def _line_resolution(record: dict[str, Any]) -> str:
    """The line's ``generationConfig.mediaResolution`` ("" when absent)."""
    key, config = _get(record, "generationConfig", "generation_config")
    if config is None:
        return ""
    if not isinstance(config, dict):
        raise Invalid(key, f"is {_kind_name(config)}; expected an object")
    name, value = _get(config, "mediaResolution", "media_resolution")
    if value is None:
        return ""
    return _string(value, f"{key}.{name}")


def _call(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise Invalid(path, f"is {_kind_name(value)}; expected an object")
    _string(value.get("name"), f"{path}.name")


def _gemini_parts(content: dict[str, Any], path: str, out: _Builder, output: bool) -> None:
    parts = _nonempty_list(content.get("parts"), f"{path}.parts")
    for j, part in enumerate(parts):
        ppath = f"{path}.parts[{j}]"
        kind, key, value = _part_kind(part, ppath)
        vpath = f"{ppath}.{key}"
        if part.get("thought") is not None or part.get("thoughtSignature") is not None:
            out.notice("thought")
        if kind == "text":
            out.text(_string(value, vpath), output)
        elif kind in ("inlineData", "fileData"):
            media = _media(value, vpath, kind, part, out)
            out.media(media.mime, media)
        elif kind == "functionCall":
            _call(value, vpath)
            out.notice("function-call")
            out.pieces(call_texts(value, "args"), output)
        else:
            _call(value, vpath)
            out.pieces(call_texts(value, "response"), False)


def _system_instruction(record: dict[str, Any], out: _Builder) -> None:
    key, system = _get(record, "systemInstruction", "system_instruction")
    if system is None:
        return
    if not isinstance(system, dict):
        raise Invalid(key, f"is {_kind_name(system)}; expected an object")
    parts = _nonempty_list(system.get("parts"), f"{key}.parts")
    for j, part in enumerate(parts):
        path = f"{key}.parts[{j}]"
        kind, _, value = _part_kind(part, path)
        if kind != "text":
            raise Invalid(path, f"is a {kind} part; a system instruction holds only text")
        out.text(_string(value, f"{path}.text"), False)


def _gemini(record: dict[str, Any], line: int, distill: bool) -> Example:
    out = _Builder()
    out.resolution = _line_resolution(record)
    _system_instruction(record, out)
    out.pieces(tool_texts(_tools(record)), False)
    contents = _nonempty_list(record.get("contents"), "contents")
    single = len(contents) == 1
    previous = None
    has_model = False
    for i, content in enumerate(contents):
        path = f"contents[{i}]"
        if not isinstance(content, dict):
            raise Invalid(path, f"is {_kind_name(content)}; expected an object")
        role = _role(content.get("role"), f"{path}.role", ("user", "model"), single)
        if role == previous:
            raise Invalid(f"{path}.role", f'is "{role}" like the turn before; turns must alternate')
        previous = role
        has_model = has_model or role == "model"
        _gemini_parts(content, path, out, output=role == "model" and not distill)
    if not has_model and not distill:
        raise Invalid("contents", 'has no "model" turn')
    out.messages = len(contents)
    return out.build(line, record)


def _gemini_sample(record: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for content in record["contents"]:
        media = 0
        pieces = []
        for part in content["parts"]:
            kind, key, value = _part_kind(part, "")
            if kind == "text":
                pieces.append(value)
            elif kind in ("inlineData", "fileData"):
                media += 1
            else:
                pieces.append(compact_json(value))
        text = "".join(f"<media{k}>" for k in range(media)) + "".join(pieces)
        result.append(_content(content.get("role") or "user", text))
    return result


# --- Arrow ----------------------------------------------------------------------------------


def _schema(pa: Any) -> Any:
    """The plain shape: a system instruction and contents, of text parts only."""
    part = pa.struct([("text", pa.string())])
    content = pa.struct([("role", pa.string()), ("parts", pa.list_(part))])
    return pa.schema([("systemInstruction", content), ("contents", pa.list_(content))])


def _gemini_arrow(table: Any, cols: _Columns, distill: bool) -> None:
    contents, row, count = _list_info(_col(table, "contents"))
    cols.bad |= count == 0
    cols.messages = count
    cols.bad[row[~_valid(contents)]] = True
    code, bad_turn = _turns(contents.field("role"), row, ("user", "model"), count == 1)
    cols.bad[row[bad_turn]] = True
    if not distill:
        has_model = np.bincount(row, weights=code, minlength=cols.rows) > 0
        cols.bad |= ~has_model
    parts, part_content, part_count = _list_info(contents.field("parts"))
    cols.bad[row[part_count == 0]] = True
    cols.bad[row[part_content[~_valid(parts)]]] = True
    output = (code[part_content] == 1) & (not distill)
    cols.add(parts.field("text"), row[part_content], output)

    system = _col(table, "systemInstruction")
    present = _valid(system)
    sys_parts, sys_row, sys_count = _list_info(system.field("parts"))
    cols.bad |= present & (sys_count == 0)
    cols.bad[sys_row[~_valid(sys_parts)]] = True
    keep = present[sys_row]  # parts of an absent systemInstruction do not exist
    texts = sys_parts.field("text").filter(_mask(keep))
    cols.add(texts, sys_row[keep], False)
