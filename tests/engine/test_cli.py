"""The command line: output streams, exit codes, validation sets, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tunestats
from tunestats.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "example.jsonl"
GOOD = {"prompt": "p", "completion": "c"}


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_prints_only_the_document(capsys):
    code, out, err = run_cli(capsys, "stats", str(EXAMPLE), "--tokenizer", "cl100k_base", "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["supervisedTuningDataStats"]
    assert doc["supervisedTuningDataStats"]["tuningDatasetExampleCount"] == "6"
    assert "ESTIMATES" in err and "cl100k_base" in err


def test_text_report(capsys):
    code, out, _ = run_cli(
        capsys, "stats", str(EXAMPLE), "--tokenizer", "cl100k_base", "--epochs", "3"
    )
    assert code == 0
    for expected in (
        "ESTIMATES",
        "kept 6, dropped 2, blank 1",
        "input tokens",
        "output tokens",
        "messages/example",
        "x 3 epochs",
        'line 7: contents[1].role is "assistant"',
        "line 8: not valid JSON",
    ):
        assert expected in out


def test_validation_set(capsys, jsonl):
    train = jsonl([GOOD, GOOD])
    val = jsonl([GOOD])
    args = ["stats", str(train), "--validation", str(val), "--tokenizer", "cl100k_base"]
    code, out, _ = run_cli(capsys, *args, "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["training"]["supervisedTuningDataStats"]["tuningDatasetExampleCount"] == "2"
    assert doc["validation"]["supervisedTuningDataStats"]["tuningDatasetExampleCount"] == "1"
    code, out, _ = run_cli(capsys, *args)
    assert "training: " in out and "validation: " in out
    stats = tunestats.compute(str(train), validation=str(val), tokenizer="cl100k_base")
    assert stats.to_dict(validation=True) == doc["validation"]
    assert stats.to_dict() == doc["training"]


def test_strict_exit_code(capsys, jsonl):
    path = str(jsonl([GOOD, "bad"]))
    assert run_cli(capsys, "stats", path, "--tokenizer", "cl100k_base")[0] == 0
    code, _, err = run_cli(capsys, "stats", path, "--tokenizer", "cl100k_base", "--strict")
    assert code == 3 and "1 example dropped" in err


def test_no_valid_example_prints_report_and_exits_1(capsys, jsonl):
    path = str(jsonl([{"prompt": 1, "completion": "c"}]))
    code, out, err = run_cli(capsys, "stats", path, "--tokenizer", "cl100k_base", "--json")
    assert code == 1
    assert json.loads(out)["supervisedTuningDataStats"]["totalTruncatedExampleCount"] == "1"
    assert "no valid example" in err


def test_unreadable_source_exits_1(capsys, tmp_path):
    code, out, err = run_cli(capsys, "stats", str(tmp_path / "missing.jsonl"))
    assert code == 1 and out == ""
    assert "missing.jsonl" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "gemini-9"], "known models"),
        (["--tokenizer", "bogus"], "unknown tokenizer"),
        (["--tokenizer", "gemini", "--tokenizer-model", "/nonexistent/x.model"], "cannot read"),
    ],
)
def test_usage_errors_exit_2(capsys, args, message):
    code, _, err = run_cli(capsys, "stats", str(EXAMPLE), *args)
    assert code == 2 and message in err


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--format", "csv"], []])
def test_argparse_errors_exit_2(args):
    with pytest.raises(SystemExit) as exc:
        main(["stats", *args] if args else [])
    assert exc.value.code == 2


def test_any_model_name_with_explicit_limit(capsys):
    args = ["stats", str(EXAMPLE), "--tokenizer", "cl100k_base", "--json"]
    code, out, _ = run_cli(capsys, *args, "--model", "my-own", "--max-tokens-per-example", "30")
    assert code == 0
    doc = json.loads(out)["supervisedTuningDataStats"]
    # issue 10: the limit is the user's, not "the limit for my-own"
    assert any("limit (--max-tokens-per-example) is 30" in r for r in doc["droppedExampleReasons"])


def test_stdin_and_console_script():
    data = EXAMPLE.read_bytes()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunestats.cli",
            "stats",
            "-",
            "--json",
            "--tokenizer",
            "o200k_base",
        ],
        input=data,
        capture_output=True,
        check=True,
    )
    doc = json.loads(done.stdout)
    assert doc["supervisedTuningDataStats"]["tuningDatasetExampleCount"] == "6"
