"""Reference implementation ("oracle") of SPEC.md + docs/CHOICES.md, for tests only.

Written from the two documents alone, independently of the engine in ``tunestats/``, and kept
deliberately plain: one pass over the lines with ordinary loops, the ``json`` module, exact
integer and ``Fraction`` arithmetic, no numpy. Slow, obvious and easy to check by reading.

Public functions:

- :func:`oracle_run`: in one pass, the TuningDataStats JSON document (proto3 JSON, as a dict),
  the accounting (kept, dropped, blank, lines) and the per-line drop reasons.
- :func:`figures`: SPEC §3's figures of a list of values, as plain numbers.

``count(text) -> int`` is the token counter; it is called once per text piece (one text part,
one key or string of a Gemini call, one compact JSON of OpenAI tool calls, one ``content``
string, ...), never on a concatenation.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

# The engine runs these cases with --media skip (their objects do not exist): every media part
# counts 0 tokens, and only the MIME types are checked, against the lists of SPEC §9.
MEDIA_TOKENS = 0
MEDIA_TYPES = {
    "image/png", "image/jpeg", "image/webp", "image/heic", "image/heif",
    "video/x-flv", "video/quicktime", "video/mpeg", "video/mpegs", "video/mpg", "video/mp4",
    "video/webm", "video/wmv", "video/3gpp",
    "audio/x-aac", "audio/flac", "audio/mp3", "audio/m4a", "audio/mpeg", "audio/mpga",
    "audio/mp4", "audio/ogg", "audio/opus", "audio/pcm", "audio/wav", "audio/webm",
    "application/pdf",
}  # fmt: skip
MAX_IMAGES = 30
MAX_INLINE_BYTES = 20_000_000
MAX_LISTED_DROPS = 1000
DETECT_LINES = 1000
SNIFF_BYTES = 64 * 1024
SAMPLE_EXAMPLES = 3
SAMPLE_TEXT_LIMIT = 400

FORMATS = ("gemini", "gemini-messages", "palm", "openai-chat", "prompt-completion")


class OracleSourceError(Exception):
    """A whole-source failure (CHOICES "Reading"): no report at all."""


class Invalid(Exception):
    """A record problem: the example is dropped with this reason."""


# ---------------------------------------------------------------------------------------------
# Reading


def read_raw(path: str) -> bytes:
    """Whole decompressed content of the file; compression comes from the name."""
    lower = str(path).lower()
    try:
        if lower.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        if lower.endswith(".bz2"):
            with bz2.open(path, "rb") as f:
                return f.read()
        if lower.endswith(".xz"):
            with lzma.open(path, "rb") as f:
                return f.read()
        if lower.endswith(".zst"):
            import zstandard

            with open(path, "rb") as f:
                return zstandard.ZstdDecompressor().stream_reader(f).read()
        with open(path, "rb") as f:
            return f.read()
    except Exception as exc:  # any failure to open, read or decompress
        raise OracleSourceError(f"{path}: cannot read: {exc}") from exc


def split_lines(data: bytes) -> list[bytes]:
    """Physical lines: bytes up to each newline, a trailing CR removed; a last line without a
    newline is still a line."""
    for bom in (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff"):
        if data.startswith(bom):
            raise OracleSourceError("starts with a UTF-16 or UTF-32 byte-order mark")
    # CHOICES.md: a file whose first bytes are those of a compressed file, an archive or
    # Parquet is not text; a NUL byte anywhere else is only an invalid line.
    magic = (
        b"\x1f\x8b",
        b"\x28\xb5\x2f\xfd",
        b"\xfd7zXZ\x00",
        b"PK\x03\x04",
        b"PK\x05\x06",
        b"PAR1",
    )
    if data.startswith(magic) or (data[:4] == b"BZh9" and data[4:10] == b"1AY&SY"):
        raise OracleSourceError("not text: compressed, an archive or Parquet")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()  # the file ended with a newline: no further line
    lines = []
    for piece in pieces:
        if piece.endswith(b"\r"):
            piece = piece[:-1]
        lines.append(piece)
    return lines


def is_blank(line: bytes) -> bool:
    return all(b in b" \t\r" for b in line)


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _parse_int(text):
    value = int(text)
    if value < -(2**63) or value > 2**64 - 1:
        raise ValueError("integer outside the 64-bit range")
    return value


def _parse_float(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError("number too large")
    return value


def _has_lone_surrogate(value) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    return False


def parse_line(line: bytes):
    """Return the parsed JSON value, or raise Invalid (bad UTF-8 or not strict JSON)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(f"not valid UTF-8 at byte {exc.start}") from None
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"not valid JSON: {exc}") from None
    if _has_lone_surrogate(value):
        raise Invalid("not valid JSON: lone surrogate")
    return value


# ---------------------------------------------------------------------------------------------
# Format detection


def detect_format(parsed: list) -> str:
    """``parsed``: the values of the first non-blank lines, None where a line did not parse."""
    had_messages = False
    for value in parsed[:DETECT_LINES]:
        if not isinstance(value, dict):
            continue
        if "contents" in value:
            return "gemini"
        if "messages" in value:
            had_messages = True
            messages = value["messages"]
            if isinstance(messages, list):
                roles = [m.get("role") for m in messages if isinstance(m, dict)]
                if "model" in roles:
                    return "gemini-messages"
                if "assistant" in roles or "tool" in roles:
                    return "openai-chat"
        if "input_text" in value or "output_text" in value:
            return "palm"
        if "prompt" in value or "completion" in value:
            return "prompt-completion"
    return "openai-chat" if had_messages else "gemini"


# ---------------------------------------------------------------------------------------------
# One example


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def get2(obj: dict, camel: str, snake: str):
    """A proto field in either spelling (None when absent)."""
    if camel in obj:
        return obj[camel]
    return obj.get(snake)


def has2(obj: dict, camel: str, snake: str) -> bool:
    return camel in obj or snake in obj


@dataclass
class Example:
    inputs: list = field(default_factory=list)  # texts the model reads
    outputs: list = field(default_factory=list)  # texts the model writes
    images: int = 0
    mimes: list = field(default_factory=list)  # of the media parts
    messages: int = 0
    chars: int = 0
    billable_chars: int = 0
    display: list = field(default_factory=list)  # (role, text) Contents for userDatasetExamples

    def add_chars(self, text: str) -> None:
        self.chars += len(text)
        self.billable_chars += sum(1 for c in text if not c.isspace())


def is_base64(data: str) -> bool:
    """Standard alphabet, padding required; returns the validity only."""
    if len(data) % 4 != 0:
        return False
    body = data.rstrip("=")
    pad = len(data) - len(body)
    if pad > 2:
        return False
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return all(c in alphabet for c in body)


def base64_size(data: str) -> int:
    pad = len(data) - len(data.rstrip("="))
    return len(data) // 4 * 3 - pad


PART_KINDS = (
    ("text", "text"),
    ("inlineData", "inline_data"),
    ("fileData", "file_data"),
    ("functionCall", "function_call"),
    ("functionResponse", "function_response"),
)


SNAKE = dict(PART_KINDS)


def part_kind(part) -> str:
    if not isinstance(part, dict):
        raise Invalid("part is not an object")
    kinds = [camel for camel, snake in PART_KINDS if has2(part, camel, snake)]
    if len(kinds) != 1:
        raise Invalid(f"part has {len(kinds)} known kinds")
    return kinds[0]


def genai_strings(value) -> list:
    """SPEC §2 [G]: every object key and every string value, recursively, each a text."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        found = list(value.keys())
        for item in value.values():
            found += genai_strings(item)
        return found
    if isinstance(value, list):
        found = []
        for item in value:
            found += genai_strings(item)
        return found
    return []  # numbers, booleans, null count nothing


def genai_schema(schema) -> list:
    """SPEC §2 [G]: format, description, enum values, required names, property keys, nested
    items and properties, the strings and keys of example; not type, title or default."""
    if not isinstance(schema, dict):
        return []
    found = []
    for key in ("format", "description"):
        if isinstance(schema.get(key), str):
            found.append(schema[key])
    for key in ("enum", "required"):
        if isinstance(schema.get(key), list):
            found += [v for v in schema[key] if isinstance(v, str)]
    found += genai_schema(schema.get("items"))
    if isinstance(schema.get("properties"), dict):
        for key, sub in schema["properties"].items():
            found.append(key)
            found += genai_schema(sub)
    found += genai_strings(schema.get("example"))
    return found


def genai_tools(tools: list) -> list:
    """SPEC §2 [G]: function declarations count name, description and their two schemas."""
    found = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        declarations = get2(tool, "functionDeclarations", "function_declarations")
        if not isinstance(declarations, list):
            continue
        for declaration in declarations:
            if not isinstance(declaration, dict):
                continue
            for key in ("name", "description"):
                if isinstance(declaration.get(key), str):
                    found.append(declaration[key])
            found += genai_schema(declaration.get("parameters"))
            found += genai_schema(declaration.get("response"))
    return found


def check_tools(record: dict, ex: Example, gemini: bool = False) -> None:
    # CHOICES.md: null is the same as a missing field (proto3 JSON).
    if record.get("tools") is not None:
        tools = record["tools"]
        if not isinstance(tools, list):
            raise Invalid("tools is not a list")
        if gemini:
            ex.inputs.extend(genai_tools(tools))
        else:
            ex.inputs.append(compact(tools))


def measure_gemini(record: dict, task: str) -> Example:
    ex = Example()
    supervised = task == "supervised"
    kinds: dict = {}  # other media by kind, for the per-example limits
    system = get2(record, "systemInstruction", "system_instruction")
    if system is not None:
        if not isinstance(system, dict):
            raise Invalid("systemInstruction is not an object")
        parts = system.get("parts")
        if not isinstance(parts, list) or not parts:
            raise Invalid("systemInstruction without parts")
        for part in parts:
            if part_kind(part) != "text":
                raise Invalid("systemInstruction part is not text")
            text = part["text"]
            if not isinstance(text, str):
                raise Invalid("text is not a string")
            ex.inputs.append(text)
            ex.add_chars(text)
    if "contents" not in record:
        raise Invalid("missing contents")
    contents = record["contents"]
    if not isinstance(contents, list) or not contents:
        raise Invalid("contents missing, not a list or empty")
    previous_role = None
    has_model = False
    for content in contents:
        if not isinstance(content, dict):
            raise Invalid("content is not an object")
        if "role" in content:
            role = content["role"]
            if role not in ("user", "model"):
                raise Invalid(f"role {role!r}")
        else:
            if len(contents) != 1:
                raise Invalid("missing role in a multi-turn example")
            role = "user"
        if role == previous_role:
            raise Invalid("two consecutive turns with the same role")
        previous_role = role
        if role == "model":
            has_model = True
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise Invalid("content without parts")
        media = 0
        shown = []
        for part in parts:
            kind = part_kind(part)
            if kind == "text":
                text = part["text"]
                if not isinstance(text, str):
                    raise Invalid("text is not a string")
                ex.add_chars(text)
                (ex.outputs if role == "model" and supervised else ex.inputs).append(text)
                shown.append(text)
            elif kind in ("inlineData", "fileData"):
                if kind == "inlineData":
                    blob = get2(part, "inlineData", "inline_data")
                    second = ("data", "data")
                else:
                    blob = get2(part, "fileData", "file_data")
                    second = ("fileUri", "file_uri")
                if not isinstance(blob, dict):
                    raise Invalid(f"{kind} is not an object")
                mime = get2(blob, "mimeType", "mime_type")
                other = get2(blob, *second)
                if not isinstance(mime, str) or not isinstance(other, str):
                    raise Invalid(f"{kind} needs string mimeType and {second[0]}")
                if kind == "inlineData":
                    if not is_base64(other):
                        raise Invalid("inlineData.data is not base64")
                    if base64_size(other) > MAX_INLINE_BYTES:
                        raise Invalid("inlineData over 20 MB")
                ex.mimes.append(mime)
                if mime.startswith("image/"):
                    ex.images += 1
                elif mime.startswith("audio/"):
                    kinds["audio"] = kinds.get("audio", 0) + 1
                elif mime.startswith("video/"):
                    kinds["video"] = kinds.get("video", 0) + 1
                elif mime == "application/pdf":
                    kinds["pdf"] = kinds.get("pdf", 0) + 1
                media += 1
            else:  # functionCall, functionResponse
                value = get2(part, kind, SNAKE[kind])
                if not isinstance(value, dict) or not isinstance(value.get("name"), str):
                    raise Invalid(f"{kind} must be an object with a string name")
                payload = value.get("args" if kind == "functionCall" else "response")
                pieces = [value["name"], *genai_strings(payload)]
                if kind == "functionCall" and role == "model" and supervised:
                    ex.outputs.extend(pieces)
                else:
                    ex.inputs.extend(pieces)
                shown.append(compact(value))
        ex.display.append((role, "".join(f"<media{i}>" for i in range(media)) + "".join(shown)))
    if ex.images > MAX_IMAGES:
        raise Invalid("more than 30 images")
    # SPEC §4: at most 1 audio, 4 PDF and 1 video part per example
    for kind, limit in (("audio", 1), ("pdf", 4), ("video", 1)):
        if kinds.get(kind, 0) > limit:
            raise Invalid(f"more than {limit} {kind} parts")
    if supervised and not has_model:
        raise Invalid("no model turn")
    check_tools(record, ex, gemini=True)
    ex.messages = len(contents)
    return ex


def checked_messages(record: dict, roles: tuple) -> Iterator[tuple[int, dict, str]]:
    """``(index, message, role)`` for each message of a gemini-messages or openai-chat record,
    checked in turn: a non-empty list of objects, each with one of ``roles``."""
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Invalid("messages missing, not a list or empty")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise Invalid("message is not an object")
        role = message.get("role")
        if role not in roles:
            raise Invalid(f"role {role!r}")
        yield index, message, role


def measure_gemini_messages(record: dict, task: str) -> Example:
    ex = Example()
    supervised = task == "supervised"
    previous_role = None
    has_model = False
    for index, message, role in checked_messages(record, ("system", "user", "model")):
        if role == "system" and index != 0:
            raise Invalid("system not first")
        if role == previous_role:
            raise Invalid("two consecutive messages with the same role")
        previous_role = role
        content = message.get("content")
        if not isinstance(content, str):
            raise Invalid("content is not a string")
        ex.add_chars(content)
        if role == "model":
            has_model = True
            (ex.outputs if supervised else ex.inputs).append(content)
            ex.display.append(("model", content))
        elif role == "user":
            ex.inputs.append(content)
            ex.display.append(("user", content))
        else:  # the leading system message
            ex.inputs.append(content)
        if role != "system":
            ex.messages += 1
    if ex.messages == 0:
        raise Invalid("only a system message")
    if supervised and not has_model:
        raise Invalid("no model turn")
    return ex


def measure_openai(record: dict, task: str) -> Example:
    ex = Example()
    supervised = task == "supervised"
    has_model = False
    for index, message, role in checked_messages(record, ("system", "user", "assistant", "tool")):
        calls = message.get("tool_calls")
        if calls is not None and not isinstance(calls, list):
            raise Invalid("tool_calls is not a list")
        # CHOICES.md: content may be null only beside a non-empty tool_calls
        has_calls = role == "assistant" and bool(calls)
        content = message.get("content")
        if has_calls:
            if content is not None and not isinstance(content, str):
                raise Invalid("content is not a string or null")
        elif not isinstance(content, str):
            raise Invalid("content is not a string")
        text = content or ""
        ex.add_chars(text)
        if role == "assistant":
            has_model = True
            target = ex.outputs if supervised else ex.inputs
            target.append(text)
            shown = text
            if calls:
                target.append(compact(calls))
                shown += compact(calls)
            ex.display.append(("model", shown))
        else:
            ex.inputs.append(text)
            shown = text
            if calls:  # CHOICES.md: tool_calls elsewhere are input
                ex.inputs.append(compact(calls))
                shown += compact(calls)
            if not (role == "system" and index == 0):
                ex.display.append(("user", shown))
        if not (role == "system" and index == 0):
            ex.messages += 1
    if ex.messages == 0:
        raise Invalid("only a system message")
    if supervised and not has_model:
        raise Invalid("no assistant message")
    check_tools(record, ex)
    return ex


def measure_pair(record: dict, task: str, in_key: str, out_key: str) -> Example:
    ex = Example()
    supervised = task == "supervised"
    if in_key not in record:
        raise Invalid(f"missing {in_key}")
    source = record[in_key]
    if not isinstance(source, str):
        raise Invalid(f"{in_key} is not a string")
    ex.inputs.append(source)
    ex.add_chars(source)
    ex.display.append(("user", source))
    if record.get(out_key) is not None or supervised:
        if record.get(out_key) is None:
            raise Invalid(f"missing {out_key}")
        target = record[out_key]
        if not isinstance(target, str):
            raise Invalid(f"{out_key} is not a string")
        (ex.outputs if supervised else ex.inputs).append(target)
        ex.add_chars(target)
        ex.display.append(("model", target))
    ex.messages = 2
    return ex


def measure(record, fmt: str, task: str) -> Example:
    if not isinstance(record, dict):
        raise Invalid("record is not an object")
    if fmt == "gemini":
        return measure_gemini(record, task)
    if fmt == "gemini-messages":
        return measure_gemini_messages(record, task)
    if fmt == "openai-chat":
        return measure_openai(record, task)
    if fmt == "palm":
        return measure_pair(record, task, "input_text", "output_text")
    if fmt == "prompt-completion":
        return measure_pair(record, task, "prompt", "completion")
    raise ValueError(f"unknown format {fmt!r}")


# ---------------------------------------------------------------------------------------------
# Distributions and the document


def median_rank(values_sorted: list) -> int:
    """SPEC §3: the median is the value of rank ceil(n / 2)."""
    n = len(values_sorted)
    return values_sorted[max(1, math.ceil(Fraction(n, 2))) - 1]


def percentile_rank(values_sorted: list, q: Fraction) -> int:
    """SPEC §3: p5 / p95 are the value of rank floor(q * n) + 1, at most n."""
    n = len(values_sorted)
    rank = min(n, math.floor(q * n) + 1)
    return values_sorted[rank - 1]


def buckets_of(values: list) -> list:
    """The 6-bucket rule, as (count, left, right) triples, empty buckets left out."""
    lo, hi = min(values), max(values)
    if lo == hi:
        return [(len(values), lo, hi)]
    w = Fraction(hi - lo + 1, 6)
    lefts = [math.ceil(lo + i * w) for i in range(6)]
    out = []
    for i in range(6):
        left = lefts[i]
        right = hi if i == 5 else lefts[i + 1] - 1
        n = sum(1 for v in values if left <= v <= right)
        if n:
            out.append((n, left, right))
    assert sum(b[0] for b in out) == len(values)
    return out


def figures(values: list) -> dict:
    """SPEC §3's figures and buckets as plain numbers, in the shape of the HTML page model and
    of ``--report-json`` (not the proto3 document's: see :func:`distribution`)."""
    s = sorted(values)
    return {
        "sum": sum(s),
        "min": s[0],
        "max": s[-1],
        "mean": sum(s) / len(s),
        "median": median_rank(s),
        "p5": percentile_rank(s, Fraction(5, 100)),
        "p95": percentile_rank(s, Fraction(95, 100)),
        "buckets": [
            {"count": count, "left": left, "right": right} for count, left, right in buckets_of(s)
        ],
    }


def put(doc: dict, key: str, value) -> None:
    """proto3: a field at its default value (0, empty) is left out."""
    if value in (0, "0", None, [], {}):
        return
    doc[key] = value


def distribution(values: list, *, distill: bool, billable: bool) -> dict:
    s = sorted(values)
    n = len(s)
    total = sum(s)
    d: dict = {}
    put(d, "sum", float(total) if distill else str(total))
    if billable and not distill:
        put(d, "billableSum", str(total))
    put(d, "min", float(s[0]))
    put(d, "max", float(s[-1]))
    put(d, "mean", total / n)
    put(d, "median", float(median_rank(s)))
    put(d, "p5", float(percentile_rank(s, Fraction(5, 100))))
    put(d, "p95", float(percentile_rank(s, Fraction(95, 100))))
    buckets = []
    for count, left, right in buckets_of(s):
        b: dict = {}
        put(b, "count", str(count) if distill else float(count))
        put(b, "left", float(left))
        put(b, "right", float(right))
        buckets.append(b)
    put(d, "buckets", buckets)
    return d


def shorten(text: str) -> str:
    if len(text) > SAMPLE_TEXT_LIMIT:
        return text[: SAMPLE_TEXT_LIMIT - 3] + "..."
    return text


@dataclass
class Run:
    doc: dict
    kept: int
    dropped: int
    blank: int
    lines: int
    format: str
    dropped_lines: list  # (line number, reason) for every dropped example


def oracle_run(
    path,
    *,
    count,
    task: str = "supervised",
    fmt: str | None = None,
    limit: int = 131072,
    epochs: int | None = None,
    batch_size: int | None = None,
) -> Run:
    if task not in ("supervised", "distillation"):
        raise ValueError(task)
    lines = split_lines(read_raw(path))
    entries = []  # (line number, parsed value or Invalid)
    blank = 0
    for number, line in enumerate(lines, start=1):
        if is_blank(line):
            blank += 1
            continue
        try:
            entries.append((number, parse_line(line)))
        except Invalid as exc:
            entries.append((number, exc))
    if not entries:
        raise OracleSourceError("empty: no non-blank line")
    if all(isinstance(v, Invalid) for _, v in entries):
        raise OracleSourceError("not JSONL: no line is valid JSON")
    if fmt is None:
        fmt = detect_format([None if isinstance(v, Invalid) else v for _, v in entries])

    distill = task == "distillation"
    kept_examples = []
    dropped_lines = []
    for number, value in entries:
        try:
            if isinstance(value, Invalid):
                raise value
            ex = measure(value, fmt, task)
            for mime in ex.mimes:
                if mime.lower() not in MEDIA_TYPES:
                    raise Invalid(f"mimeType {mime!r} is not a media type Vertex lists")
            ex.input_tokens = sum(count(t) for t in ex.inputs) + MEDIA_TOKENS * ex.images
            ex.output_tokens = sum(count(t) for t in ex.outputs)
            if ex.input_tokens + ex.output_tokens > limit:
                raise Invalid(f"too long: {ex.input_tokens + ex.output_tokens} tokens > {limit}")
        except Invalid as exc:
            dropped_lines.append((number, f"line {number}: {exc}"))
            continue
        kept_examples.append(ex)

    stats: dict = {}
    kept = len(kept_examples)
    put(stats, "tuningDatasetExampleCount", str(kept))
    put(stats, "totalTuningCharacterCount", str(sum(e.chars for e in kept_examples)))
    put(stats, "totalBillableCharacterCount", str(sum(e.billable_chars for e in kept_examples)))
    total_tokens = sum(e.input_tokens + e.output_tokens for e in kept_examples)
    put(stats, "totalBillableTokenCount", str(total_tokens))
    if epochs is not None and batch_size is not None:
        put(stats, "tuningStepCount", str(epochs * math.ceil(kept / batch_size)))
    if kept:
        stats["userInputTokenDistribution"] = distribution(
            [e.input_tokens for e in kept_examples], distill=distill, billable=True
        )
        if not distill:
            stats["userOutputTokenDistribution"] = distribution(
                [e.output_tokens for e in kept_examples], distill=distill, billable=True
            )
        stats["userMessagePerExampleDistribution"] = distribution(
            [e.messages for e in kept_examples], distill=distill, billable=False
        )
    samples = []
    for ex in kept_examples[:SAMPLE_EXAMPLES]:
        for role, text in ex.display:
            samples.append({"role": role, "parts": [{"text": shorten(text)}]})
    put(stats, "userDatasetExamples", samples)
    listed = dropped_lines[:MAX_LISTED_DROPS]
    if distill:
        put(stats, "droppedExampleIndices", [str(n) for n, _ in listed])
        put(stats, "droppedExampleReasons", [r for _, r in listed])
        doc = {"distillationDataStats": {"trainingDatasetStats": stats}}
    else:
        put(stats, "totalTruncatedExampleCount", str(len(dropped_lines)))
        put(stats, "truncatedExampleIndices", [str(n) for n, _ in listed])
        put(stats, "droppedExampleReasons", [r for _, r in listed])
        doc = {"supervisedTuningDataStats": stats}
    return Run(
        doc=doc,
        kept=kept,
        dropped=len(dropped_lines),
        blank=blank,
        lines=len(lines),
        format=fmt,
        dropped_lines=dropped_lines,
    )
