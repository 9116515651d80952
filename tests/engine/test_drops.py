"""Drop codes (issue 12): every kind of drop has a stable code and a hint, and the reports
group the dropped lines by it."""

from __future__ import annotations

import json

import pytest

from tunestats import compute
from tunestats.cli import main
from tunestats.formats import Drop, parse_example
from tunestats.formats.drops import KINDS, classify, path_pattern

from ..conftest import CORPUS, write_jsonl


def turn(role: str, text: str = "x") -> dict:
    return {"role": role, "parts": [{"text": text}]}


def messages(*pairs: tuple[str, str]) -> bytes:
    """A line of a messages format (gemini-messages, openai-chat): (role, content) pairs."""
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in pairs]}).encode()


OK = {"contents": [turn("user"), turn("model")]}

# (format, the line, the code it must get)
CASES = [
    ("gemini", b"\xff\xfe{}", "not-utf8"),
    ("gemini", b"{", "pretty-printed"),
    ("gemini", b'  "contents": [', "pretty-printed"),
    ("gemini", b"}", "pretty-printed"),
    ("gemini", b"{'contents': [{'role': 'user'}]}", "python-repr"),
    ("gemini", b'{"contents": [], "done": True}', "python-repr"),
    ("gemini", b'{"contents": [} oops', "not-json"),
    ("gemini", b"not json", "not-json"),
    ("gemini", b'{"a": "\x00"}', "not-json"),
    ("gemini", b"[1, 2]", "not-object"),
    ("gemini", b"[" * 101 + b"]" * 101, "not-object"),
    ("gemini", json.dumps({"request": OK}).encode(), "batch-request"),
    (
        "gemini",
        json.dumps({"request": OK, "response": {"candidates": []}}).encode(),
        "batch-output",
    ),
    ("gemini", b'{"contents": [{"role": "user", "parts": [{"text": "Yes, True"}]}', "not-json"),
    ("gemini", b'    "a",', "pretty-printed"),
    ("gemini", messages(("user", "x")), "other-format"),
    ("gemini", json.dumps({"foo": 1}).encode(), "no-format"),
    ("gemini", json.dumps({"contents": None}).encode(), "missing-field"),
    ("gemini", json.dumps({"contents": []}).encode(), "missing-field"),
    ("gemini", json.dumps({"contents": "hi"}).encode(), "wrong-type"),
    (
        "gemini",
        json.dumps({"contents": [turn("user"), turn("assistant")]}).encode(),
        "role-assistant",
    ),
    (
        "gemini",
        json.dumps({"contents": [turn("system"), turn("user"), turn("model")]}).encode(),
        "role-system",
    ),
    ("gemini", json.dumps({"contents": [turn("user"), turn("bot")]}).encode(), "bad-role"),
    (
        "gemini",
        json.dumps({"contents": [{"parts": [{"text": "a"}]}, turn("model")]}).encode(),
        "missing-role",
    ),
    (
        "gemini",
        json.dumps({"contents": [turn("user"), turn("user"), turn("model")]}).encode(),
        "same-role",
    ),
    ("gemini", json.dumps({"contents": [turn("user")]}).encode(), "no-model-turn"),
    (
        "gemini",
        json.dumps({"contents": [{"role": "user", "parts": [{}]}, turn("model")]}).encode(),
        "bad-part",
    ),
    (
        "gemini",
        json.dumps(
            {"contents": [{"role": "user", "parts": [{"text": 1}]}, turn("model")]}
        ).encode(),
        "wrong-type",
    ),
    (
        "gemini",
        json.dumps(
            {
                "systemInstruction": {
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": ""}}]
                },
                **OK,
            }
        ).encode(),
        "system-not-text",
    ),
    (
        "gemini",
        json.dumps(
            {
                "contents": [
                    {
                        "role": "user",
                        "parts": [{"fileData": {"mimeType": "audio/mp3", "fileUri": "gs://b/a"}}]
                        * 2,
                    },
                    turn("model"),
                ]
            }
        ).encode(),
        "too-many-media",
    ),
    (
        "gemini",
        json.dumps(
            {
                "contents": [
                    {
                        "role": "user",
                        "parts": [{"inlineData": {"mimeType": "image/png", "data": "!!"}}],
                    },
                    turn("model"),
                ]
            }
        ).encode(),
        "bad-inline-data",
    ),
    (
        "gemini-messages",
        messages(("user", "a"), ("system", "b"), ("model", "c")),
        "system-not-first",
    ),
    ("gemini-messages", messages(("user", "a")), "no-model-turn"),
    ("openai-chat", messages(("user", "a")), "no-model-turn"),
    ("openai-chat", messages(("user", "a"), ("model", "b")), "role-model"),
    ("openai-chat", messages(("user", "a"), ("assistant", "b"), ("bot", "c")), "bad-role"),
    ("palm", json.dumps({"input_text": "a"}).encode(), "missing-field"),
    (
        "gemini",
        json.dumps(
            {
                "contents": [
                    {
                        "role": "user",
                        "parts": [
                            {
                                "fileData": {"mimeType": "video/mp4", "fileUri": "gs://b/v"},
                                "videoMetadata": {"startOffset": "9s", "endOffset": "3s"},
                            }
                        ],
                    },
                    {"role": "model", "parts": [{"text": "ok"}]},
                ]
            }
        ).encode(),
        "bad-segment",
    ),
    ("prompt-completion", json.dumps({"prompt": "a", "completion": 3}).encode(), "wrong-type"),
]


@pytest.mark.parametrize(("fmt", "raw", "code"), CASES)
def test_each_kind_of_drop_gets_its_code(fmt, raw, code):
    outcome = parse_example(raw, 1, fmt, False)
    assert isinstance(outcome, Drop), outcome
    assert outcome.code == code, outcome.problem
    assert outcome.code in KINDS


def test_every_code_has_a_title_and_a_short_hint():
    for code, kind in KINDS.items():
        assert kind.code == code and code == code.lower() and " " not in code
        assert kind.title and kind.hint and len(kind.hint) <= 110, code
    # The media stage's codes (SPEC §9) are covered by tests/engine/test_media.py.
    media = {code for code in KINDS if code.startswith("media-")}
    # too-long-line: tests/engine/test_edges_reading.py.
    covered = {code for _, _, code in CASES if code} | {"too-deep", "too-long", "too-long-line"}
    covered |= media
    assert covered == set(KINDS), set(KINDS) - covered


def test_deep_records_and_too_long_examples_have_their_codes(tmp_path):
    deep = {"contents": [turn("user"), turn("model")], "tools": [{"a": [[[]]] * 1}]}
    nested: list = []
    for _ in range(120):
        nested = [nested]
    deep["tools"] = [{"functionDeclarations": [], "x": nested}]
    long = {"contents": [turn("user", "word " * 50), turn("model")]}
    path = write_jsonl(tmp_path / "d.jsonl", [OK, deep, long])
    stats = compute(str(path), tokenizer="cl100k_base", max_tokens_per_example=20)
    assert stats.training.result.dropped_by_code == {"too-deep": 1, "too-long": 1}


def test_codes_do_not_depend_on_the_path_taken(tmp_path):
    """The Arrow path and the per-line path give the same groups."""
    rows = [OK] * 70 + [{"contents": [turn("user"), turn("assistant")]}] * 5 + ["bad"] * 3
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    fast = compute(str(path), tokenizer="cl100k_base")
    slow = compute(str(path), tokenizer="cl100k_base", arrow=False)
    assert fast.training.result.drop_groups == slow.training.result.drop_groups
    assert fast.training.result.dropped_by_code == {"role-assistant": 5, "not-json": 3}


def test_path_pattern():
    assert path_pattern("contents[2].parts[10].text") == "contents[*].parts[*].text"
    assert path_pattern("") == ""


def test_classify_needs_only_the_reason_and_the_line():
    assert classify("", "not valid JSON at character 1: x", b"{'a': 1}") == "python-repr"
    assert classify("contents[1].role", 'is "assistant"; expected "user" or "model"', b"") == (
        "role-assistant"
    )


def test_groups_count_every_drop_and_keep_the_first_three_lines(tmp_path):
    rows = [OK] * 3 + ["bad"] * 1500 + [{"contents": [turn("user")]}] * 2
    path = write_jsonl(tmp_path / "g.jsonl", rows)
    r = compute(str(path), tokenizer="cl100k_base").training.result
    assert [(g.code, g.count) for g in r.drop_groups] == [("not-json", 1500), ("no-model-turn", 2)]
    assert sum(g.count for g in r.drop_groups) == r.dropped == 1502
    assert [line for line, _ in r.drop_groups[0].examples] == [4, 5, 6]
    assert [line for line, _ in r.drop_groups[1].examples] == [1504, 1505]  # past the 1,000 listed
    assert r.drop_groups[1].path == "contents"


def test_a_kind_is_a_code_at_one_path(tmp_path):
    """Groups of one code at different JSON paths stay apart; the counts by code add them."""
    rows = [OK] * 3 + [{"contents": "x"}] * 2
    rows += [{"contents": [{"role": "user", "parts": [{"text": 1}]}, turn("model")]}] * 4
    r = compute(str(write_jsonl(tmp_path / "p.jsonl", rows)), tokenizer="cl100k_base")
    r = r.training.result
    assert [(g.code, g.path, g.count) for g in r.drop_groups] == [
        ("wrong-type", "contents[*].parts[*].text", 4),
        ("wrong-type", "contents", 2),
    ]
    assert r.dropped_by_code == {"wrong-type": 6}


def test_shards_merge_to_the_groups_of_the_whole(tmp_path):
    rows = ([OK] * 50 + ["bad"] * 7 + [{"contents": [turn("user")]}] * 3) * 40
    path = write_jsonl(tmp_path / "s.jsonl", rows)
    whole = compute(str(path), tokenizer="cl100k_base", jobs=1).training.result
    split = compute(str(path), tokenizer="cl100k_base", jobs=3, shard_bytes=20_000)
    assert split.training.result.drop_groups == whole.drop_groups
    assert whole.dropped_by_code == {"not-json": 280, "no-model-turn": 120}


def test_the_text_report_groups_reasons_by_code(tmp_path, capsys):
    rows = [OK] * 3 + ["bad"] * 770 + [{"contents": [turn("user"), turn("assistant")]}]
    path = write_jsonl(tmp_path / "t.jsonl", rows)
    assert main(["stats", str(path), "--tokenizer", "cl100k_base", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "dropped examples (771), by kind:" in out
    assert "      770  not-json: not valid JSON" in out
    assert out.count("line 5: not valid JSON") == 1 and "line 7: not valid JSON" not in out
    assert "... and 767 more like these" in out
    assert f"fix: {KINDS['role-assistant'].hint}" in out
    assert 'role-assistant: role "assistant" in a Gemini record at contents[*].role' in out


def test_buckets_show_their_edges_and_counts(tmp_path, capsys):
    rows = [{"contents": [turn("user", "a " * n), turn("model")]} for n in (1, 2, 3, 40)]
    path = write_jsonl(tmp_path / "b.jsonl", rows)
    argv = ["stats", str(path), "--tokenizer", "cl100k_base", "--quiet"]
    assert main(argv) == 0
    assert " buckets " not in capsys.readouterr().out
    assert main([*argv, "--buckets", "--json"]) == 0  # --json prints the document alone
    doc = json.loads(capsys.readouterr().out)["supervisedTuningDataStats"]
    assert main([*argv, "--buckets"]) == 0
    out = capsys.readouterr().out
    buckets = doc["userInputTokenDistribution"]["buckets"]
    cells = ", ".join(
        f"{int(b['left']):,}-{int(b['right']):,}: {int(b['count']):,}" for b in buckets
    )
    assert f"buckets {cells}" in out


@pytest.mark.parametrize(
    "path", sorted(CORPUS.rglob("*.jsonl*")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_every_corpus_drop_has_a_code(path):
    """In every corpus file (as detected), the drops by code add up to the drops."""
    try:
        stats = compute(str(path), tokenizer="cl100k_base")
    except Exception:  # an empty file is a whole-source error: no drops to name
        return
    result = stats.training.result
    assert sum(result.dropped_by_code.values()) == result.dropped
    assert set(result.dropped_by_code) <= set(KINDS)
