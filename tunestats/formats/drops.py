"""Drops: the kind of each dropped line, a stable code with one short hint to fix it.

A dropped line's reason says exactly what is wrong where ("contents[2].role is "assistant";
expected "user" or "model""); its *kind* says what to do about all lines like it. The kinds are
one table, :data:`KINDS`, whose codes are stable (a batch record's ``droppedByCode`` keys and
the text and HTML reports' groups use them). :func:`classify` gives a drop its code from what
the formats found (the JSON path and the problem) and, where that is not enough, from the line
itself (a pretty-printed file, a Python repr, a batch-prediction request).

Hands to the accumulator: a code per drop; to the reports: :data:`KINDS` (title and hint) and
:func:`path_pattern`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DropKind:
    code: str
    title: str  # what the lines of this kind have in common
    hint: str  # one short suggested fix


KINDS: dict[str, DropKind] = {
    k.code: k
    for k in (
        DropKind(
            "not-utf8",
            "not valid UTF-8",
            "re-encode the file as UTF-8 (for example iconv -f LATIN1 -t UTF-8)",
        ),
        DropKind(
            "too-long-line",
            "longer than --max-line-bytes, so not read",
            "end each record with \\n (a JSON array or \\r line endings make one long line); "
            "or raise --max-line-bytes",
        ),
        DropKind(
            "pretty-printed",
            "a record spread over several lines",
            "write one JSON object per line (JSONL): json.dumps(record) without indent",
        ),
        DropKind(
            "python-repr",
            "a Python dict written with str() or print(), not JSON",
            "write each record with json.dumps: JSON needs double quotes and true/false/null",
        ),
        DropKind(
            "not-json", "not valid JSON", "fix the JSON of these lines; each must parse alone"
        ),
        DropKind(
            "not-object",
            "a JSON value that is not an object",
            "each line must be one JSON object, {...}; split arrays into one record per line",
        ),
        DropKind(
            "too-deep",
            "nested more than 100 levels deep",
            "flatten the nested arguments or responses: Vertex's parsers stop at 100 levels",
        ),
        DropKind(
            "batch-request",
            'a batch-prediction request ({"request": ...})',
            'these are batch-prediction inputs: write the value of "request" as the record',
        ),
        DropKind(
            "batch-output",
            'a batch-prediction result ({"request": ..., "response": ...})',
            "add response.candidates[0].content to request.contents, and write that request",
        ),
        DropKind(
            "other-format",
            "a record of another format than the file's",
            "convert these records to the file's format (Gemini models take gemini records)",
        ),
        DropKind(
            "no-format",
            "a record that matches no format",
            "each record needs the keys of one format (README, Formats), e.g. contents",
        ),
        DropKind(
            "role-assistant",
            'role "assistant" in a Gemini record',
            'write "model" for the assistant\'s turns (Gemini roles are "user" and "model")',
        ),
        DropKind(
            "role-model",
            'role "model" in an OpenAI chat',
            'write "assistant" for the model\'s turns, or give --format gemini-messages',
        ),
        DropKind(
            "role-system",
            'role "system" in contents',
            'move the system prompt to systemInstruction: {"parts": [{"text": ...}]}',
        ),
        DropKind(
            "bad-role",
            "a role the format does not have",
            "use the format's roles: user and model (Gemini) or system, user, assistant, tool",
        ),
        DropKind(
            "missing-role",
            "a turn without a role in a multi-turn example",
            "give every turn its role; only a single-turn example may leave it out",
        ),
        DropKind(
            "same-role",
            "two turns in a row with the same role",
            "merge consecutive turns of one role into one, so that user and model alternate",
        ),
        DropKind(
            "system-not-first",
            'a "system" message after the first',
            'keep one "system" message, first; put later instructions in a user turn',
        ),
        DropKind(
            "no-model-turn",
            "no model turn to learn from",
            "these look like prompts: try --task distillation, or add the model's answer",
        ),
        DropKind(
            "missing-field",
            "a required field missing, null or empty",
            "fill in the field the reason names, or remove the example",
        ),
        DropKind(
            "wrong-type",
            "a field of the wrong JSON type",
            "give the field the type the reason names (a string, an array, an object)",
        ),
        DropKind(
            "bad-part",
            "a part with no kind or several kinds",
            "give each part exactly one of text, inlineData, fileData, functionCall, "
            "functionResponse",
        ),
        DropKind(
            "system-not-text",
            "a system instruction part that is not text",
            "keep only text parts in systemInstruction; move media to the first user turn",
        ),
        DropKind(
            "too-many-media",
            "more media in one example than Vertex allows",
            "split the example: at most 30 images, 1 audio file, 4 PDFs and 1 video each",
        ),
        DropKind(
            "bad-inline-data",
            "inlineData that is not base64 or is over 20 MB",
            "base64-encode inline data and keep it under 20 MB, or upload it and use fileData",
        ),
        DropKind(
            "bad-segment",
            "a videoMetadata segment that is not one",
            'write offsets as durations ("5s", "2.5s") with endOffset after startOffset',
        ),
        # SPEC §9: one media object breaks a limit (the media stage decides these codes).
        DropKind(
            "media-type",
            "a mimeType Vertex does not list",
            "use a listed type: image/png, image/jpeg, image/webp, video/mp4, audio/wav, "
            "application/pdf...",
        ),
        DropKind(
            "media-missing",
            "a media object that does not exist",
            "upload the object, or fix fileUri (check the bucket and the object name)",
        ),
        DropKind(
            "media-mismatch",
            "a media object whose bytes are not of its declared kind",
            "fix mimeType to what the file is, or point fileUri at the intended object",
        ),
        DropKind(
            "media-too-large",
            "a media object over its size limit",
            "shrink it: images and PDFs at most 20 MB, audio and video at most 100 MB",
        ),
        DropKind(
            "media-too-long",
            "audio or video longer than Vertex takes",
            "trim it to 5 minutes, or set MEDIA_RESOLUTION_LOW (20 minutes); audio at most "
            "60 minutes",
        ),
        DropKind(
            "media-too-many-pages",
            "PDFs of more than 300 pages in one example",
            "split the documents over several examples: at most 300 pages each",
        ),
        DropKind(
            "too-long",
            "more tokens than the model takes in one example",
            "shorten or split these examples (the limit counts input and output together)",
        ),
    )
}

# A role's path, and the index steps of any path.
_ROLE = re.compile(r"\.role$")
_INDEX = re.compile(r"\[\d+\]")
# JSON strings, which may hold any word, and Python's constants outside of them. A string is
# matched as an unrolled loop whose steps start with different bytes, then its closing quote if
# it has one: a match never backtracks, and one whose string never closes is kept as it is (no
# quote inside it can start a string: each is escaped, and the bytes after it split the same
# way). The regex this replaces tried again from every such quote: quadratic time.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(")?')
# After [:,[] the whitespace runs are disjoint: a search tries each byte a bounded number of
# times.
_PYTHON = re.compile(rb"[:,\[]\s*(?:True|False|None)\b")
# The bytes regex \s, which bytes.strip() strips too.
_SPACE = b" \t\n\r\x0b\x0c"


def classify(path: str, problem: str, raw: bytes, record: Any = None) -> str:
    """The code of a dropped line (a key of :data:`KINDS`).

    ``path`` and ``problem`` are what the formats found (``problem`` without the path);
    ``raw`` is the line and ``record`` its parsed value (None when it is not JSON).
    """
    if problem.startswith("not valid UTF-8"):
        return "not-utf8"
    if problem.startswith("not valid JSON"):
        return _not_json(raw)
    if problem.startswith("nests objects and arrays"):
        return "too-deep"
    if problem.startswith("record is ") and "expected a JSON object" in problem:
        return "not-object"
    if problem.startswith("record has ") and "at most" in problem:
        return "too-many-media"
    if problem.startswith("record has "):
        return "other-format"
    if problem.startswith("record matches no format"):
        if isinstance(record, dict) and isinstance(record.get("request"), dict):
            return "batch-output" if "response" in record else "batch-request"
        return "no-format"
    if "videoMetadata" in path or "video_metadata" in path:
        return "bad-segment"
    if path.endswith(".data") or "at most 20 MB" in problem:
        return "bad-inline-data"
    if _ROLE.search(path):
        return _role_code(problem)
    if problem in ('has no "model" turn', 'has no "model" message', 'has no "assistant" message'):
        return "no-model-turn"
    if problem.startswith(("has none of", "has several kinds")):
        return "bad-part"
    if "a system instruction holds only text" in problem:
        return "system-not-text"
    if problem.startswith(("is missing", "is empty", "is null", "has no ")):
        return "missing-field"
    if problem.startswith("is ") and "; expected" in problem:
        return "wrong-type"
    return "no-format"


def _not_json(raw: bytes) -> str:
    if raw.lstrip().startswith((b"{'", b"[{'")) or _python_constant(raw):
        return "python-repr"
    if _pretty(raw.strip(_SPACE)):
        return "pretty-printed"
    return "not-json"


def _python_constant(raw: bytes) -> bool:
    """Whether ``True``, ``False`` or ``None`` follows a ``:``, ``,`` or ``[`` outside JSON
    strings. Emptying the strings removes bytes and adds no such place, so they are emptied
    only when the line has one somewhere."""
    if not _PYTHON.search(raw):
        return False
    return bool(_PYTHON.search(_STRING.sub(_emptied, raw)))


def _emptied(string: re.Match[bytes]) -> bytes:
    return b'""' if string.group(1) else string.group(0)


def _pretty(line: bytes) -> bool:
    """Whether a line (without its surrounding whitespace) is one of a pretty-printed record:
    a lone closing bracket, a ``"key":`` line, or one that ends in a comma or an opening bracket
    (the rest of its value is on the next lines). Scanned, not matched: the regex that said this
    took quadratic time on a long line of spaces."""
    if line in (b"]", b"}") or line.endswith((b",", b"[", b"{")):
        return True
    if line.startswith(b'"'):
        close = line.find(b'"', 1)  # a key holds no quote (not even an escaped one)
        return close != -1 and line[close + 1 :].lstrip(_SPACE).startswith(b":")
    return False


def _role_code(problem: str) -> str:
    if problem.startswith("is missing"):
        return "missing-role"
    if "turns must alternate" in problem:
        return "same-role"
    if "only the first message" in problem:
        return "system-not-first"
    if problem.startswith('is "assistant"') and '"model"' in problem:
        return "role-assistant"
    if problem.startswith('is "system"') and '"model"' in problem:
        return "role-system"
    if problem.startswith('is "model"') and '"assistant"' in problem:
        return "role-model"
    return "bad-role"


def path_pattern(path: str) -> str:
    """A JSON path with its indices left out, naming where lines of one kind go wrong:
    ``contents[2].role`` -> ``contents[*].role``."""
    return _INDEX.sub("[*]", path)
