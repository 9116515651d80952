"""Common: what the formats' per-line rules share, and the :class:`Example` they all make.

:class:`Invalid` (a broken rule: the JSON path, and what is wrong there) and the validators that
raise it (strings, arrays, roles, ``tools``, how deep a record nests), the :class:`_Builder` that
collects an example's texts, characters and media as a format walks its record (and applies the
media limits, SPEC §4), and the Gemini Content that a userDatasetExamples sample is made of.

Hands to the format modules (gemini, messages, pairs) these pieces; what they build, an
:class:`Example` or an :class:`Invalid`, goes through the package to counting.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

MAX_IMAGES = 30  # SPEC §4 [D]
# SPEC §4 and §8 [D]: the other media one example may hold, by kind of MIME type.
MEDIA_LIMITS = (("audio", "audio file", 1), ("pdf", "PDF document", 4), ("video", "video", 1))
SAMPLE_TEXT_LIMIT = 400  # SPEC §5 [O]
# CHOICES.md: a record nests objects and arrays at most this deep, the record itself counted
# as 1. Protobuf's JSON parsers, which read Vertex requests, refuse more than 100 levels by
# default; and no deeper value can reach the recursive code of json or of Google's clients.
MAX_DEPTH = 100
TOO_DEEP = (
    f"nests objects and arrays more than {MAX_DEPTH} levels deep (the record is level 1); "
    f"at most {MAX_DEPTH} are allowed"
)


# What a reason never shows raw, since it quotes the record's keys and values: control
# characters (C0, DEL, C1), format characters (the bidi controls U+202A-U+202E, U+2066-U+2069,
# U+200E, U+200F and U+061C among them, which reorder what a terminal shows; zero-width ones,
# which hide a difference), line and paragraph separators, lone surrogates.
_HIDDEN = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs"))


def escape_hidden(text: str) -> str:
    """``text`` with each hidden character written as an escape, as JSON writes a control
    character: ``"us\\u202eer"``."""
    if text.isprintable():  # the usual case: nothing to look at character by character
        return text
    return "".join(
        (f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
        if unicodedata.category(c) in _HIDDEN
        else c
        for c in text
    )


class Invalid(Exception):
    """A record breaks a rule: ``path`` is the JSON path, ``problem`` what is wrong there.

    Both are escaped (:func:`escape_hidden`): they quote the record, and a reason is printed."""

    def __init__(self, path: str, problem: str) -> None:
        path, problem = escape_hidden(path), escape_hidden(problem)
        super().__init__(f"{path} {problem}" if path else problem)
        self.path = path
        self.problem = problem


class TooDeep(Invalid):
    """Valid JSON nested deeper than any parser should follow (MAX_DEPTH)."""


@dataclass(frozen=True, slots=True)
class MediaPart:
    """One ``inlineData`` or ``fileData`` part, as the media stage needs it (SPEC §9)."""

    path: str  # JSON path of its data: "contents[0].parts[1].fileData"
    mime: str  # the declared mimeType
    uri: str | None = None  # fileData.fileUri
    data: bytes | None = None  # inlineData, decoded
    part_resolution: str | None = None  # the part's mediaResolution.level (Gemini 3)
    line_resolution: str | None = None  # the line's generationConfig.mediaResolution
    start: float | None = None  # videoMetadata.startOffset, seconds
    end: float | None = None  # videoMetadata.endOffset, seconds
    digest: str = ""  # SHA-256 of inline data (computed once: the bytes may be 20 MB)

    @property
    def key(self) -> str:
        """What identifies the object: its URI, or the digest of inline bytes."""
        return self.uri if self.uri is not None else f"inline:{self.digest}"

    @property
    def where(self) -> str:
        """The part and its object, for a reason: ``contents[0].parts[1].fileData gs://b/x``."""
        return f"{self.path} {self.uri}" if self.uri is not None else f"{self.path} (inline)"


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
    media: tuple[MediaPart, ...] = ()
    # The line's generationConfig.mediaResolution ("" when absent; SPEC §8's consistency
    # rule), and what SPEC §8 warns about (tunestats.job.readiness.NOTICES keys).
    resolution: str = ""
    notices: tuple[str, ...] = ()


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


def _tools(record: dict[str, Any]) -> list[Any]:
    tools = record.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise Invalid("tools", f"is {_kind_name(tools)}; expected an array")
    return tools


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
        "parts",
        "notices",
        "resolution",
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
        self.parts: list[MediaPart] = []
        self.notices: dict[str, None] = {}  # ordered set
        self.resolution = ""

    def text(self, text: str, output: bool) -> None:
        if text:
            (self.outputs if output else self.inputs).append(text)
            self.characters += len(text)
            self.billable += _non_space(text)

    def json(self, value: Any, output: bool) -> None:
        (self.outputs if output else self.inputs).append(compact_json(value))

    def pieces(self, texts: list[str], output: bool) -> None:
        """Texts counted as tokens only (names, keys, schema strings): no characters."""
        (self.outputs if output else self.inputs).extend(t for t in texts if t)

    def notice(self, key: str) -> None:
        self.notices[key] = None

    def media(self, mime: str, part: MediaPart | None = None) -> None:
        if part is not None:
            self.parts.append(part)
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
            tuple(self.parts),
            self.resolution,
            tuple(self.notices),
        )


# What str.split() and str.isspace() take for white space (the first ten: the ASCII ones).
_SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_SPACES += "\u2028\u2029\u202f\u205f\u3000"


def _non_space(text: str) -> int:
    """The characters of ``text`` that are not white space. A long text is counted without
    splitting it: the words of a 100 MB text would take a gigabyte."""
    if len(text) < 4096:
        return len("".join(text.split()))
    return len(text) - sum(map(text.count, _SPACES[:10] if text.isascii() else _SPACES))


def _media_kind(mime: str) -> str | None:
    if mime.startswith("audio/"):
        return "audio"
    if mime.startswith("video/"):
        return "video"
    return "pdf" if mime == "application/pdf" else None


# --- userDatasetExamples --------------------------------------------------------------------


def _cut(text: str) -> str:
    if len(text) > SAMPLE_TEXT_LIMIT:
        return text[: SAMPLE_TEXT_LIMIT - 3] + "..."
    return text


def _content(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"text": _cut(text)}]}
