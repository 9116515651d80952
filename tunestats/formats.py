"""Formats: from one raw JSONL line to a normalized :class:`Example`, or a drop reason.

One table of formats (SPEC §1), each a small function from a parsed record to the texts the
model reads, the texts it writes, its message count, characters and media. Validation (SPEC §4)
lives here, next to the shape it checks: a problem raises :class:`Invalid` with the JSON path
and what is wrong, and :func:`parse_example` turns it into a reason that names the line.

Hands to the next stage (counting): :class:`Example` records, or ``str`` reasons for dropped
lines. Token counts are not known here; the "too long" rule is applied after counting.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

FORMATS = ("gemini", "gemini-messages", "palm", "openai-chat", "prompt-completion")
TASKS = ("supervised", "distillation")

MAX_IMAGES = 30  # SPEC §4 [D]
# SPEC §4 and §8 [D]: the other media one example may hold, by kind of MIME type.
MEDIA_LIMITS = (("audio", "audio file", 1), ("pdf", "PDF document", 4), ("video", "video", 1))
MAX_INLINE_BYTES = 20_000_000  # SPEC §4 [D]: 20 MB decoded
SAMPLE_TEXT_LIMIT = 400  # SPEC §5 [O]
# CHOICES.md: a record nests objects and arrays at most this deep, the record itself counted
# as 1. Protobuf's JSON parsers, which read Vertex requests, refuse more than 100 levels by
# default; and no deeper value can reach the recursive code of json or of Google's clients.
MAX_DEPTH = 100
TOO_DEEP = (
    f"nests objects and arrays more than {MAX_DEPTH} levels deep (the record is level 1); "
    f"at most {MAX_DEPTH} are allowed"
)


class Invalid(Exception):
    """A record breaks a rule: ``path`` is the JSON path, ``problem`` what is wrong there."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path} {problem}" if path else problem)
        self.path = path
        self.problem = problem


@dataclass(slots=True)
class Example:
    """One valid record, normalized. ``inputs``/``outputs`` are the texts to tokenize."""

    line: int
    inputs: list[str]
    outputs: list[str]
    messages: int
    characters: int
    billable_characters: int
    images: int
    other_media: int
    record: dict[str, Any]


def compact_json(value: Any) -> str:
    """SPEC §2: how a non-text part is tokenized (keys in file order, no spaces)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _quote(value: Any) -> str:
    text = compact_json(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_name(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _get(obj: dict[str, Any], camel: str, snake: str) -> tuple[str, Any]:
    """Proto3 JSON accepts both spellings of a field name; return the one set (not null)."""
    if obj.get(camel) is not None:
        return camel, obj[camel]
    if obj.get(snake) is not None:
        return snake, obj[snake]
    return camel, None


def _string(value: Any, path: str) -> str:
    if value is None:
        raise Invalid(path, "is missing")
    if not isinstance(value, str):
        raise Invalid(path, f"is {_kind_name(value)}; expected a string")
    return value


def _nonempty_list(value: Any, path: str) -> list[Any]:
    if value is None:
        raise Invalid(path, "is missing")
    if not isinstance(value, list):
        raise Invalid(path, f"is {_kind_name(value)}; expected an array")
    if not value:
        raise Invalid(path, "is empty")
    return value


def _role(value: Any, path: str, allowed: tuple[str, ...], single: bool) -> str:
    if value is None:
        if single:
            return "user"  # SPEC §4 [D]: role may be unset only for single-turn
        raise Invalid(path, "is missing (required when there is more than one turn)")
    if value not in allowed:
        expected = " or ".join(f'"{r}"' for r in allowed)
        raise Invalid(path, f"is {_quote(value)}; expected {expected}")
    return value


class _Builder:
    """Collects an example's texts, characters and media as a format walks the record."""

    __slots__ = (
        "inputs",
        "outputs",
        "characters",
        "billable",
        "images",
        "other_media",
        "kinds",
        "messages",
    )

    def __init__(self) -> None:
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.characters = 0
        self.billable = 0
        self.images = 0
        self.other_media = 0
        self.kinds: dict[str, int] = {}  # other media by kind (MEDIA_LIMITS), when any
        self.messages = 0

    def text(self, text: str, output: bool) -> None:
        if text:
            (self.outputs if output else self.inputs).append(text)
            self.characters += len(text)
            # str.split() and str.isspace() share one definition of white space.
            self.billable += len("".join(text.split()))

    def json(self, value: Any, output: bool) -> None:
        (self.outputs if output else self.inputs).append(compact_json(value))

    def pieces(self, texts: list[str], output: bool) -> None:
        """Texts counted as tokens only (names, keys, schema strings): no characters."""
        (self.outputs if output else self.inputs).extend(t for t in texts if t)

    def media(self, mime: str) -> None:
        if mime.startswith("image/"):
            self.images += 1
            return
        self.other_media += 1
        kind = _media_kind(mime)
        if kind is not None:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def build(self, line: int, record: dict[str, Any]) -> Example:
        if self.images > MAX_IMAGES:
            raise Invalid("", f"record has {self.images} images; at most {MAX_IMAGES} are allowed")
        for kind, name, limit in MEDIA_LIMITS:
            if self.kinds.get(kind, 0) > limit:
                names = f"{name}s" if limit > 1 else name
                raise Invalid(
                    "",
                    f"record has {self.kinds[kind]} {name}s; at most {limit} {names} "
                    f"{'is' if limit == 1 else 'are'} allowed",
                )
        return Example(
            line,
            self.inputs,
            self.outputs,
            self.messages,
            self.characters,
            self.billable,
            self.images,
            self.other_media,
            record,
        )


def _media_kind(mime: str) -> str | None:
    if mime.startswith("audio/"):
        return "audio"
    if mime.startswith("video/"):
        return "video"
    return "pdf" if mime == "application/pdf" else None


# --- function calls and tools as google-genai's LocalTokenizer counts them (SPEC §2 [G]) ----
# google/genai/local_tokenizer.py, _TextsAccumulator: every name, key and string value is a text
# of its own; numbers, booleans and nulls count nothing. Where that code would fail on a value
# of the wrong type (a number in ``enum``, a list as ``args``), the strings found are counted.


def value_texts(value: Any, out: list[str]) -> None:
    """_any_traverse / _dict_traverse: every object key and string value, at any depth.

    The order of the texts does not matter (their counts are summed), so a stack will do.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def call_texts(call: dict[str, Any], payload: str) -> list[str]:
    """A functionCall (payload ``args``) or functionResponse (``response``): name, then payload."""
    out: list[str] = []
    name = call.get("name")
    if isinstance(name, str):
        out.append(name)
    value_texts(call.get(payload), out)
    return out


def _strings(obj: dict[str, Any], keys: tuple[str, ...], out: list[str]) -> None:
    """The string fields ``keys`` of ``obj``; a list field gives its string items."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(v for v in value if isinstance(v, str))


def schema_texts(schema: Any, out: list[str]) -> None:
    """add_schema: format, description, enum, required, items, property keys, example."""
    if not isinstance(schema, dict):
        return
    _strings(schema, ("format", "description", "enum", "required"), out)
    schema_texts(schema.get("items"), out)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for key, value in properties.items():
            out.append(key)
            schema_texts(value, out)
    value_texts(schema.get("example"), out)


def tool_texts(tools: list[Any]) -> list[str]:
    """add_tools: function declarations only (name, description, parameters, response)."""
    out: list[str] = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        _, declarations = _get(tool, "functionDeclarations", "function_declarations")
        for declaration in declarations if isinstance(declarations, list) else ():
            if not isinstance(declaration, dict):
                continue
            for key in ("name", "description"):
                if isinstance(declaration.get(key), str):
                    out.append(declaration[key])
            schema_texts(declaration.get("parameters"), out)
            schema_texts(declaration.get("response"), out)
    return out


# --- gemini ---------------------------------------------------------------------------------

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


def _media(value: Any, path: str, kind: str) -> str:
    if not isinstance(value, dict):
        raise Invalid(path, f"is {_kind_name(value)}; expected an object")
    mime_key, mime = _get(value, "mimeType", "mime_type")
    mime = _string(mime, f"{path}.{mime_key}")
    if kind == "inlineData":
        data = _string(value.get("data"), f"{path}.data")
        try:
            if len(data) % 4:  # b64decode accepts padding past a whole quantum
                raise ValueError
            size = len(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            raise Invalid(f"{path}.data", "is not valid base64") from None
        if size > MAX_INLINE_BYTES:
            raise Invalid(f"{path}.data", f"is {size} bytes decoded; at most 20 MB is allowed")
    else:
        uri_key, uri = _get(value, "fileUri", "file_uri")
        _string(uri, f"{path}.{uri_key}")
    return mime


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
        if kind == "text":
            out.text(_string(value, vpath), output)
        elif kind in ("inlineData", "fileData"):
            out.media(_media(value, vpath, kind))
        elif kind == "functionCall":
            _call(value, vpath)
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


def _tools(record: dict[str, Any]) -> list[Any]:
    tools = record.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise Invalid("tools", f"is {_kind_name(tools)}; expected an array")
    return tools


def _gemini(record: dict[str, Any], line: int, distill: bool) -> Example:
    out = _Builder()
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


# --- gemini-messages and openai-chat --------------------------------------------------------


def _gemini_messages(record: dict[str, Any], line: int, distill: bool) -> Example:
    out = _Builder()
    messages = _nonempty_list(record.get("messages"), "messages")
    single = len(messages) == 1
    previous = None
    has_model = False
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            raise Invalid(path, f"is {_kind_name(message)}; expected an object")
        allowed = ("system", "user", "model")
        role = _role(message.get("role"), f"{path}.role", allowed, single)
        if role == "system" and i > 0:
            raise Invalid(f"{path}.role", 'is "system"; only the first message may be "system"')
        content = _string(message.get("content"), f"{path}.content")
        if role == "system":
            out.text(content, False)
            continue
        if role == previous:
            raise Invalid(
                f"{path}.role", f'is "{role}" like the message before; turns must alternate'
            )
        previous = role
        has_model = has_model or role == "model"
        out.messages += 1
        out.text(content, role == "model" and not distill)
    if out.messages == 0:
        raise Invalid("messages", 'has no "user" or "model" message')
    if not has_model and not distill:
        raise Invalid("messages", 'has no "model" message')
    return out.build(line, record)


_OPENAI_ROLES = ("system", "user", "assistant", "tool")


def _openai_chat(record: dict[str, Any], line: int, distill: bool) -> Example:
    out = _Builder()
    if record.get("tools") is not None:
        out.json(_tools(record), False)  # SPEC §2 [C]: open models read tools as JSON
    messages = _nonempty_list(record.get("messages"), "messages")
    single = len(messages) == 1
    has_assistant = False
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            raise Invalid(path, f"is {_kind_name(message)}; expected an object")
        role = _role(message.get("role"), f"{path}.role", _OPENAI_ROLES, single)
        output = role == "assistant" and not distill
        tool_calls = message.get("tool_calls")
        if tool_calls is not None and not isinstance(tool_calls, list):
            raise Invalid(f"{path}.tool_calls", f"is {_kind_name(tool_calls)}; expected an array")
        content = message.get("content")
        if not (content is None and role == "assistant" and tool_calls):
            content = _string(content, f"{path}.content")
        if role == "system" and i == 0:
            out.text(content, False)  # a leading system message is the system instruction
            continue
        out.messages += 1
        has_assistant = has_assistant or role == "assistant"
        if content:
            out.text(content, output)
        if tool_calls:
            out.json(tool_calls, output)
    if out.messages == 0:
        raise Invalid("messages", "has no message besides the system message")
    if not has_assistant and not distill:
        raise Invalid("messages", 'has no "assistant" message')
    return out.build(line, record)


# --- palm and prompt-completion -------------------------------------------------------------


def _pair(input_key: str, output_key: str) -> Callable[[dict[str, Any], int, bool], Example]:
    def normalize(record: dict[str, Any], line: int, distill: bool) -> Example:
        out = _Builder()
        out.text(_string(record.get(input_key), input_key), False)
        if not (distill and record.get(output_key) is None):
            out.text(_string(record.get(output_key), output_key), not distill)
        out.messages = 2  # SPEC §2 [O], also for a prompt-only record in distillation
        return out.build(line, record)

    return normalize


_NORMALIZERS: dict[str, Callable[[dict[str, Any], int, bool], Example]] = {
    "gemini": _gemini,
    "gemini-messages": _gemini_messages,
    "palm": _pair("input_text", "output_text"),
    "openai-chat": _openai_chat,
    "prompt-completion": _pair("prompt", "completion"),
}

# The keys that mark a record as belonging to a format.
_SIGNATURES: dict[str, tuple[str, ...]] = {
    "gemini": ("contents",),
    "gemini-messages": ("messages",),
    "palm": ("input_text", "output_text"),
    "openai-chat": ("messages",),
    "prompt-completion": ("prompt", "completion"),
}


def _check_format(record: dict[str, Any], fmt: str) -> None:
    """Invalid unless the record has the keys of ``fmt``; the reason names what it is instead."""
    if any(record.get(key) is not None for key in _SIGNATURES[fmt]):
        return
    expected = " or ".join(f'"{k}"' for k in _SIGNATURES[fmt])
    other = _other_format(record, fmt)
    if other is not None:
        key, name = other
        raise Invalid(
            "", f'record has "{key}": {name}, but the file is {fmt} (expected {expected})'
        )
    nulls = [key for key in _SIGNATURES[fmt] if key in record]
    if nulls:
        raise Invalid(nulls[0], f"is null; expected {_WHAT.get(nulls[0], 'a string')}")
    keys = ", ".join(f'"{k}"' for k in list(record)[:5]) or "none"
    raise Invalid("", f"record matches no format: expected {expected} for {fmt} (keys: {keys})")


_WHAT = {"contents": "an array of Content", "messages": "an array of messages"}


def _other_format(record: dict[str, Any], fmt: str) -> tuple[str, str] | None:
    """(the key that shows it, what the record is) when it is a record of another format."""
    decided = record_format(record)
    if decided is not None and decided != fmt:
        key = next(k for k in _SIGNATURES[decided] if record.get(k) is not None)
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


class TooDeep(Invalid):
    """Valid JSON nested deeper than any parser should follow (MAX_DEPTH)."""


class Drop(NamedTuple):
    """A dropped line: what is wrong (without the line number), and whether it was JSON."""

    problem: str
    json: bool


def parse_example(raw: bytes, line: int, fmt: str, distill: bool) -> Example | Drop:
    """Return the normalized example of a non-blank line, or why it is dropped."""
    try:
        record = parse_record(raw)
    except TooDeep as exc:
        return Drop(str(exc), True)
    except Invalid as exc:
        return Drop(str(exc), False)
    try:
        if not isinstance(record, dict):
            raise Invalid("", f"record is {_kind_name(record)}; expected a JSON object")
        if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:  # else it cannot be that deep
            _check_depth(record)
        _check_format(record, fmt)
        return _NORMALIZERS[fmt](record, line, distill)
    except Invalid as exc:
        return Drop(str(exc), True)


def _check_depth(record: dict[str, Any]) -> None:
    """Invalid when objects and arrays nest deeper than MAX_DEPTH (the record is level 1)."""
    stack: list[tuple[Any, int, str]] = [(record, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise Invalid(path, TOO_DEEP)
        if isinstance(value, dict):
            steps = ((f".{key}" if path else key, item) for key, item in value.items())
        elif isinstance(value, list):
            steps = ((f"[{i}]", item) for i, item in enumerate(value))
        else:
            continue
        for step, item in steps:
            if isinstance(item, (dict, list)):
                # Only the first levels of the path: the rest would be 100 steps long.
                where = (
                    path + step if depth < 6 else (path if path.endswith("...") else path + "...")
                )
                stack.append((item, depth + 1, where))


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


def _cut(text: str) -> str:
    if len(text) > SAMPLE_TEXT_LIMIT:
        return text[: SAMPLE_TEXT_LIMIT - 3] + "..."
    return text


def _content(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"text": _cut(text)}]}


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


def _messages_sample(record: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for i, message in enumerate(record["messages"]):
        role = message.get("role") or "user"
        if role == "system" and i == 0:
            continue
        text = message.get("content") or ""
        if message.get("tool_calls"):
            text += compact_json(message["tool_calls"])
        result.append(_content("model" if role in ("model", "assistant") else "user", text))
    return result


def _pair_sample(input_key: str, output_key: str) -> Callable[[dict[str, Any]], list[dict]]:
    def sample(record: dict[str, Any]) -> list[dict[str, Any]]:
        result = [_content("user", record[input_key])]
        if record.get(output_key) is not None:
            result.append(_content("model", record[output_key]))
        return result

    return sample


_SAMPLERS: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    "gemini": _gemini_sample,
    "gemini-messages": _messages_sample,
    "palm": _pair_sample("input_text", "output_text"),
    "openai-chat": _messages_sample,
    "prompt-completion": _pair_sample("prompt", "completion"),
}


def sample_contents(example: Example, fmt: str) -> list[dict[str, Any]]:
    """SPEC §5: the example as Gemini Contents with one (cut) text part each."""
    return _SAMPLERS[fmt](example.record)
