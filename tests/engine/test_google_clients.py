"""Our TuningDataStats documents against Google's own client types (SPEC §6), and the
published Vertex outputs against the rules of SPEC §3.

``from_json`` of the proto types is lenient about JSON types (it takes ``5`` for an int64 and
``"5"`` for a double), so parsing alone does not prove the encoding: every emitted field is also
checked against the proto descriptor (int64 as a decimal string, double as a number, no field at
its default value), and the parsed message must serialize back to exactly our document.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import aiplatform_v1, aiplatform_v1beta1
from google.genai import types as genai_types
from google.protobuf.descriptor import Descriptor, FieldDescriptor

import tunestats
from tests.conftest import CORPUS, REFERENCE, write_jsonl
from tunestats.counting.accumulate import bucket_edges

V1 = aiplatform_v1.types.TuningDataStats
V1BETA1 = aiplatform_v1beta1.types.TuningDataStats
PROTO_TYPES = pytest.mark.parametrize("proto", [V1, V1BETA1], ids=["v1", "v1beta1"])

CORPUS_FILES = sorted(CORPUS.glob("*/*.jsonl"))
CORPUS_IDS = [f"{p.parent.name}/{p.name}" for p in CORPUS_FILES]
PUBLISHED = sorted((REFERENCE / "vertex-published").glob("*.json"))
DISTRIBUTIONS = (
    "userInputTokenDistribution",
    "userOutputTokenDistribution",
    "userMessagePerExampleDistribution",
)
# Fields of the REST DatasetStats that the published v1beta1 proto lacks (SPEC §6).
REST_ONLY = ("totalBillableTokenCount", "droppedExampleIndices", "droppedExampleReasons")


# --- helpers ---------------------------------------------------------------------------------

_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}
_INT32 = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_SFIXED32,
}
_FLOAT = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}


def _repeated(field: FieldDescriptor) -> bool:
    is_repeated = getattr(field, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED


def _is_default(value: Any, field: FieldDescriptor) -> bool:
    """Whether a singular ``value`` is the proto3 default of ``field`` (JSON-encoded)."""
    if value is None:
        return True
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return False  # a message has presence: even an empty one is printed
    if field.type in _INT64:
        return value == "0"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return value is False
    if field.type in _INT32 or field.type in _FLOAT:
        return not isinstance(value, bool) and value == 0
    return value == ""


def proto3_json_problems(doc: dict[str, Any], descriptor: Descriptor, path: str = "") -> list[str]:
    """Where ``doc`` departs from the proto3 JSON mapping of ``descriptor`` (strictly)."""
    problems: list[str] = []
    fields = {f.json_name: f for f in descriptor.fields}
    for key, value in doc.items():
        where = f"{path}.{key}"
        field = fields.get(key)
        if field is None:
            problems.append(f"{where}: no such field in {descriptor.full_name}")
            continue
        if _repeated(field):
            if not isinstance(value, list):
                problems.append(f"{where}: repeated field is {type(value).__name__}")
                continue
            if not value:
                problems.append(f"{where}: empty list should be left out")
            items = [(f"{where}[{i}]", v) for i, v in enumerate(value)]
        else:
            # A field with presence (a oneof member such as Part.text) prints even its default.
            if not field.has_presence and _is_default(value, field):
                problems.append(f"{where}: default value {value!r} should be left out")
                continue
            items = [(where, value)]
        for item_path, item in items:
            problems += _value_problems(item, field, item_path)
    return problems


def _value_problems(value: Any, field: FieldDescriptor, where: str) -> list[str]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        message = field.message_type
        if message.full_name.startswith("google.protobuf."):  # Struct, Value...: any JSON
            return []
        if not isinstance(value, dict):
            return [f"{where}: message is {type(value).__name__}"]
        return proto3_json_problems(value, message, where)
    if kind in _INT64:
        ok = isinstance(value, str) and value.lstrip("-").isdigit()
        return [] if ok else [f"{where}: int64 must be a decimal string, not {value!r}"]
    if kind in _INT32:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: int32 must be a number, not {value!r}"]
    if kind in _FLOAT:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: double must be a number, not {value!r}"]
    if kind in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_ENUM):
        return [] if isinstance(value, str) else [f"{where}: must be a string, not {value!r}"]
    if kind == FieldDescriptor.TYPE_BOOL:
        return [] if isinstance(value, bool) else [f"{where}: must be a boolean, not {value!r}"]
    return [f"{where}: unexpected field type {kind}"]


def parse_strict(proto: Any, doc: dict[str, Any]) -> Any:
    """Parse with ``from_json`` (unknown fields rejected); the message must print back to
    exactly ``doc`` (so no value was lost or changed, and nothing was at its default)."""
    message = proto.from_json(json.dumps(doc), ignore_unknown_fields=False)
    back = json.loads(proto.to_json(message, always_print_fields_with_no_presence=False))
    assert back == doc
    assert proto3_json_problems(doc, proto.pb().DESCRIPTOR) == []
    return message


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def json_shape(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, JSON type) of every leaf; array elements share the path ``name[]``."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from json_shape(sub, f"{path}.{key}")
    elif isinstance(value, list):
        for sub in value:
            yield from json_shape(sub, f"{path}[]")
    else:
        yield path, json_type(value)


def supervised(stats: tunestats.Stats) -> dict[str, Any]:
    doc = stats.to_dict()
    assert list(doc) == ["supervisedTuningDataStats"]
    return doc["supervisedTuningDataStats"]


def check_supervised_values(message: Any, stats: tunestats.Stats) -> None:
    """The parsed proto holds the numbers tunestats computed."""
    s = message.supervised_tuning_data_stats
    r = stats.training.result
    assert s.tuning_dataset_example_count == r.examples
    assert s.total_truncated_example_count == r.dropped
    assert list(s.truncated_example_indices) == r.dropped_lines
    assert list(s.dropped_example_reasons) == r.dropped_reasons
    assert s.total_tuning_character_count == r.characters
    assert s.total_billable_character_count == r.billable_characters
    assert s.total_billable_token_count == r.billable_tokens
    assert len(s.user_dataset_examples) == len(r.samples)
    dists = {
        "user_input_token_distribution": r.input_tokens,
        "user_output_token_distribution": r.output_tokens,
        "user_message_per_example_distribution": r.messages,
    }
    for name, d in dists.items():
        got = getattr(s, name)
        if d is None:
            assert name not in s
            continue
        assert got.sum == d.sum
        assert (got.min, got.max, got.median, got.p5, got.p95) == (
            d.min,
            d.max,
            d.median,
            d.p5,
            d.p95,
        )
        assert got.mean == d.sum / d.n
        assert [(b.count, b.left, b.right) for b in got.buckets] == d.buckets
        assert sum(b.count for b in got.buckets) == r.examples
        if name != "user_message_per_example_distribution":
            assert got.billable_sum == d.sum
    if r.input_tokens is not None:
        assert s.total_billable_token_count == (
            s.user_input_token_distribution.sum + s.user_output_token_distribution.sum
        )


def gemini_rows_with_problems() -> list[Any]:
    """A supervised Gemini file with a blank line, a bad JSON line and an invalid record."""
    good = [
        {
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [{"text": f"Question {i}: what is {i} + {i}?"}]},
                {"role": "model", "parts": [{"text": str(2 * i)}]},
            ],
        }
        for i in range(6)
    ]
    # An empty answer is valid (it counts 0 tokens); its sample part keeps "text": "".
    good[1]["contents"][1]["parts"][0]["text"] = ""
    bad_role = {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}
    return [*good[:2], "", "{not json", *good[2:4], bad_role, *good[4:]]


# --- supervised output ---------------------------------------------------------------------


@PROTO_TYPES
@pytest.mark.parametrize("path", CORPUS_FILES, ids=CORPUS_IDS)
def test_supervised_corpus_output_parses(path, proto):
    stats = tunestats.compute(str(path), tokenizer="cl100k_base")
    doc = stats.to_dict()
    message = parse_strict(proto, doc)
    check_supervised_values(message, stats)
    genai_types.TuningDataStats.model_validate(doc)


@PROTO_TYPES
def test_supervised_output_with_dropped_examples_parses(tmp_path, proto):
    path = write_jsonl(tmp_path / "train.jsonl", gemini_rows_with_problems())
    stats = tunestats.compute(str(path), tokenizer="cl100k_base")
    inner = supervised(stats)
    assert inner["tuningDatasetExampleCount"] == "6"
    assert inner["totalTruncatedExampleCount"] == "2"
    assert inner["truncatedExampleIndices"] == ["4", "7"]
    assert len(inner["droppedExampleReasons"]) == 2
    message = parse_strict(proto, stats.to_dict())
    check_supervised_values(message, stats)
    s = message.supervised_tuning_data_stats
    assert list(s.truncated_example_indices) == [4, 7]
    assert s.dropped_example_reasons[1].startswith("line 7: ")


@PROTO_TYPES
def test_supervised_output_with_too_long_examples_parses(proto):
    path = CORPUS / "openai/toy_chat_cookbook.jsonl"  # one reply of ~8,000 tokens
    stats = tunestats.compute(str(path), tokenizer="cl100k_base", max_tokens_per_example=1000)
    assert stats.training.dropped == 1
    message = parse_strict(proto, stats.to_dict())
    check_supervised_values(message, stats)
    assert "the limit" in message.supervised_tuning_data_stats.dropped_example_reasons[0]


@PROTO_TYPES
def test_supervised_output_with_epochs_and_batch_size_parses(proto):
    path = CORPUS / "openai/laa_prompt_completion.jsonl"  # 94 examples
    stats = tunestats.compute(str(path), tokenizer="cl100k_base", epochs=3, batch_size=8)
    inner = supervised(stats)
    assert inner["tuningStepCount"] == str(3 * 12)
    message = parse_strict(proto, stats.to_dict())
    check_supervised_values(message, stats)
    assert message.supervised_tuning_data_stats.tuning_step_count == 36
    # epochs do not multiply the billable tokens (SPEC §2)
    single = tunestats.compute(str(path), tokenizer="cl100k_base")
    assert inner["totalBillableTokenCount"] == supervised(single)["totalBillableTokenCount"]


def test_supervised_output_validates_with_google_genai():
    path = CORPUS / "openai/toy_chat_cookbook.jsonl"
    stats = tunestats.compute(str(path), tokenizer="cl100k_base", epochs=2, batch_size=2)
    model = genai_types.TuningDataStats.model_validate(stats.to_dict())
    s = model.supervised_tuning_data_stats
    r = stats.training.result
    assert s.tuning_dataset_example_count == r.examples
    assert s.tuning_step_count == 2 * 3
    assert s.total_billable_token_count == r.billable_tokens
    assert s.user_input_token_distribution.billable_sum == r.input_tokens.sum
    assert s.user_output_token_distribution.sum == r.output_tokens.sum


# --- distillation output -------------------------------------------------------------------


def distillation_rows() -> list[Any]:
    return [
        {"contents": [{"role": "user", "parts": [{"text": "What is the capital of France?"}]}]},
        {
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {
                    "role": "user",
                    "parts": [{"text": "Summarize: the sky is blue."}, {"text": " ¿Y el mar?"}],
                }
            ],
        },
        "",
        {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]},  # line 4: dropped
        {"contents": [{"parts": [{"text": "A single turn may leave out its role."}]}]},
        {
            "contents": [
                {"role": "user", "parts": [{"text": "Translate: good morning"}]},
                {"role": "model", "parts": [{"text": "buenos días"}]},
                {"role": "user", "parts": [{"text": "And good night?"}]},
            ]
        },
    ]


def distillation_expected(count) -> tuple[list[int], list[int]]:
    """Input tokens (every text counts as input) and messages of the kept examples."""
    tokens, messages = [], []
    for row in distillation_rows():
        if not isinstance(row, dict) or row["contents"][0].get("role") == "assistant":
            continue
        texts = [p["text"] for p in row.get("systemInstruction", {}).get("parts", [])]
        texts += [p["text"] for c in row["contents"] for p in c["parts"]]
        tokens.append(sum(count(t) for t in texts))
        messages.append(len(row["contents"]))
    return tokens, messages


@pytest.fixture
def distillation(tmp_path) -> tuple[tunestats.Stats, dict[str, Any]]:
    path = write_jsonl(tmp_path / "prompts.jsonl", distillation_rows())
    stats = tunestats.compute(str(path), tokenizer="cl100k_base", task="distillation")
    doc = stats.to_dict()
    assert list(doc) == ["distillationDataStats"]
    assert list(doc["distillationDataStats"]) == ["trainingDatasetStats"]
    return stats, doc


def test_distillation_output_validates_with_google_genai(distillation, cl100k):
    stats, doc = distillation
    inner = doc["distillationDataStats"]["trainingDatasetStats"]
    # REST DatasetStats types: int64 strings, distribution sum a number, bucket count int64
    assert isinstance(inner["userInputTokenDistribution"]["sum"], float)
    assert all(isinstance(b["count"], str) for b in inner["userInputTokenDistribution"]["buckets"])
    assert "userOutputTokenDistribution" not in inner
    assert "truncatedExampleIndices" not in inner and "totalTruncatedExampleCount" not in inner

    model = genai_types.TuningDataStats.model_validate(doc)  # extra fields are forbidden
    s = model.distillation_data_stats.training_dataset_stats
    tokens, messages = distillation_expected(cl100k)
    assert s.tuning_dataset_example_count == len(tokens) == 4
    assert s.total_billable_token_count == sum(tokens)
    assert s.dropped_example_indices == [4]
    assert len(s.dropped_example_reasons) == 1
    assert s.dropped_example_reasons[0].startswith("line 4: ")
    assert "assistant" in s.dropped_example_reasons[0]
    assert s.user_output_token_distribution is None
    d = s.user_input_token_distribution
    assert d.sum == float(sum(tokens))
    assert (d.min, d.max) == (min(tokens), max(tokens))
    assert d.mean == sum(tokens) / len(tokens)
    assert sum(b.count for b in d.buckets) == len(tokens)
    assert all(isinstance(b.count, int) for b in d.buckets)
    m = s.user_message_per_example_distribution
    assert m.sum == float(sum(messages)) and m.max == 3
    assert [c.role for c in s.user_dataset_examples] == ["user", "user", "user"]
    assert s.user_dataset_examples[1].parts[0].text == "Summarize: the sky is blue. ¿Y el mar?"
    assert stats.training.dropped == 1 and stats.training.blank == 1

    # Our camelCase document is what genai would print back.
    again = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    inner_again = again["distillationDataStats"]["trainingDatasetStats"]
    assert inner_again["totalBillableTokenCount"] == int(inner["totalBillableTokenCount"])
    assert inner_again["droppedExampleReasons"] == inner["droppedExampleReasons"]


def test_distillation_output_parses_with_v1beta1(distillation):
    stats, doc = distillation
    inner = doc["distillationDataStats"]["trainingDatasetStats"]
    # The three REST-only fields, typed as the REST schema says.
    assert inner["totalBillableTokenCount"] == str(stats.training.result.billable_tokens)
    assert inner["droppedExampleIndices"] == ["4"]
    assert all(isinstance(r, str) for r in inner["droppedExampleReasons"])

    trimmed = copy.deepcopy(doc)
    for key in REST_ONLY:
        del trimmed["distillationDataStats"]["trainingDatasetStats"][key]
    message = parse_strict(V1BETA1, trimmed)
    s = message.distillation_data_stats.training_dataset_stats
    r = stats.training.result
    assert s.tuning_dataset_example_count == r.examples == 4
    assert s.total_tuning_character_count == r.characters
    assert s.user_input_token_distribution.sum == r.input_tokens.sum
    buckets = s.user_input_token_distribution.buckets
    assert [(b.count, b.left, b.right) for b in buckets] == r.input_tokens.buckets
    assert "user_output_token_distribution" not in s


# --- the published Vertex outputs ----------------------------------------------------------


def published_stats(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))["tuningDataStats"]


def test_published_outputs_are_there():
    assert len(PUBLISHED) == 3


@pytest.mark.parametrize("path", PUBLISHED, ids=[p.stem for p in PUBLISHED])
def test_published_output_parses_with_v1(path):
    doc = published_stats(path)
    message = V1.from_json(json.dumps(doc), ignore_unknown_fields=False)
    s = message.supervised_tuning_data_stats
    inner = doc["supervisedTuningDataStats"]
    assert s.tuning_dataset_example_count == int(inner["tuningDatasetExampleCount"])
    assert s.total_billable_token_count == int(inner["totalBillableTokenCount"])
    assert s.user_input_token_distribution.sum == int(inner["userInputTokenDistribution"]["sum"])


@pytest.mark.parametrize("path", PUBLISHED, ids=[p.stem for p in PUBLISHED])
def test_published_distributions_follow_spec_rules(path):
    inner = published_stats(path)["supervisedTuningDataStats"]
    n = int(inner["tuningDatasetExampleCount"])
    sums = {}
    for name in DISTRIBUTIONS:
        d = inner[name]
        lo, hi = d["min"], d["max"]
        assert lo == int(lo) and hi == int(hi)
        edges = bucket_edges(int(lo), int(hi))
        listed = [(b["left"], b["right"]) for b in d["buckets"]]
        assert all(edge in edges for edge in listed), (name, listed, edges)
        assert listed == sorted(listed)
        counts = [b["count"] for b in d["buckets"]]
        assert all(c == int(c) and c > 0 for c in counts)  # only non-empty buckets are listed
        assert sum(counts) == n
        total = int(d["sum"])
        assert d["mean"] == total / n
        for q in ("median", "p5", "p95"):
            assert d[q] == int(d[q]) and lo <= d[q] <= hi
        sums[name] = total
    assert int(inner["totalBillableTokenCount"]) == (
        sums["userInputTokenDistribution"] + sums["userOutputTokenDistribution"]
    )


# Fields tunestats emits (SPEC §4, §5) that the published jobs do not show: Vertex leaves out
# billableSum, the dropped-example fields when nothing was dropped, and (for Gemini jobs) the
# character counts and the step count.
VERTEX_MAY_OMIT = {
    "billableSum",
    "totalTruncatedExampleCount",
    "truncatedExampleIndices",
    "droppedExampleReasons",
    "totalTuningCharacterCount",
    "totalBillableCharacterCount",
    "tuningStepCount",
}


def field_name(path: str) -> str:
    return path.rsplit(".", 1)[-1].removesuffix("[]")


def test_emitted_field_names_and_types_match_published(tmp_path):
    published: set[tuple[str, str]] = set()
    for path in PUBLISHED:
        published |= set(json_shape(published_stats(path)))

    runs = [
        tunestats.compute(str(CORPUS / name), tokenizer="cl100k_base", **options)
        for name, options in [
            ("gemini/patient_glucose_sysinstr.jsonl", {}),
            ("palm/gemini_faq_gdg.jsonl", {"epochs": 2, "batch_size": 4}),
            ("openai/toy_chat_cookbook.jsonl", {"max_tokens_per_example": 1000}),
        ]
    ]
    runs.append(
        tunestats.compute(
            str(write_jsonl(tmp_path / "t.jsonl", gemini_rows_with_problems())),
            tokenizer="cl100k_base",
        )
    )
    ours: set[tuple[str, str]] = set()
    for stats in runs:
        ours |= set(json_shape(stats.to_dict()))

    # one JSON type per field
    paths = [p for p, _ in ours]
    assert len(paths) == len(set(paths)), sorted(ours)
    missing = published - ours
    assert not missing, f"published fields we do not emit (or emit with another type): {missing}"
    extra = {(p, t) for p, t in ours - published if field_name(p) not in VERTEX_MAY_OMIT}
    assert not extra, f"fields we emit that Vertex does not: {extra}"
    # The extra ones are real fields of the proto, typed as it says (checked by parse_strict).
    for stats in runs:
        parse_strict(V1, stats.to_dict())
