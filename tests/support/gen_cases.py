"""Deterministic generators of small JSONL tuning datasets, valid and invalid, in every format.

Every generator takes a seeded ``random.Random`` and returns a list of raw lines (bytes, without
the newline); :func:`write_lines` writes them with a chosen line ending. :func:`build_cases`
writes a whole family of datasets into a directory and describes each as a :class:`Case`
(path plus the options to run it with).
"""

from __future__ import annotations

import base64
import bz2
import gzip
import json
import lzma
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Words and pieces chosen to stress tokenizers, code point counting and ``str.isspace``.
WORDS = [
    "hello",
    "world",
    "the",
    "quick",
    "brown",
    "fox",
    "don't",
    "tuning",
    "dataset",
    "1234567",
    "3.14159",
    "foo_bar",
    "ÇaVa",
    "naïve",
    "straße",
    "İstanbul",
    "Ωμέγα",
    "数据集",
    "東京タワー",
    "한국어",
    "עברית",
    "العربية",
    "😀",
    "👍🏽",
    "🇫🇷",
    "\U0001f9d1\u200d\U0001f4bb",
    "e\u0301",
    "n\u0303o",
    "a\u0308\u0304",
    "\u200b",
    "<b>bold</b>",
    '{"k": [1, 2]}',
    "\\n",
    "C:\\path",
    "END",
    " ->",
]
SPACES = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u3000", "\u00a0", "\u2028", "\x1c", "\x85"]


def text(rng: random.Random, lo: int = 0, hi: int = 25) -> str:
    n = rng.randint(lo, hi)
    out = []
    for i in range(n):
        if i:
            out.append(rng.choice(SPACES))
        out.append(rng.choice(WORDS))
    return "".join(out)


def long_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def some_text(rng: random.Random) -> str:
    """Mostly short, sometimes empty, sometimes longer than the 400-code-point sample cut."""
    r = rng.random()
    if r < 0.05:
        return ""
    if r < 0.15:
        return long_text(rng, rng.randint(120, 260))
    return text(rng, 1, 25)


def b64(rng: random.Random, lo: int = 1, hi: int = 40) -> str:
    return base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.randint(lo, hi)))).decode()


def json_value(rng: random.Random, depth: int = 0):
    """Arbitrary JSON for function arguments: floats whose text differs between serializers."""
    r = rng.random()
    if depth > 2 or r < 0.3:
        return rng.choice(
            [
                0,
                -7,
                2**63 - 1,
                2**64 - 1,
                -(2**63),
                1.0,
                1.5,
                1e-07,
                1e16,
                1e22,
                -0.0,
                0.1,
                123456.789,
                True,
                False,
                None,
                "",
                "x",
                "é\u0000\u001f\u2028",
                text(rng, 0, 4),
            ]
        )
    if r < 0.65:
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {
        rng.choice(["a", "b", "ключ", "key 2", "z", "é"]) + str(i): json_value(rng, depth + 1)
        for i in range(rng.randint(0, 3))
    }


def dumps(rng: random.Random, record) -> bytes:
    """A record as one JSONL line, with varying escaping and spacing."""
    if rng.random() < 0.5:
        s = json.dumps(record, ensure_ascii=rng.random() < 0.3, separators=(",", ":"))
    else:
        s = json.dumps(record, ensure_ascii=rng.random() < 0.3)
    return s.encode("utf-8")


def cased(rng: random.Random, camel: str, snake: str) -> str:
    return camel if rng.random() < 0.8 else snake


# ---------------------------------------------------------------------------------------------
# gemini


def gemini_tools(rng: random.Random) -> list:
    return [
        {
            "functionDeclarations": [
                {
                    "name": f"fn_{i}",
                    "description": text(rng, 1, 8),
                    "parameters": {"type": "OBJECT", "properties": {"q": {"type": "STRING"}}},
                }
                for i in range(rng.randint(1, 2))
            ]
        }
    ]


def gemini_part(rng: random.Random, role: str, *, images: bool = True) -> dict:
    r = rng.random()
    if r < 0.6 or not images:
        return {"text": some_text(rng)}
    if r < 0.72:
        mime = rng.choice(["image/png", "image/jpeg", "image/webp"])
        return {
            cased(rng, "inlineData", "inline_data"): {
                cased(rng, "mimeType", "mime_type"): mime,
                "data": b64(rng),
            }
        }
    if r < 0.76:
        return {
            "inlineData": {
                "mimeType": rng.choice(["audio/wav", "application/pdf"]),
                "data": b64(rng),
            }
        }
    if r < 0.84:
        mime = rng.choice(["image/jpeg", "application/pdf", "video/mp4", "image/png"])
        return {
            cased(rng, "fileData", "file_data"): {
                cased(rng, "mimeType", "mime_type"): mime,
                cased(rng, "fileUri", "file_uri"): f"gs://bucket/obj{rng.randint(0, 99)}",
            }
        }
    if r < 0.92 or role == "user":
        if role == "model":
            return {
                cased(rng, "functionCall", "function_call"): {
                    "name": f"fn_{rng.randint(0, 3)}",
                    "args": json_value(rng),
                }
            }
        return {
            cased(rng, "functionResponse", "function_response"): {
                "name": f"fn_{rng.randint(0, 3)}",
                "response": {"content": json_value(rng)},
            }
        }
    return {"text": text(rng, 1, 5), "thought": False}  # unknown keys are ignored


def gemini_record(rng: random.Random, *, prompt_only: bool = False) -> dict:
    record: dict = {}
    if rng.random() < 0.4:
        system: dict = {"parts": [{"text": some_text(rng)} for _ in range(rng.randint(1, 2))]}
        role = rng.choice(["system", "user", None])
        if role:
            system["role"] = role
        record[cased(rng, "systemInstruction", "system_instruction")] = system
    turns = 1 if prompt_only else rng.choice([2, 2, 2, 4, 6])
    contents = []
    for i in range(turns):
        role = "user" if i % 2 == 0 else "model"
        parts = [gemini_part(rng, role) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        contents.append({"role": role, "parts": parts})
    if prompt_only and rng.random() < 0.3:
        del contents[0]["role"]  # single-turn: role may be unset
    record["contents"] = contents
    if rng.random() < 0.2:
        record["tools"] = gemini_tools(rng)
    if rng.random() < 0.1:
        record["generationConfig"] = {"temperature": 0.2}
    return record


def _image(rng: random.Random) -> dict:
    return {"inlineData": {"mimeType": "image/png", "data": b64(rng)}}


def gemini_invalid(rng: random.Random) -> bytes:
    """A gemini line that SPEC §4 / CHOICES make invalid (in both tasks unless noted)."""
    ok = gemini_record(rng)
    d = rng.choice(["abc", "ab$=", "a-_b", "QUJD\n", "QUI", "QU=I", "====", " QUJD"])
    u = {"role": "user", "parts": [{"text": "hi"}]}
    m = {"role": "model", "parts": [{"text": "ho"}]}
    kinds: list[Callable[[], object]] = [
        lambda: {"contents": []},
        lambda: {"contents": None},
        lambda: {"contents": "hi"},
        lambda: {"systemInstruction": {"parts": [{"text": "s"}]}},
        lambda: {"contents": [u, {"role": "assistant", "parts": [{"text": "x"}]}]},
        lambda: {"contents": [{"role": "system", "parts": [{"text": "x"}]}, u, m]},
        lambda: {"contents": [u, u, m]},
        lambda: {"contents": [u, m, m]},
        lambda: {"contents": [{"parts": [{"text": "a"}]}, m]},
        lambda: {"contents": [u, {"role": "model"}]},
        lambda: {"contents": [u, {"role": "model", "parts": []}]},
        lambda: {"contents": [u, {"role": "model", "parts": [{}]}]},
        lambda: {"contents": [u, {"role": "model", "parts": [{"thought": True}]}]},
        lambda: {"contents": [u, {"role": "model", "parts": ["text"]}]},
        lambda: {
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"text": "a", "inlineData": {"mimeType": "image/png", "data": "AAAA"}}
                    ],
                },
                m,
            ]
        },
        lambda: {"contents": [{"role": "user", "parts": [{"text": 5}]}, m]},
        lambda: {"contents": [u, {"role": "model", "parts": [{"text": None}]}]},
        lambda: {"systemInstruction": {"parts": [_image(rng)]}, "contents": [u, m]},
        lambda: {"systemInstruction": {"parts": []}, "contents": [u, m]},
        lambda: {"contents": [{"role": "user", "parts": [_image(rng) for _ in range(31)]}, m]},
        lambda: {
            "contents": [
                {"role": "user", "parts": [_image(rng) for _ in range(16)]},
                {"role": "model", "parts": [_image(rng) for _ in range(15)]},
            ]
        },
        lambda: {
            "contents": [
                {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": d}}]},
                m,
            ]
        },
        lambda: {"contents": [{"role": "user", "parts": [{"inlineData": {"data": "AAAA"}}]}, m]},
        lambda: {
            "contents": [
                {"role": "user", "parts": [{"inlineData": {"mimeType": 3, "data": "AAAA"}}]},
                m,
            ]
        },
        lambda: {"contents": [{"role": "user", "parts": [{"inlineData": "AAAA"}]}, m]},
        lambda: {
            "contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "image/png"}}]}, m]
        },
        lambda: {
            "contents": [{"role": "user", "parts": [{"fileData": {"fileUri": "gs://b/o"}}]}, m]
        },
        lambda: {"contents": [u, {"role": "model", "parts": [{"functionCall": {"args": {}}}]}]},
        lambda: {"contents": [u, {"role": "model", "parts": [{"functionCall": "f()"}]}]},
        lambda: {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": 7}}]}, m]},
        lambda: {**ok, "tools": {"functionDeclarations": []}},
        lambda: {"messages": [{"role": "user", "content": "a"}, {"role": "model", "content": "b"}]},
        lambda: {"input_text": "a", "output_text": "b"},
        lambda: {"prompt": "a", "completion": "b"},
        lambda: [ok],
        lambda: "a string",
        lambda: 42,
        lambda: None,
    ]
    return dumps(rng, rng.choice(kinds)())


SUPERVISED_ONLY_INVALID_GEMINI = [
    {"contents": [{"role": "user", "parts": [{"text": "only a question"}]}]},
    {"contents": [{"parts": [{"text": "single turn, no role"}]}]},
]

# Lines that are not valid JSON (or not UTF-8) under CHOICES' strict reading.
BAD_JSON_LINES = [
    b'{"contents": [',
    b"{'contents': []}",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": -Infinity}',
    b"NaN",
    b'{"a": 1} x',
    b'{"a": 1}{"b": 2}',
    b'{"a": "\\ud800"}',
    b'{"a": "\\udc00x"}',
    b'{"\\ud83d": 1}',
    b'{"a": 18446744073709551616}',
    b'{"a": -9223372036854775809}',
    b'{"a": 123456789012345678901234567890}',
    b'{"a": 1e400}',
    b'{"a": 01}',
    b'{"a": .5}',
    b'{"a": +1}',
    b'{"a": 1,}',
    b'{"a": "tab\there"}',
    b'{"a": "x"\x0c}',
    b'{"a": True}',
    b"\xc2\xa0",
    b"\xe3\x80\x80",
    b'{"text": "\xff"}',
    b'{"text": "\xc3"}',
    b'{"text": "\xed\xa0\x80"}',
    b'{"text": "\xc0\xaf"}',
    b"\xef\xbb\xbf{}",
    b"\x0b",
    b"\x0c",
    b"//",
    b"undefined",
]

BLANK_LINES = [b"", b" ", b"\t", b"  \t ", b"\r"]


LineMaker = Callable[[random.Random], bytes]


def mixed_lines(
    rng: random.Random,
    n: int,
    bad: float,
    *,
    invalid: LineMaker,
    near_miss: LineMaker | None,
    valid: LineMaker,
    bad_json_until: float = 0.75,
) -> list[bytes]:
    """``n`` lines, about a share ``bad`` of them broken, the rest ``valid()`` records.

    A broken line is, by one draw (in shares of ``bad``): an ``invalid()`` record below 0.6,
    a line of :data:`BAD_JSON_LINES` below ``bad_json_until``, a ``near_miss()`` (valid but for
    one rule of the task) below 0.9, a blank line above. Without a near miss, blank lines take
    its share.
    """
    lines = []
    for _ in range(n):
        r = rng.random()
        if r < bad * 0.6:
            lines.append(invalid(rng))
        elif r < bad * bad_json_until:
            lines.append(rng.choice(BAD_JSON_LINES))
        elif r < bad * 0.9 and near_miss is not None:
            lines.append(near_miss(rng))
        elif r < bad:
            lines.append(rng.choice(BLANK_LINES))
        else:
            lines.append(valid(rng))
    return lines


def valid_records(record: Callable[..., dict], task: str, prompt_only_share: float) -> LineMaker:
    """Lines of ``record(rng, prompt_only=...)``; in distillation about ``prompt_only_share``
    of them prompt-only (which distillation allows)."""

    def valid(rng: random.Random) -> bytes:
        prompt_only = task == "distillation" and rng.random() < prompt_only_share
        return dumps(rng, record(rng, prompt_only=prompt_only))

    return valid


def gemini_near_miss(rng: random.Random) -> bytes:
    return dumps(rng, rng.choice(SUPERVISED_ONLY_INVALID_GEMINI))


def gemini_lines(
    rng: random.Random, n: int, *, task: str = "supervised", bad: float = 0.25
) -> list[bytes]:
    valid = valid_records(gemini_record, task, prompt_only_share=0.5)
    return mixed_lines(
        rng,
        n,
        bad,
        invalid=gemini_invalid,
        near_miss=gemini_near_miss,
        valid=valid,
        bad_json_until=0.8,
    )


# ---------------------------------------------------------------------------------------------
# gemini-messages


def gemini_messages_record(rng: random.Random) -> dict:
    messages = []
    if rng.random() < 0.4:
        messages.append({"role": "system", "content": some_text(rng)})
    for i in range(rng.choice([2, 2, 4])):
        messages.append({"role": "user" if i % 2 == 0 else "model", "content": some_text(rng)})
    return {"messages": messages}


def gemini_messages_invalid(rng: random.Random) -> bytes:
    u = {"role": "user", "content": "q"}
    m = {"role": "model", "content": "a"}
    s = {"role": "system", "content": "s"}
    kinds = [
        {"messages": []},
        {"messages": "hi"},
        {"messages": [u, s, m]},
        {"messages": [u, m, s]},
        {"messages": [u, u, m]},
        {"messages": [s, u, m, m]},
        {"messages": [u, {"role": "assistant", "content": "a"}]},
        {"messages": [u, {"role": "model", "content": None}]},
        {"messages": [u, {"role": "model", "content": ["a"]}]},
        {"messages": [u, {"role": "model"}]},
        {"messages": [u, "model: a"]},
        {"contents": [{"role": "user", "parts": [{"text": "a"}]}]},
        {"input_text": "a", "output_text": "b"},
        ["messages"],
    ]
    return dumps(rng, rng.choice(kinds))


def gemini_messages_lines(rng: random.Random, n: int, *, bad: float = 0.25) -> list[bytes]:
    return mixed_lines(
        rng,
        n,
        bad,
        invalid=gemini_messages_invalid,
        near_miss=lambda rng: dumps(rng, {"messages": [{"role": "user", "content": "no answer"}]}),
        valid=lambda rng: dumps(rng, gemini_messages_record(rng)),
    )


# ---------------------------------------------------------------------------------------------
# openai-chat


def openai_tool_calls(rng: random.Random) -> list:
    return [
        {
            "id": f"call_{rng.randint(0, 999)}",
            "type": "function",
            "function": {
                "name": f"fn_{rng.randint(0, 3)}",
                "arguments": json.dumps(json_value(rng)),
            },
        }
        for _ in range(rng.randint(1, 2))
    ]


def openai_record(rng: random.Random, *, prompt_only: bool = False) -> dict:
    messages: list = []
    if rng.random() < 0.5:
        messages.append({"role": "system", "content": some_text(rng)})
    for _ in range(1 if prompt_only else rng.choice([1, 1, 2, 3])):
        if rng.random() < 0.1 and messages:
            messages.append({"role": "system", "content": text(rng, 1, 6)})  # not leading
        messages.append({"role": "user", "content": some_text(rng)})
        if rng.random() < 0.1:
            messages.append({"role": "user", "content": text(rng, 1, 6)})  # consecutive: allowed
        if prompt_only:
            break
        if rng.random() < 0.3:
            call: dict = {"role": "assistant", "tool_calls": openai_tool_calls(rng)}
            c = rng.random()
            if c < 0.4:
                call["content"] = None
            elif c < 0.6:
                call["content"] = text(rng, 1, 5)
            messages.append(call)
            messages.append({"role": "tool", "tool_call_id": "call_1", "content": some_text(rng)})
        msg = {"role": "assistant", "content": some_text(rng)}
        if rng.random() < 0.1:
            msg["weight"] = rng.choice([0, 1])
        if rng.random() < 0.05:
            msg["name"] = "bot"
        messages.append(msg)
    record: dict = {"messages": messages}
    if rng.random() < 0.2:
        record["tools"] = [
            {
                "type": "function",
                "function": {"name": "fn_0", "description": text(rng, 1, 6), "parameters": {}},
            }
        ]
        record["parallel_tool_calls"] = False
    return record


def openai_invalid(rng: random.Random) -> bytes:
    u = {"role": "user", "content": "q"}
    a = {"role": "assistant", "content": "a"}
    kinds = [
        {"messages": []},
        {"messages": {"role": "user"}},
        {"messages": [u, {"role": "model", "content": "a"}]},
        {"messages": [u, {"role": "function", "content": "a", "name": "f"}]},
        {"messages": [u, {"content": "a"}]},
        {"messages": [{"role": "user", "content": None}, a]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}, a]},
        {"messages": [u, {"role": "assistant", "content": None}]},
        {"messages": [u, {"role": "assistant"}]},
        {"messages": [u, {"role": "assistant", "content": 5, "tool_calls": []}]},
        {"messages": [u, {"role": "assistant", "content": None, "tool_calls": {"id": 1}}]},
        {"messages": [u, {"role": "tool", "content": None}, a]},
        {"messages": [u, a], "tools": {"type": "function"}},
        {"messages": [u, a, 7]},
        {"contents": [{"role": "user", "parts": [{"text": "a"}]}]},
        {"prompt": "a", "completion": "b"},
        7,
    ]
    return dumps(rng, rng.choice(kinds))


def openai_near_miss(rng: random.Random) -> bytes:
    return dumps(rng, openai_record(rng, prompt_only=True))  # no assistant message


def openai_lines(
    rng: random.Random, n: int, *, task: str = "supervised", bad: float = 0.25
) -> list[bytes]:
    valid = valid_records(openai_record, task, prompt_only_share=0.4)
    return mixed_lines(rng, n, bad, invalid=openai_invalid, near_miss=openai_near_miss, valid=valid)


# ---------------------------------------------------------------------------------------------
# palm and prompt-completion


def pair_lines(
    rng: random.Random,
    n: int,
    in_key: str,
    out_key: str,
    *,
    task: str = "supervised",
    bad: float = 0.25,
) -> list[bytes]:
    other = ("prompt", "completion") if in_key == "input_text" else ("input_text", "output_text")
    kinds = [
        {in_key: 5, out_key: "b"},
        {in_key: "a", out_key: 7},
        {in_key: ["a"], out_key: "b"},
        {out_key: "b"},
        {other[0]: "a", other[1]: "b"},
        {"contents": [{"role": "user", "parts": [{"text": "a"}]}]},
        {"messages": [{"role": "user", "content": "a"}]},
        [in_key, out_key],
    ]

    def valid(rng: random.Random) -> bytes:
        record = {in_key: some_text(rng), out_key: some_text(rng)}
        if rng.random() < 0.1:
            record["extra"] = {"ignored": True}
        return dumps(rng, record)

    def no_output(rng: random.Random) -> bytes:  # invalid in supervised tuning only
        return dumps(rng, {in_key: some_text(rng)})

    return mixed_lines(
        rng,
        n,
        bad,
        invalid=lambda rng: dumps(rng, rng.choice(kinds)),
        near_miss=no_output if task == "supervised" else None,
        valid=valid,
    )


# ---------------------------------------------------------------------------------------------
# Writing


def write_lines(
    path: Path,
    lines: list[bytes],
    *,
    crlf: bool = False,
    final_newline: bool = True,
    bom: bool = False,
) -> Path:
    eol = b"\r\n" if crlf else b"\n"
    data = eol.join(lines)
    if final_newline and lines:
        data += eol
    if bom:
        data = b"\xef\xbb\xbf" + data
    compressors = {
        ".gz": lambda d: gzip.compress(d, mtime=0),
        ".bz2": bz2.compress,
        ".xz": lzma.compress,
    }
    suffix = path.suffix
    if suffix in compressors:
        data = compressors[suffix](data)
    elif suffix == ".zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


@dataclass
class Case:
    name: str
    path: Path
    task: str = "supervised"
    fmt: str | None = None
    limit: int | None = None  # None: the default profile's limit (131,072)
    epochs: int | None = None
    batch_size: int | None = None

    @property
    def id(self) -> str:
        return self.name


def lines_for(fmt: str, rng: random.Random, n: int, task: str, bad: float) -> list[bytes]:
    if fmt == "gemini":
        return gemini_lines(rng, n, task=task, bad=bad)
    if fmt == "gemini-messages":
        return gemini_messages_lines(rng, n, bad=bad)
    if fmt == "openai-chat":
        return openai_lines(rng, n, task=task, bad=bad)
    if fmt == "palm":
        return pair_lines(rng, n, "input_text", "output_text", task=task, bad=bad)
    if fmt == "prompt-completion":
        return pair_lines(rng, n, "prompt", "completion", task=task, bad=bad)
    raise ValueError(fmt)


FIRST_RECORD = {
    # A deciding, valid first record, so that detection does not depend on the random mix.
    "gemini": b'{"contents": [{"role": "user", "parts": [{"text": "Hi"}]}, '
    b'{"role": "model", "parts": [{"text": "Hello!"}]}]}',
    "gemini-messages": b'{"messages": [{"role": "user", "content": "Hi"}, '
    b'{"role": "model", "content": "Hello!"}]}',
    "openai-chat": b'{"messages": [{"role": "user", "content": "Hi"}, '
    b'{"role": "assistant", "content": "Hello!"}]}',
    "palm": b'{"input_text": "Hi", "output_text": "Hello!"}',
    "prompt-completion": b'{"prompt": "Hi", "completion": "Hello!"}',
}

FORMAT_NAMES = ["gemini", "gemini-messages", "openai-chat", "palm", "prompt-completion"]


def random_cases(directory: Path, seeds: range, *, n: int = 40) -> list[Case]:
    """Mixed valid/invalid datasets: every format, both tasks, varied endings and limits."""
    cases = []
    for seed in seeds:
        rng = random.Random(seed)
        fmt = FORMAT_NAMES[seed % len(FORMAT_NAMES)]
        task = "distillation" if seed % 3 == 2 else "supervised"
        bad = rng.choice([0.0, 0.15, 0.3, 0.6])
        lines = [FIRST_RECORD[fmt]] + lines_for(fmt, rng, rng.randint(1, n), task, bad)
        limit = rng.choice([None, None, 1500, 700, 300])
        epochs = rng.choice([None, 1, 3])
        batch_size = rng.choice([None, 1, 4, 7])
        pass_fmt = fmt if rng.random() < 0.3 else None
        suffix = rng.choice([".jsonl"] * 6 + [".jsonl.gz", ".jsonl.bz2", ".jsonl.xz", ".jsonl.zst"])
        name = f"rand{seed:03d}-{fmt}-{task[:4]}"
        path = write_lines(
            directory / f"{name}{suffix}",
            lines,
            crlf=rng.random() < 0.2,
            final_newline=rng.random() < 0.8,
            bom=rng.random() < 0.1,
        )
        cases.append(Case(name, path, task, pass_fmt, limit, epochs, batch_size))
    return cases


def _record(rng: random.Random, fmt: str) -> bytes:
    if fmt == "gemini":
        return dumps(rng, gemini_record(rng))
    if fmt == "gemini-messages":
        return dumps(rng, gemini_messages_record(rng))
    if fmt == "openai-chat":
        return dumps(rng, openai_record(rng))
    key = ("input_text", "output_text") if fmt == "palm" else ("prompt", "completion")
    return dumps(rng, {key[0]: some_text(rng), key[1]: some_text(rng)})


def special_cases(directory: Path) -> list[Case]:
    """Hand-made datasets for single rules (detection, reading, limits, sampling)."""
    rng = random.Random(12345)
    cases: list[Case] = []

    def add(name: str, lines: list[bytes], **kw) -> None:
        write_opts = {k: kw.pop(k) for k in ("crlf", "final_newline", "bom") if k in kw}
        suffix = kw.pop("suffix", ".jsonl")
        path = write_lines(directory / f"{name}{suffix}", lines, **write_opts)
        cases.append(Case(name, path, **kw))

    ok_gemini = FIRST_RECORD["gemini"]
    # Reading
    add("crlf-no-final-newline", [ok_gemini, b"", b"  ", ok_gemini], crlf=True, final_newline=False)
    add("bom-first-line", [ok_gemini, ok_gemini], bom=True)
    add("blank-lines-everywhere", [b"", b"\t", ok_gemini, b"\r", b" ", ok_gemini, b""])
    add("bad-json-every-kind", [ok_gemini, *BAD_JSON_LINES, ok_gemini])
    add(
        "nbsp-and-ideographic-space-lines", [ok_gemini, b"\xc2\xa0", b"\xe3\x80\x80", b" \xc2\xa0 "]
    )
    # Detection
    undecided = b'{"messages": [{"role": "user", "content": "q"}]}'
    add(
        "detect-openai-after-undecided",
        [b"[1]", b"oops", undecided, b"", FIRST_RECORD["openai-chat"], FIRST_RECORD["openai-chat"]],
    )
    add("detect-undecided-messages-fallback-openai", [undecided, undecided])
    add(
        "detect-undecided-messages-fallback-openai-distill",
        [undecided, undecided],
        task="distillation",
    )
    add("detect-nothing-decides-gemini", [b"{}", b'{"x": 1}', FIRST_RECORD["gemini"]])
    add("detect-palm-later", [b"{}", b'{"x": 1}', FIRST_RECORD["palm"], FIRST_RECORD["gemini"]])
    add(
        "detect-window-1000",
        [b"[]"] * 600 + [b""] * 50 + [b"{}"] * 400 + [FIRST_RECORD["palm"]] * 3,
    )
    add("detect-window-999", [b"[]"] * 999 + [b""] * 50 + [FIRST_RECORD["palm"]] * 3)
    add(
        "detect-mixed-formats",
        [FIRST_RECORD[f] for f in FORMAT_NAMES] + [FIRST_RECORD[f] for f in reversed(FORMAT_NAMES)],
    )
    add(
        "gemini-messages-model-wins", [FIRST_RECORD["gemini-messages"], FIRST_RECORD["openai-chat"]]
    )
    for f in FORMAT_NAMES:
        for g in FORMAT_NAMES:
            if f != g and rng.random() < 0.4:
                add(f"override-{f}-as-{g}", [FIRST_RECORD[f], _record(rng, f)], fmt=g)
    # Drops: more than 1,000, only the first 1,000 listed
    many = [b"[]" if i % 3 else b'{"contents": []}' for i in range(1203)]
    add("more-than-1000-dropped", [ok_gemini, *many, ok_gemini])
    add("more-than-1000-dropped-distill", [ok_gemini, *many, ok_gemini], task="distillation")
    add("all-dropped", [b"[]", b'{"contents": []}', b"x"])
    add("all-dropped-distill", [b"[]", b'{"contents": []}', b"x"], task="distillation")
    # Images: 30 is fine, 31 is not; 258 tokens each, in any turn
    img = {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    fimg = {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://b/c.jpg"}}
    pdf = {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/c.pdf"}}
    thirty = {
        "contents": [
            {"role": "user", "parts": [img] * 20 + [{"text": "what?"}] + [fimg] * 5},
            {"role": "model", "parts": [{"text": "cats"}, img, pdf] + [fimg] * 4},
        ]
    }
    thirty_one = {
        "contents": [
            {"role": "user", "parts": [img] * 20 + [{"text": "what?"}] + [fimg] * 5},
            {"role": "model", "parts": [{"text": "cats"}, img, pdf] + [fimg] * 5},
        ]
    }
    add("images-30-and-31", [json.dumps(thirty).encode(), json.dumps(thirty_one).encode()])
    add(
        "images-30-and-31-distill",
        [json.dumps(thirty).encode(), json.dumps(thirty_one).encode()],
        task="distillation",
    )
    add("images-too-long", [json.dumps(thirty).encode(), ok_gemini], limit=30 * 258)
    # Limit boundaries: examples of exactly the limit are kept, one above is dropped
    exact = (
        b'{"contents": [{"role": "user", "parts": [{"text": "a b c d"}]}, '
        b'{"role": "model", "parts": [{"text": "e f"}]}]}'
    )
    for lim in (5, 6, 7):
        add(f"limit-boundary-{lim}", [exact, ok_gemini, exact], limit=lim)
    # Base64 edge cases (padding required, standard alphabet)
    for i, data in enumerate(
        ["", "AA==", "AAA=", "AAAA", "AB==", "A===", "AA=", "+/+/", "-_-_", "AA==AA=="]
    ):
        rec = {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": data}}],
                },
                {"role": "model", "parts": [{"text": "ok"}]},
            ]
        }
        add(f"base64-{i}", [ok_gemini, json.dumps(rec).encode()])
    # Sampling: long texts and many media parts, first 3 kept only
    long_first = {
        "contents": [
            {"role": "user", "parts": [img, {"text": "x" * 395}, fimg, {"text": "yy"}]},
            {"role": "model", "parts": [{"text": "é" * 400}]},
        ]
    }
    exactly = {
        "contents": [
            {"role": "user", "parts": [{"text": "a" * 392}, img]},
            {"role": "model", "parts": [{"text": "\U0001f600" * 401}]},
        ]
    }
    add(
        "sample-cut",
        [
            b"[]",
            json.dumps(long_first).encode(),
            json.dumps(exactly).encode(),
            ok_gemini,
            ok_gemini,
        ],
    )
    # Function calls with JSON whose serialization differs between libraries
    fc = {
        "contents": [
            {"role": "user", "parts": [{"text": "call"}]},
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {
                            "name": "f",
                            "args": {"small": 1e-07, "big": 1e16, "z": 1e22},
                        }
                    }
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "f", "response": {"v": [1.0, -0.0, 2**64 - 1]}}}
                ],
            },
            {"role": "model", "parts": [{"text": "done"}]},
        ]
    }
    add("function-call-floats", [json.dumps(fc).encode()])
    add(
        "function-call-raw-text",
        [
            b'{"contents": [{"role": "user", "parts": [{"text": "q"}]}, {"role": "model", "parts": '
            b'[{"functionCall": {"args": {"b": 1E5, "a": 1.50, "c": "\\u00e9\\u0000"}, '
            b'"name": "f"}}]}]}'
        ],
    )
    # Literal SPEC reading: a functionCall in a user turn is input; a functionResponse in a model
    # turn is input too.
    odd = {
        "contents": [
            {"role": "user", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {
                "role": "model",
                "parts": [{"functionResponse": {"name": "f", "response": {}}}, {"text": "t"}],
            },
        ]
    }
    add("function-parts-odd-turns", [ok_gemini, json.dumps(odd).encode()])
    # Tools: empty list still counts its compact JSON
    add(
        "gemini-tools-empty-list",
        [json.dumps({"contents": json.loads(ok_gemini)["contents"], "tools": []}).encode()],
    )
    # Empty texts
    empty = {
        "contents": [
            {"role": "user", "parts": [{"text": ""}]},
            {"role": "model", "parts": [{"text": ""}]},
        ]
    }
    add("empty-texts-only", [json.dumps(empty).encode()])
    add("empty-texts-second", [ok_gemini, json.dumps(empty).encode()])
    # Duplicate keys: the last one wins
    add(
        "duplicate-keys",
        [
            b'{"contents": [], "contents": [{"role": "user", "parts": [{"text": "a"}]}, '
            b'{"role": "model", "parts": [{"text": "b"}]}]}',
            b'{"contents": [{"role": "user", "parts": [{"text": "a"}]}, '
            b'{"role": "model", "parts": [{"text": "b"}]}], "contents": []}',
        ],
    )
    # Step count
    for kept, epochs, batch in ((5, 3, 2), (5, 1, 5), (5, 2, 8)):
        add(f"steps-{kept}-{epochs}-{batch}", [ok_gemini] * kept, epochs=epochs, batch_size=batch)
    add("steps-zero-kept", [b"[]", ok_gemini.replace(b"model", b"user")], epochs=3, batch_size=2)
    # Distributions: one value, two values, wide ranges
    for k in (1, 2, 3, 6, 7, 13):
        lines = []
        for i in range(k):
            words = " ".join(["w"] * (1 + i * i))
            lines.append(json.dumps({"input_text": words, "output_text": "ok " * (k - i)}).encode())
        add(f"distribution-{k}", lines)
    # Probes of points SPEC/CHOICES leave open (see the report; the oracle's reading is noted)
    oa = FIRST_RECORD["openai-chat"]
    gm = FIRST_RECORD["gemini-messages"]
    ok_contents = json.loads(ok_gemini)["contents"]
    probes = {
        # another format's key beside the file format's own key: ignored (oracle keeps it)
        "probe-gemini-with-messages-key": (
            [ok_gemini, json.dumps({"contents": ok_contents, "messages": []}).encode()],
            {},
        ),
        "probe-palm-with-prompt-key": (
            [FIRST_RECORD["palm"], b'{"input_text": "a", "output_text": "b", "prompt": "x"}'],
            {},
        ),
        # a leading system message alone, in distillation (oracle: kept, 0 messages)
        "probe-openai-system-only-distill": (
            [oa, b'{"messages": [{"role": "system", "content": "s"}]}'],
            {"task": "distillation"},
        ),
        "probe-gemini-messages-system-only-distill": (
            [gm, b'{"messages": [{"role": "system", "content": "s"}]}'],
            {"task": "distillation"},
        ),
        # null where a list or object is optional (oracle: invalid, null is not a list/object)
        "probe-tools-null": ([ok_gemini, ok_gemini[:-1] + b', "tools": null}'], {}),
        "probe-system-instruction-null": (
            [ok_gemini, ok_gemini[:-1] + b', "systemInstruction": null}'],
            {},
        ),
        # assistant with an empty tool_calls list and null content (oracle: kept)
        "probe-openai-empty-tool-calls": (
            [
                oa,
                b'{"messages": [{"role": "user", "content": "q"}, '
                b'{"role": "assistant", "content": null, "tool_calls": []}]}',
            ],
            {},
        ),
        # tool_calls on a user message: a key no rule names for that role (oracle: ignored)
        "probe-openai-tool-calls-on-user": (
            [
                oa,
                b'{"messages": [{"role": "user", "content": "q", "tool_calls": [{"id": "1"}]}, '
                b'{"role": "assistant", "content": "a"}]}',
            ],
            {},
        ),
        # a CR before CRLF: only one CR is removed, the other is JSON whitespace
        "probe-double-cr": ([ok_gemini + b"\r", b"\r", ok_gemini], {"crlf": True}),
        # systemInstruction with a role the file would not allow in contents (not checked)
        "probe-system-instruction-role-model": (
            [
                json.dumps(
                    {
                        "systemInstruction": {"role": "model", "parts": [{"text": "s"}]},
                        "contents": ok_contents,
                    }
                ).encode()
            ],
            {},
        ),
        # MIME type case: "IMAGE/PNG" does not start with "image/" (oracle: not an image)
        "probe-mime-upper-case": (
            [
                json.dumps(
                    {
                        "contents": [
                            {
                                "role": "user",
                                "parts": [
                                    {"inlineData": {"mimeType": "IMAGE/PNG", "data": "AAAA"}}
                                ],
                            },
                            {"role": "model", "parts": [{"text": "ok"}]},
                        ]
                    }
                ).encode()
            ],
            {},
        ),
    }
    # Detection: a messages list with both "model" and "assistant" (oracle: "model" decides)
    both = (
        b'{"messages": [{"role": "user", "content": "q"}, {"role": "model", "content": "a"}, '
        b'{"role": "assistant", "content": "b"}]}'
    )
    probes["probe-detect-model-and-assistant"] = ([both, gm, oa], {})
    # Detection: an undecided messages record that also has input_text (oracle: palm decides)
    probes["probe-detect-undecided-messages-with-input-text"] = (
        [
            b'{"messages": [{"role": "user", "content": "q"}], '
            b'"input_text": "a", "output_text": "b"}',
            FIRST_RECORD["palm"],
        ],
        {},
    )
    # Prompt-only pairs in distillation (output field missing or null)
    for f, (i, o) in (
        ("palm", ("input_text", "output_text")),
        ("prompt-completion", ("prompt", "completion")),
    ):
        first = FIRST_RECORD[f]
        probes[f"probe-{f}-prompt-only-distill"] = (
            [first, json.dumps({i: "only a prompt"}).encode(), first],
            {"task": "distillation"},
        )
        probes[f"probe-{f}-null-output-distill"] = (
            [first, json.dumps({i: "a", o: None}).encode(), first],
            {"task": "distillation"},
        )
    # Base64 with padding beyond a whole quantum ("QUJD=" is 5 characters)
    for i, data in enumerate(["QUJD=", "QUJD==", "QUI==="]):
        rec = {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": data}}],
                },
                {"role": "model", "parts": [{"text": "ok"}]},
            ]
        }
        probes[f"probe-base64-excess-padding-{i}"] = ([ok_gemini, json.dumps(rec).encode()], {})
    # A NUL byte inside a line drops that line only, wherever it is (CHOICES.md)
    probes["probe-nul-in-lines"] = (
        [b"\x00", ok_gemini, ok_gemini[:-1] + b"\x00}", b"\x00\x00"],
        {},
    )
    for name, (lines, kw) in probes.items():
        add(name, lines, **kw)
    return cases


# Whole-source errors: (name, raw bytes of the file)
SOURCE_ERRORS = [
    ("empty-file", b""),
    ("only-blank-lines", b"\n \n\t\r\n\n"),
    ("no-valid-json", b"not json\n{bad\n\xff\xfe\n"),
    ("utf16-le-bom", b"\xff\xfe{\x00}\x00\n\x00"),
    ("utf16-be-bom", b"\xfe\xff\x00{\x00}\x00\n"),
    ("utf32-le-bom", b"\xff\xfe\x00\x00{\x00\x00\x00"),
    # CHOICES.md: a file that is something else than text, by its first bytes
    ("gzip-bytes", b"\x1f\x8b\x08\x00" + bytes(20)),
    ("zstd-bytes", b"\x28\xb5\x2f\xfd" + bytes(20)),
    ("xz-bytes", b"\xfd7zXZ\x00" + bytes(20)),
    ("bzip2-bytes", b"BZh91AY&SY" + bytes(20)),
    ("zip-bytes", b"PK\x03\x04" + bytes(20)),
    ("parquet-bytes", b"PAR1" + bytes(20) + b"PAR1"),
]


def source_error_cases(directory: Path) -> list[Case]:
    cases = []
    for name, data in SOURCE_ERRORS:
        path = directory / f"{name}.jsonl"
        path.write_bytes(data)
        cases.append(Case(name, path))
    bad_gz = directory / "not-really.jsonl.gz"
    bad_gz.write_bytes(b'{"contents": []}\n')
    cases.append(Case("not-really-gzip", bad_gz))
    cases.append(Case("missing-file", directory / "does-not-exist.jsonl"))
    return cases
