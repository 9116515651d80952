"""The benchmark generator: deterministic, and every record it writes is a valid example."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import tunestats

GENERATE = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"


def load_generate():
    spec = importlib.util.spec_from_file_location("bench_generate", GENERATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
