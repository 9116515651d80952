"""The benchmark scripts: the generator is deterministic and writes valid examples; the genai
baseline of compare.py computes the statistics tunestats computes (correctness, not timing)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

import tunestats

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str):
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # compare.py imports measure.py
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_generate():
    return load("generate")


def test_generated_datasets_are_deterministic_and_valid(tmp_path):
    generate = load_generate()
    for fmt in ("gemini", "openai-chat"):
        for shared in (False, True):
            a, b = tmp_path / f"a-{fmt}-{shared}.jsonl", tmp_path / f"b-{fmt}-{shared}.jsonl"
            count, size = generate.write_dataset(str(a), 300_000, fmt=fmt, shared_system=shared)
            generate.write_dataset(str(b), 300_000, fmt=fmt, shared_system=shared)
            assert a.read_bytes() == b.read_bytes()
            assert size >= 300_000
            stats = tunestats.compute(str(a), tokenizer="cl100k_base")
            assert stats.training.format == fmt
            assert (stats.training.kept, stats.training.dropped) == (count, 0)


def test_generated_bytes_without_function_calls_are_unchanged(tmp_path):
    """--function-calls must not change what the generator wrote before it existed."""
    generate = load_generate()
    digest = hashlib.sha256()
    for fmt in ("gemini", "openai-chat"):
        for shared in (False, True):
            path = tmp_path / f"{fmt}-{shared}.jsonl"
            generate.write_dataset(str(path), 300_000, fmt=fmt, shared_system=shared)
            digest.update(path.read_bytes())
    assert digest.hexdigest() == "9f2076076e1a2a74dd020ab395d851f74f2ca6168641c665d416c942943343db"


def test_function_call_records_are_deterministic_and_valid(tmp_path):
    generate = load_generate()
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    count, _ = generate.write_dataset(str(a), 200_000, function_calls=True)
    generate.write_dataset(str(b), 200_000, function_calls=True)
    assert a.read_bytes() == b.read_bytes()
    records = [json.loads(line) for line in a.read_text(encoding="utf-8").splitlines()]
    with_tools = [r for r in records if "tools" in r]
    assert 0.15 * count < len(with_tools) < 0.5 * count
    for record in with_tools:
        kinds = [(c["role"], next(iter(p))) for c in record["contents"] for p in c["parts"]]
        assert ("model", "functionCall") in kinds and ("user", "functionResponse") in kinds
    stats = tunestats.compute(str(a))
    assert (stats.training.kept, stats.training.dropped) == (count, 0)
    with pytest.raises(ValueError):
        generate.records(1, fmt="openai-chat", function_calls=True)


def test_genai_baseline_agrees_with_tunestats(tmp_path):
    """compare.py's genai path (google-genai's LocalTokenizer) gives tunestats' statistics, and
    the ceilings' text extraction gives its token total, on records with function calls."""
    pytest.importorskip("google.genai")
    generate, compare, baselines = load("generate"), load("compare"), load("baselines")
    path = tmp_path / "calls.jsonl"
    generate.write_dataset(str(path), 120_000, seed=5, function_calls=True)
    mine = compare.run_path("tunestats", str(path), 1)
    theirs = compare.run_path("genai", str(path), 1)
    assert compare.differences(mine.stats, theirs.stats, "genai") == []
    assert theirs.stats["examples"] > 10

    texts = list(baselines._extract(str(path)))
    counted = int(tunestats.tokenizers.GeminiTokenizer("gemma3").count(texts).sum())
    assert compare.differences(mine.stats, {"tokens": counted}, "ceiling") == []


@pytest.mark.slow
def test_cluster_benchmark_runs_and_finds_beam_on_dask_equal_to_batch(tmp_path, capsys):
    """benchmarks/cluster.py end to end, small: batch and one Dask worker, same outputs."""
    pytest.importorskip("distributed")
    cluster = load("cluster")
    code = cluster.main(
        ["--files", "3", "--size", "200KB", "--big", "1MB", "--workers", "1", "--jobs", "1"]
        + ["--dir", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "dask 1 worker" in out and out.rstrip().endswith("yes")
