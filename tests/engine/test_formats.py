"""SPEC §1, §2, §4, §5: per-example quantities, validation and samples, checked by hand."""

from __future__ import annotations

import base64
import json

import pytest

import tunestats

TINY_PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def billable(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


def supervised(stats) -> dict:
    return stats.to_dict()["supervisedTuningDataStats"]


def chat(*messages: tuple[str, str]) -> dict:
    """A messages record (gemini-messages, openai-chat) of plain (role, content) messages."""
    return {"messages": [{"role": role, "content": content} for role, content in messages]}


def only_example(doc: dict) -> tuple[int, int, int]:
    """(input sum, output sum, messages sum) of a one-example dataset."""
    return (
        int(doc["userInputTokenDistribution"]["sum"]),
        int(doc.get("userOutputTokenDistribution", {}).get("sum", 0)),
        int(doc["userMessagePerExampleDistribution"]["sum"]),
    )


def test_gemini_quantities(jsonl, cl100k):
    tools = [{"functionDeclarations": [{"name": "f", "description": "does f"}]}]
    call = {"name": "f", "args": {"x": 1, "ü": "é"}}
    response = {"name": "f", "response": {"ok": True}}
    record = {
        "systemInstruction": {"parts": [{"text": "Be brief.\n"}]},
        "tools": tools,
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"inlineData": {"mimeType": "image/png", "data": TINY_PNG}},
                    {"text": "Hi  there"},
                ],
            },
            {"role": "model", "parts": [{"text": "Calling."}, {"functionCall": call}]},
            {"role": "user", "parts": [{"functionResponse": response}]},
            {"role": "model", "parts": [{"text": "Done\tnow"}]},
        ],
    }
    doc = supervised(tunestats.compute(str(jsonl([record])), tokenizer="cl100k_base"))
    # SPEC §2 [G]: a declaration counts its name and description; a call its name, keys and
    # string values (not the number 1); a response its name and keys (not the boolean).
    tool_texts = ["f", "does f"]
    call_texts = ["f", "x", "ü", "é"]
    response_texts = ["f", "ok"]
    expected_in = (
        cl100k("Be brief.\n")
        + sum(map(cl100k, tool_texts))
        + cl100k("Hi  there")
        + sum(map(cl100k, response_texts))
    ) + 258
    expected_out = cl100k("Calling.") + sum(map(cl100k, call_texts)) + cl100k("Done\tnow")
    assert only_example(doc) == (expected_in, expected_out, 4)
    texts = ["Be brief.\n", "Hi  there", "Calling.", "Done\tnow"]
    assert doc["totalTuningCharacterCount"] == str(sum(map(len, texts)))
    assert doc["totalBillableCharacterCount"] == str(sum(map(billable, texts)))
    assert doc["totalBillableTokenCount"] == str(expected_in + expected_out)
    assert doc["userInputTokenDistribution"]["billableSum"] == str(expected_in)


def test_billable_characters_hello_world(jsonl):
    # SPEC §2 [D]: "hello world" counts 10 billable characters.
    path = jsonl([{"input_text": "hello world", "output_text": ""}])
    doc = supervised(tunestats.compute(str(path), tokenizer="cl100k_base"))
    assert doc["totalTuningCharacterCount"] == "11"
    assert doc["totalBillableCharacterCount"] == "10"


def test_unicode_whitespace_is_not_billable(jsonl):
    text = "a\u3000b\u00a0c\u2003d\u200be"  # ideographic, no-break, em space; ZWSP is not space
    path = jsonl([{"prompt": text, "completion": "x"}])
    doc = supervised(tunestats.compute(str(path), tokenizer="cl100k_base"))
    assert doc["totalTuningCharacterCount"] == str(len(text) + 1)
    assert doc["totalBillableCharacterCount"] == str(billable(text) + 1) == "7"


def test_gemini_messages_quantities(jsonl, cl100k):
    record = chat(
        ("system", "sys"), ("user", "q1"), ("model", "a1"), ("user", "q2"), ("model", "a2")
    )
    doc = supervised(tunestats.compute(str(jsonl([record])), tokenizer="cl100k_base"))
    assert only_example(doc) == (
        cl100k("sys") + cl100k("q1") + cl100k("q2"),
        cl100k("a1") + cl100k("a2"),
        4,
    )


def test_openai_chat_quantities(jsonl, cl100k):
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    record = {
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
            {"role": "assistant", "content": "It is 42."},
        ],
        "tools": tools,
        "parallel_tool_calls": False,
    }
    doc = supervised(tunestats.compute(str(jsonl([record])), tokenizer="cl100k_base"))
    assert only_example(doc) == (
        cl100k("sys") + cl100k("q") + cl100k("42") + cl100k(dumps(tools)),
        cl100k(dumps(calls)) + cl100k("It is 42."),
        4,
    )
    samples = doc["userDatasetExamples"]
    assert [c["role"] for c in samples] == ["user", "model", "user", "model"]
    assert samples[1]["parts"][0]["text"] == dumps(calls)


@pytest.mark.parametrize(
    ("record", "fmt"),
    [
        ({"input_text": "in put", "output_text": "out"}, "palm"),
        ({"prompt": "in put", "completion": "out"}, "prompt-completion"),
    ],
)
def test_pair_formats(jsonl, cl100k, record, fmt):
    stats = tunestats.compute(str(jsonl([record])), tokenizer="cl100k_base")
    assert stats.training.format == fmt
    doc = supervised(stats)
    assert only_example(doc) == (cl100k("in put"), cl100k("out"), 2)
    assert doc["totalTuningCharacterCount"] == "9"


def test_distillation_counts_everything_as_input(jsonl, cl100k):
    rows = [
        {"contents": [{"role": "user", "parts": [{"text": "prompt one"}]}]},
        {"contents": [{"parts": [{"text": "no role, single turn"}]}]},
        {
            "contents": [
                {"role": "user", "parts": [{"text": "a"}]},
                {"role": "model", "parts": [{"text": "b"}]},
                {"role": "user", "parts": [{"text": "c"}]},
            ]
        },
        "not json",
    ]
    stats = tunestats.compute(str(jsonl(rows)), tokenizer="cl100k_base", task="distillation")
    doc = stats.to_dict()["distillationDataStats"]["trainingDatasetStats"]
    assert "userOutputTokenDistribution" not in doc
    inputs = doc["userInputTokenDistribution"]
    assert inputs["sum"] == float(
        cl100k("prompt one")
        + cl100k("no role, single turn")
        + cl100k("a")
        + cl100k("b")
        + cl100k("c")
    )
    assert doc["droppedExampleIndices"] == ["4"]
    assert len(doc["droppedExampleReasons"]) == 1
    assert all(isinstance(b["count"], str) for b in inputs["buckets"])
    assert "totalTruncatedExampleCount" not in doc


BAD_BYTE = b"\xe9"
BAD_UTF8 = b'{"contents": [{"role": "user", "parts": [{"text": "caf\xe9"}]}]}'
INVALID = [
    (b"{not json", "not valid JSON"),
    (BAD_UTF8, f"not valid UTF-8 (byte offset {BAD_UTF8.index(BAD_BYTE)})"),
    ("[1, 2]", "an array; expected a JSON object"),
    ('"text"', "a string; expected a JSON object"),
    ({"contents": []}, "contents is empty"),
    # null is the same as missing; the reason names the key (issue 10: not "(keys: contents)")
    ({"contents": None}, "contents is null; expected an array of Content"),
    ({"contents": {}}, "contents is an object; expected an array"),
    # roles that decide nothing: either messages format (issue 10: not "gemini-messages")
    (
        {"messages": [{"role": "user", "content": "x"}]},
        '"messages": a gemini-messages or openai-chat record',
    ),
    # an openai-chat record is named as one (issue 10)
    (
        {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
        'record has "messages": an openai-chat record, but the file is gemini',
    ),
    ({"request": {"contents": []}}, 'expected "contents"'),
    ({"contents": ["x"]}, "contents[0] is a string"),
    (
        {
            "contents": [
                {"role": "user", "parts": [{"text": "a"}]},
                {"role": "assistant", "parts": []},
            ]
        },
        'contents[1].role is "assistant"; expected "user" or "model"',
    ),
    (
        {"contents": [{"role": "user"}, {"role": "model", "parts": [{"text": "b"}]}]},
        "contents[0].parts is missing",
    ),
    ({"contents": [{"role": "user", "parts": []}]}, "contents[0].parts is empty"),
    ({"contents": [{"role": "user", "parts": [{}]}]}, "contents[0].parts[0] has none of"),
    (
        {"contents": [{"role": "user", "parts": [{"text": "a", "functionCall": {"name": "f"}}]}]},
        "contents[0].parts[0] has several kinds",
    ),
    (
        {"contents": [{"role": "user", "parts": [{"text": 5}]}]},
        "contents[0].parts[0].text is a number",
    ),
    (
        {
            "systemInstruction": {
                "parts": [{"inlineData": {"mimeType": "image/png", "data": TINY_PNG}}]
            },
            "contents": [
                {"role": "user", "parts": [{"text": "a"}]},
                {"role": "model", "parts": [{"text": "b"}]},
            ],
        },
        "systemInstruction.parts[0] is a inlineData part",
    ),
    (
        {
            "contents": [
                {"role": "user", "parts": [{"text": "a"}]},
                {"role": "user", "parts": [{"text": "b"}]},
            ]
        },
        'contents[1].role is "user" like the turn before',
    ),
    ({"contents": [{"role": "user", "parts": [{"text": "a"}]}]}, 'contents has no "model" turn'),
    (
        {"contents": [{"parts": [{"text": "a"}]}, {"role": "model", "parts": [{"text": "b"}]}]},
        "contents[0].role is missing",
    ),
    (
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://b/i.jpg"}}]
                    * 31,
                },
                {"role": "model", "parts": [{"text": "b"}]},
            ]
        },
        "record has 31 images; at most 30",
    ),
    (
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": "not base64!"}}],
                },
                {"role": "model", "parts": [{"text": "b"}]},
            ]
        },
        "contents[0].parts[0].inlineData.data is not valid base64",
    ),
    (
        {
            "contents": [
                {"role": "user", "parts": [{"fileData": {"mimeType": "image/png"}}]},
                {"role": "model", "parts": [{"text": "b"}]},
            ]
        },
        "contents[0].parts[0].fileData.fileUri is missing",
    ),
    (
        {
            "contents": [
                {"role": "user", "parts": [{"fileData": {"fileUri": "gs://b/x"}}]},
                {"role": "model", "parts": [{"text": "b"}]},
            ]
        },
        "contents[0].parts[0].fileData.mimeType is missing",
    ),
]


@pytest.mark.parametrize(("row", "fragment"), INVALID)
def test_invalid_examples_are_dropped_with_reason(jsonl, row, fragment):
    good = {
        "contents": [
            {"role": "user", "parts": [{"text": "q"}]},
            {"role": "model", "parts": [{"text": "a"}]},
        ]
    }
    path = jsonl([good, "", row, good])
    stats = tunestats.compute(str(path), tokenizer="cl100k_base", format="gemini")
    doc = supervised(stats)
    assert doc["tuningDatasetExampleCount"] == "2"
    assert doc["totalTruncatedExampleCount"] == "1"
    assert doc["truncatedExampleIndices"] == ["3"]
    (reason,) = doc["droppedExampleReasons"]
    assert reason.startswith("line 3: ")
    assert fragment in reason
    assert (stats.training.kept, stats.training.dropped, stats.training.blank) == (2, 1, 1)


MESSAGES_INVALID = [
    ({"messages": []}, "messages is empty"),
    (
        {"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "s"}]},
        "only the first",
    ),
    (
        {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
        "like the message",
    ),
    (
        {"messages": [{"role": "user", "content": ["a"]}, {"role": "model", "content": "b"}]},
        "is an array",
    ),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}, '"bot"'),
    (
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "a"}]},
        'no "model"',
    ),
    (
        {"messages": [{"content": "a"}, {"role": "model", "content": "b"}]},
        "messages[0].role is missing",
    ),
]


OPENAI_INVALID = [
    (
        {"messages": [{"role": "user", "content": "a"}, {"role": "model", "content": "b"}]},
        '"model"',
    ),
    (
        {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
        'no "assistant"',
    ),
    (
        {"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "b"}]},
        "content is missing",
    ),
    (
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant"}]},
        "messages[1].content is missing",
    ),
    (
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "tool_calls": {}}]},
        "tool_calls is an object",
    ),
    (
        {
            "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
            "tools": {},
        },
        "tools is",
    ),
]


ANSWER_ROLE = {"gemini-messages": "model", "openai-chat": "assistant"}


@pytest.mark.parametrize(
    ("fmt", "row", "fragment"),
    [("gemini-messages", *case) for case in MESSAGES_INVALID]
    + [("openai-chat", *case) for case in OPENAI_INVALID],
)
def test_messages_format_rules(jsonl, fmt, row, fragment):
    """A bad second line of a gemini-messages or openai-chat file is dropped with its reason."""
    good = chat(("user", "q"), (ANSWER_ROLE[fmt], "a"))
    stats = tunestats.compute(str(jsonl([good, row])), tokenizer="cl100k_base")
    assert stats.training.format == fmt
    (reason,) = supervised(stats)["droppedExampleReasons"]
    assert reason.startswith("line 2: ") and fragment in reason


def test_openai_allows_consecutive_roles_and_late_system(jsonl):
    row = chat(
        ("user", "a"), ("user", "b"), ("system", "c"), ("assistant", "d"), ("assistant", "e")
    )
    doc = supervised(tunestats.compute(str(jsonl([row])), tokenizer="cl100k_base"))
    assert doc["tuningDatasetExampleCount"] == "1"
    assert doc["userMessagePerExampleDistribution"]["sum"] == "5"


def test_too_long_examples_are_dropped(jsonl, cl100k):
    short = {"prompt": "one two", "completion": "three"}
    long = {"prompt": "word " * 20, "completion": "more words"}
    limit = cl100k("one two") + cl100k("three")
    stats = tunestats.compute(
        str(jsonl([short, long, short])), tokenizer="cl100k_base", max_tokens_per_example=limit
    )
    doc = supervised(stats)
    assert doc["tuningDatasetExampleCount"] == "2"
    assert doc["truncatedExampleIndices"] == ["2"]
    total = cl100k("word " * 20) + cl100k("more words")
    assert f"has {total} tokens" in doc["droppedExampleReasons"][0]
    # issue 10: a limit the user gave is reported as the user's, not as the model's
    assert f"the limit (--max-tokens-per-example) is {limit}" in doc["droppedExampleReasons"][0]


def test_images_count_toward_the_limit(jsonl):
    part = {"inlineData": {"mimeType": "image/png", "data": TINY_PNG}}
    row = {
        "contents": [
            {"role": "user", "parts": [part, part]},
            {"role": "model", "parts": [{"text": "b"}]},
        ]
    }
    kept = tunestats.compute(str(jsonl([row])), tokenizer="cl100k_base", max_tokens_per_example=517)
    assert supervised(kept)["userInputTokenDistribution"]["sum"] == "516"
    dropped = tunestats.compute(
        str(jsonl([row])), tokenizer="cl100k_base", max_tokens_per_example=516
    )
    assert supervised(dropped)["totalTruncatedExampleCount"] == "1"


def test_skipped_media_count_zero_and_are_reported(jsonl):
    audio = {"fileData": {"mimeType": "audio/mp3", "fileUri": "gs://b/a.mp3"}}
    row = {
        "contents": [
            {"role": "user", "parts": [audio]},
            {"role": "model", "parts": [{"text": "b"}]},
        ]
    }
    stats = tunestats.compute(str(jsonl([row])), tokenizer="cl100k_base", media="skip")
    # All inputs are 0 tokens: proto3 JSON leaves every zero field out, the bucket stays.
    assert supervised(stats)["userInputTokenDistribution"] == {"buckets": [{"count": 1.0}]}
    assert stats.training.result.uncounted_media == 1
    assert stats.training.result.media.parts == {"skipped": 1}


def test_model_limits(jsonl):
    from tunestats.config.profiles import get_profile

    assert get_profile("gemini-2.5-pro").max_tokens_per_example == 131072
    assert get_profile("gemini-2.0-flash-001").max_tokens_per_example == 131072
    assert get_profile("gemini-1.5-flash-002").max_tokens_per_example == 32768
    assert get_profile("meta/llama3_1@llama-3.1-8b").max_tokens_per_example == 8192
    assert get_profile("llama-3.1-8b").max_tokens_per_example == 8192
    assert get_profile("projects/p/locations/l/publishers/google/models/gemini-2.5-flash").name == (
        "gemini-2.5-flash"
    )
    assert get_profile("my-model", 100).max_tokens_per_example == 100
    with pytest.raises(ValueError, match="`tunestats models` lists the known models"):
        get_profile("gemini-9")


def test_samples_first_three_kept_examples(jsonl):
    long_text = "x" * 401
    rows = [
        "oops",
        {"input_text": long_text, "output_text": "a"},
        {"input_text": "b" * 400, "output_text": "c"},
        {"input_text": "d", "output_text": "e"},
        {"input_text": "f", "output_text": "g"},
    ]
    doc = supervised(tunestats.compute(str(jsonl(rows)), tokenizer="cl100k_base"))
    texts = [(c["role"], c["parts"][0]["text"]) for c in doc["userDatasetExamples"]]
    assert texts == [
        ("user", "x" * 397 + "..."),
        ("model", "a"),
        ("user", "b" * 400),
        ("model", "c"),
        ("user", "d"),
        ("model", "e"),
    ]


def test_gemini_sample_media_placeholders(jsonl):
    image = {"inlineData": {"mimeType": "image/png", "data": TINY_PNG}}
    audio = {"fileData": {"mimeType": "audio/wav", "fileUri": "gs://b/a.wav"}}
    row = {
        "systemInstruction": {"parts": [{"text": "left out"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Describe "}, image, {"text": "this."}, audio]},
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "f", "args": {}}}, {"text": "ok"}],
            },
        ],
    }
    doc = supervised(tunestats.compute(str(jsonl([row])), tokenizer="cl100k_base", media="skip"))
    assert doc["userDatasetExamples"] == [
        {"role": "user", "parts": [{"text": "<media0><media1>Describe this."}]},
        {"role": "model", "parts": [{"text": '{"name":"f","args":{}}ok'}]},
    ]


def test_null_is_the_same_as_missing(jsonl, cl100k):
    row = {
        "systemInstruction": None,
        "system_instruction": {"parts": [{"text": "s"}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {
                        "text": None,
                        "inlineData": {
                            "mimeType": None,
                            "mime_type": "image/png",
                            "data": TINY_PNG,
                        },
                    }
                ],
            },
            {"role": "model", "parts": [{"text": "b", "functionCall": None}]},
        ],
        "tools": None,
    }
    doc = supervised(tunestats.compute(str(jsonl([row])), tokenizer="cl100k_base"))
    assert only_example(doc) == (cl100k("s") + 258, cl100k("b"), 2)


def test_snake_case_proto_names(jsonl, cl100k):
    row = {
        "system_instruction": {"parts": [{"text": "s"}]},
        "contents": [
            {
                "role": "user",
                "parts": [{"inline_data": {"mime_type": "image/png", "data": TINY_PNG}}],
            },
            {"role": "model", "parts": [{"function_call": {"name": "f"}}]},
        ],
    }
    doc = supervised(tunestats.compute(str(jsonl([row])), tokenizer="cl100k_base"))
    assert only_example(doc) == (cl100k("s") + 258, cl100k("f"), 2)  # SPEC §2: the name alone


@pytest.mark.parametrize(
    ("rows", "fmt"),
    [
        ([{"contents": []}], "gemini"),
        (
            [{"messages": [{"role": "user", "content": "a"}]}, {"messages": [{"role": "model"}]}],
            "gemini-messages",
        ),
        (
            [{"messages": [{"role": "user", "content": "a"}]}, {"messages": [{"role": "tool"}]}],
            "openai-chat",
        ),
        ([{"messages": [{"role": "user", "content": "a"}]}], "openai-chat"),
        ([{"input_text": "a"}], "palm"),
        ([{"completion": "a"}], "prompt-completion"),
        (["junk", {"x": 1}, {"prompt": "p"}], "prompt-completion"),
        ([{"x": 1}], "gemini"),
        ([{"messages": [{"role": ["user"]}]}, {"prompt": "p"}], "prompt-completion"),
        ([{"contents": None, "messages": [{"role": "tool"}]}], "openai-chat"),
    ],
)
def test_format_detection(jsonl, rows, fmt):
    assert tunestats.compute(str(jsonl(rows)), tokenizer="cl100k_base").training.format == fmt


def test_format_detection_falls_back_to_model_format(jsonl):
    path = str(jsonl([{"messages": [{"role": "user", "content": "a"}]}]))
    stats = tunestats.compute(path, tokenizer="cl100k_base", model="gemini-1.0-pro-002")
    assert stats.training.format == "gemini-messages"
