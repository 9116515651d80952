"""Job readiness (SPEC §8): each job-level limit at its boundary, and where the verdict shows."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tunestats import compute
from tunestats.cli import main
from tunestats.config.profiles import get_profile
from tunestats.counting.accumulate import Accumulator, DatasetResult
from tunestats.job.readiness import GB, REJECT, check_job

from ..conftest import write_jsonl

GEMINI = {
    "contents": [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "hello"}]},
    ]
}
MESSAGES = {"messages": [{"role": "user", "content": "hi"}, {"role": "model", "content": "hello"}]}


def result(**figures: int | dict) -> DatasetResult:
    """A dataset's result with the given figures (the rest as an empty dataset has them)."""
    return dataclasses.replace(Accumulator().result(), **figures)


def rejections(model: str, training: DatasetResult, fmt: str = "gemini", **kw) -> list[str]:
    return check_job(get_profile(model), training, fmt, **kw).rejections


# SPEC §8's table: (model, examples at most, validation examples at most)
TABLE = [
    ("gemini-3.5-flash", 10_000_000, 5_000),
    ("gemini-3.1-flash-lite", 10_000_000, 5_000),
    ("gemini-2.5-flash", 1_000_000, 5_000),
    ("gemini-2.5-pro", 1_000_000, 5_000),
    ("gemini-2.0-flash-001", 1_000_000, 5_000),
    ("gemini-1.5-flash-002", 1_000_000, 256),
]


@pytest.mark.parametrize(("model", "most", "validation"), TABLE)
def test_training_examples_at_the_limit_and_past_it(model, most, validation):
    assert rejections(model, result(examples=most)) == []
    (only,) = rejections(model, result(examples=most + 1))
    assert only == (
        f"{REJECT}the training set has {most + 1:,} examples; {model} takes at most "
        f"{most:,} text-only examples"
    )
    # Dropped examples count too: the limit is on the file's examples.
    assert rejections(model, result(examples=most, dropped=1))[0] == only


@pytest.mark.parametrize(("model", "most", "validation"), TABLE)
def test_examples_with_media_at_300k(model, most, validation):
    media = {"media_examples": 1}
    assert rejections(model, result(examples=300_000, **media)) == []
    (only,) = rejections(model, result(examples=300_001, **media))
    assert "300,001 examples" in only and "at most 300,000 examples with media" in only


@pytest.mark.parametrize(("model", "most", "validation"), TABLE)
def test_validation_examples_at_the_limit_and_past_it(model, most, validation):
    train = result(examples=100)
    fine = check_job(get_profile(model), train, "gemini", result(examples=validation), "gemini")
    assert fine.ready
    over = check_job(get_profile(model), train, "gemini", result(examples=validation + 1), "gemini")
    assert over.rejections == [
        f"{REJECT}the validation set has {validation + 1:,} examples; {model} takes at most "
        f"{validation:,}"
    ]


@pytest.mark.parametrize("model", [m for m, _, _ in TABLE] + ["gemini-1.0-pro-002"])
def test_file_size_at_one_gb_and_one_byte_more(model):
    fmt = "gemini-messages" if model == "gemini-1.0-pro-002" else "gemini"
    train = result(examples=100, bytes=GB)
    assert rejections(model, train, fmt) == []
    (only,) = rejections(model, dataclasses.replace(train, bytes=GB + 1), fmt)
    assert only == (
        f"{REJECT}the training file is 1,000,000,001 bytes of JSONL; {model} takes at most "
        "1 GB (1,000,000,000 bytes)"
    )


def test_gemini_1_0_needs_16_examples_and_model_messages_of_8192_tokens():
    model, fmt = "gemini-1.0-pro-002", "gemini-messages"
    assert rejections(model, result(examples=16), fmt) == []
    (few,) = rejections(model, result(examples=15), fmt)
    assert few.endswith(
        "the training set has 15 valid examples; gemini-1.0-pro-002 needs at least 16"
    )
    assert rejections(model, result(examples=16, longest_output={8192: 16}), fmt) == []
    (long,) = rejections(model, result(examples=16, longest_output={8192: 14, 8193: 2}), fmt)
    assert "2 training examples have a model message over 8,192 tokens" in long
    # No upper limit of examples for 1.0 [D: "There is no limit"].
    assert rejections(model, result(examples=50_000_000), fmt) == []


def test_the_format_the_model_takes():
    assert rejections("gemini-2.5-flash", result(examples=20), "openai-chat") == [
        f"{REJECT}the training set is openai-chat; gemini-2.5-flash takes gemini records"
    ]
    assert rejections("gemini-1.0-pro-002", result(examples=20), "gemini") == [
        f"{REJECT}the training set is gemini; gemini-1.0-pro-002 takes gemini-messages records"
    ]
    for fmt in ("openai-chat", "prompt-completion"):
        assert rejections("meta/llama3_1@llama-3.1-8b", result(examples=20), fmt) == []
    (palm,) = rejections("meta/llama3_1@llama-3.1-8b", result(examples=20), "palm")
    assert "takes openai-chat or prompt-completion records" in palm


def test_ten_percent_dropped_is_a_warning_more_is_a_rejection():
    at = check_job(get_profile("gemini-2.5-flash"), result(examples=90, dropped=10), "gemini")
    assert at.ready and at.warnings == [
        "Vertex will drop 10 of the 100 training examples (10.0%) and tune on the rest"
    ]
    past = check_job(get_profile("gemini-2.5-flash"), result(examples=89, dropped=11), "gemini")
    assert past.rejections == [
        f"{REJECT}11 of the 100 training examples (11.0%) are dropped; Vertex fails a job "
        "before training when more than 10% of its examples are dropped"
    ]


def test_a_model_without_known_limits_checks_only_the_drops():
    profile = get_profile("my-model", 1000)
    assert check_job(profile, result(examples=10**9, bytes=10 * GB), "palm").ready


# --- where the verdict shows ------------------------------------------------------------------


def test_the_text_report_json_and_strict_say_it(tmp_path, capsys):
    path = write_jsonl(tmp_path / "v.jsonl", [GEMINI] * 20)
    val = write_jsonl(tmp_path / "val.jsonl", [GEMINI] * 257)
    argv = ["stats", str(path), "--validation", str(val), "--model", "gemini-1.5-flash-002"]
    argv += ["--tokenizer", "cl100k_base", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    message = f"{REJECT}the validation set has 257 examples; gemini-1.5-flash-002 takes at most 256"
    assert f"  {message}" in out
    assert main([*argv, "--strict"]) == 3
    assert "1 job limit broken" in capsys.readouterr().err
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # the document alone on stdout
    assert f"tunestats: {message}" in captured.err


def test_an_accepted_job_says_so_and_strict_passes(tmp_path, capsys):
    path = write_jsonl(tmp_path / "ok.jsonl", [GEMINI] * 20)
    assert main(["stats", str(path), "--tokenizer", "cl100k_base", "--quiet", "--strict"]) == 0
    assert "Vertex would accept this job for gemini-2.5-flash" in capsys.readouterr().out


def test_a_long_model_message_end_to_end(tmp_path):
    """gemini-1.0-pro-002 with its own tokenizer: one model message over 8,192 tokens."""
    long = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "model", "content": "a " * 9000}]
    }
    path = write_jsonl(tmp_path / "m.jsonl", [MESSAGES] * 16 + [long])
    stats = compute(str(path), model="gemini-1.0-pro-002")
    assert stats.training.kept == 17  # a rule of the job: nothing is dropped for it
    (only,) = stats.readiness.rejections
    assert "1 training example has a model message over 8,192 tokens" in only


def test_the_batch_record_and_summary_have_ready(tmp_path):
    from tunestats.batch import run_batch

    (tmp_path / "in").mkdir()
    good = write_jsonl(tmp_path / "in" / "good.jsonl", [GEMINI] * 20)
    bad = write_jsonl(tmp_path / "in" / "bad.jsonl", [GEMINI] * 5 + ["not json"] * 5)
    out = tmp_path / "out"
    result = run_batch([str(good), str(bad)], str(out), tokenizer="cl100k_base", jobs=1)
    rows = {r.uri: r for r in result.rows}
    assert rows[str(good)].ready is True and rows[str(good)].rejections is None
    assert (
        rows[str(bad)].ready is False
        and "5 of the 10 training examples" in rows[str(bad)].rejections
    )
    record = json.loads(Path(rows[str(bad)].record).read_text())
    assert record["readiness"]["ready"] is False and record["readiness"]["rejections"][
        0
    ].startswith(REJECT)
    assert record["droppedByCode"] == {"not-json": 5}
    assert record["recordVersion"] == 3 and record["page"]["dropGroups"][0]["count"] == 5
    import pyarrow.parquet as pq

    table = pq.read_table(result.summary_parquet)
    assert table.column("ready").to_pylist() == [True, False]
