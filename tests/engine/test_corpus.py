"""Every real dataset in ../shared/corpus runs, and every line is accounted for."""

from __future__ import annotations

import pytest

import tunestats
from tests.conftest import CORPUS

FILES = sorted(CORPUS.glob("*/*.jsonl"))


def physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def non_blank(data: bytes) -> int:
    return sum(1 for line in data.split(b"\n") if line.strip(b" \t\r"))


def test_corpus_is_there():
    assert len(FILES) == 10


@pytest.mark.parametrize("task", ["supervised", "distillation"])
@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_corpus_lines_add_up(path, task):
    data = path.read_bytes()
    stats = tunestats.compute(str(path), tokenizer="cl100k_base", task=task)
    t = stats.training
    assert t.kept + t.dropped + t.blank == t.lines == physical_lines(data)
    assert t.kept + t.dropped == non_blank(data)
    doc = stats.to_dict()
    inner = (
        doc["supervisedTuningDataStats"]
        if task == "supervised"
        else doc["distillationDataStats"]["trainingDatasetStats"]
    )
    assert int(inner.get("tuningDatasetExampleCount", "0")) == t.kept


def test_corpus_known_outcomes():
    expected = {
        "gemini/patient_glucose_sysinstr.jsonl": ("gemini", 1, 0),
        "gemini10/colombia_traffic_law_es.jsonl": ("gemini-messages", 1074, 0),
        "openai/colombia_traffic_law_openai.jsonl": ("openai-chat", 1074, 0),
        "openai/drone_tools_cookbook.jsonl": ("openai-chat", 103, 0),
        "openai/laa_prompt_completion.jsonl": ("prompt-completion", 94, 0),
        "palm/gemini_faq_gdg.jsonl": ("palm", 14, 0),
        "broken/training_data_wrong.jsonl": ("gemini-messages", 36, 0),
        # Batch-prediction files wrap the request: no format of SPEC §1 (every line dropped).
        "distill/batch_prompts_search_tool.jsonl": ("gemini", 0, 10),
    }
    for name, (fmt, kept, dropped) in expected.items():
        t = tunestats.compute(str(CORPUS / name), tokenizer="cl100k_base").training
        assert (t.format, t.kept, t.dropped) == (fmt, kept, dropped), name
