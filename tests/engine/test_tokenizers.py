"""Tokenizers: counts checked against independent counters, never against themselves.

- OpenAI encodings (bpe-openai's Rust counter) against tiktoken's BPE over the same files, on
  every text of the corpus and on generated text.
- Gemini / SentencePiece: the shipped models (hashes, notices, the default for every Gemini
  profile, Google's caches never consulted) and a tiny model trained here for user files:
  counts per example as SPEC §2 says, exactness by sha256. google-genai's own LocalTokenizer
  is compared in test_gemini_reference.py.
- ``hf:PATH`` with a tiny ``tokenizers`` BPE trained here.
- Every tokenizer survives pickling (workers get them that way).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import pickle
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tunestats
from tests.conftest import CORPUS, write_jsonl
from tests.support.tokenizer_tools import sentencepiece_only_pieces, strings_in
from tunestats import tokenizers as tk
from tunestats.config.options import Options
from tunestats.config.plan import make_plan
from tunestats.config.profiles import PROFILES
from tunestats.tokenizers import TokenizerError, gemini, openai

CORPUS_FILES = sorted(CORPUS.glob("*/*.jsonl"))
CORPUS_IDS = [f"{p.parent.name}/{p.name}" for p in CORPUS_FILES]
ENCODINGS = tk.OPENAI_ENCODINGS

# Text for the tiny trained models: prompt/completion pairs in English and Spanish.
TRAIN_FILES = ("openai/laa_prompt_completion.jsonl", "palm/gemini_faq_gdg.jsonl")


# --- helpers ---------------------------------------------------------------------------------


def corpus_texts(path: Path) -> list[str]:
    """Each physical line as text, then every string of every record."""
    texts: list[str] = []
    for raw in path.read_bytes().split(b"\n"):
        line = raw.decode("utf-8")
        texts.append(line)
        if line.strip():
            texts.extend(strings_in(json.loads(line)))
    return texts


@functools.cache
def tiktoken_encodings() -> dict[str, Any]:
    return {name: tk.tiktoken_encoding(name) for name in ENCODINGS}


@functools.cache
def openai_encodings() -> dict[str, tk.OpenAIEncoding]:
    return {name: tk.OpenAIEncoding(name) for name in ENCODINGS}


def training_sentences() -> list[str]:
    sentences = []
    for name in TRAIN_FILES:
        for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                sentences += [s for s in strings_in(json.loads(line)) if len(s) > 20]
    return sentences


@functools.cache
def tiny_sentencepiece(model_type: str = "unigram") -> bytes:
    import sentencepiece

    writer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(training_sentences()),
        model_writer=writer,
        vocab_size=200,
        model_type=model_type,
        minloglevel=2,
    )
    return writer.getvalue()


def longer_run(strategy: st.SearchStrategy, max_examples: int) -> Callable[[Callable], Callable]:
    """Decorates the slow (``-m slow``) twin of a property test: ``max_examples`` non-empty lists
    of up to 6 texts from ``strategy``."""

    def decorate(test):
        test = given(texts=st.lists(strategy, min_size=1, max_size=6))(test)
        slow = settings(
            max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        )
        return pytest.mark.slow(slow(test))

    return decorate


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- OpenAI encodings: bpe-openai against tiktoken ---------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("path", CORPUS_FILES, ids=CORPUS_IDS)
def test_openai_counts_equal_tiktoken_on_corpus(path, encoding):
    texts = corpus_texts(path)
    assert texts
    counts = openai_encodings()[encoding].count(texts)
    assert isinstance(counts, np.ndarray)
    assert counts.dtype == np.int64
    assert counts.shape == (len(texts),)
    enc = tiktoken_encodings()[encoding]
    expected = [len(enc.encode_ordinary(t)) for t in texts]
    mismatches = [
        (t[:60], int(got), want) for t, got, want in zip(texts, counts, expected) if got != want
    ]
    assert not mismatches, f"{len(mismatches)} texts differ, first: {mismatches[:3]}"
    assert int(counts.sum()) == sum(expected) > 0


def test_openai_count_of_nothing():
    for enc in openai_encodings().values():
        counts = enc.count([])
        assert counts.dtype == np.int64 and counts.shape == (0,)
        assert enc.count([""]).tolist() == [0]


# Strings made to hit the pre-tokenizer's edge cases: whitespace runs before words and at the
# end, contractions in both cases, digit runs, special-token look-alikes (counted as text).
FRAGMENTS = [
    " ",
    "  ",
    "   ",
    "\n",
    "\n\n",
    " \n ",
    "\t",
    "\r\n",
    "\u00a0",
    "\u2003",
    "\u3000",
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|im_start|>",
    "<|endofprompt|>",
    "'s",
    "'S",
    "'ll",
    "'LL",
    "'re",
    "1",
    "12",
    "123",
    "1234567",
    "abc",
    "ABC",
    "Ünïcödé",
    "日本語",
    "한국어",
    "عربى",
    "🙂",
    "👩‍👩‍👧",
    "\u0301",
    "!!",
    "...",
    "x" * 40,
]
utf8_text = st.text(st.characters(codec="utf-8"))
TEXTS = st.one_of(
    st.text(),
    utf8_text,
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.text(st.characters(codec="utf-8"), max_size=6)),
        max_size=30,
    ).map("".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(TEXTS, max_size=6))
def test_openai_counts_equal_tiktoken_property(texts):
    for name, enc in openai_encodings().items():
        reference = tiktoken_encodings()[name]
        expected = [len(reference.encode_ordinary(t)) for t in texts]
        assert enc.count(texts).tolist() == expected, name


@longer_run(TEXTS, max_examples=2500)
def test_openai_counts_equal_tiktoken_property_long(texts):
    test_openai_counts_equal_tiktoken_property.hypothesis.inner_test(texts)


def test_special_token_text_counts_as_text():
    """No special tokens: "<|endoftext|>" is ordinary text of several tokens."""
    for name, enc in openai_encodings().items():
        n = int(enc.count(["<|endoftext|>"])[0])
        assert n == len(tiktoken_encodings()[name].encode_ordinary("<|endoftext|>")) > 1


def test_tiktoken_encoding_rejects_a_tampered_hash(monkeypatch):
    monkeypatch.setitem(openai._TIKTOKEN_HASHES, "cl100k_base", "0" * 64)
    with pytest.raises(TokenizerError, match="sha256"):
        tk.tiktoken_encoding("cl100k_base")


def test_unknown_openai_encoding():
    with pytest.raises(TokenizerError, match="p50k_base"):
        tk.OpenAIEncoding("p50k_base")
    with pytest.raises(TokenizerError, match="unknown tokenizer"):
        tk.choose_tokenizer("p50k_base", None, "gemma3")


# --- Gemini / SentencePiece --------------------------------------------------------------------


@pytest.fixture
def sp_model(tmp_path) -> Path:
    path = tmp_path / "tiny.spiece.model"
    path.write_bytes(tiny_sentencepiece())
    return path


def gemini_records() -> list[dict[str, Any]]:
    """Supervised Gemini records from corpus text: system instructions, several text parts,
    multi-turn, an empty text part, non-ASCII text."""
    sentences = training_sentences()
    records: list[dict[str, Any]] = []
    for i in range(0, 40, 2):
        prompt, answer = sentences[i], sentences[i + 1]
        record: dict[str, Any] = {}
        if i % 6 == 0:
            record["systemInstruction"] = {"parts": [{"text": "Answer in Spanish, señor."}]}
        user_parts = [{"text": prompt}]
        if i % 4 == 0:
            user_parts.append({"text": " ¿Por qué? " + sentences[i + 2][:50]})
        contents = [
            {"role": "user", "parts": user_parts},
            {"role": "model", "parts": [{"text": answer}, {"text": ""}]},
        ]
        if i % 8 == 0:
            contents += [
                {"role": "user", "parts": [{"text": "And then?  \n\t日本語"}]},
                {"role": "model", "parts": [{"text": sentences[i + 3]}]},
            ]
        record["contents"] = contents
        records.append(record)
    return records


def gemini_dataset(path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The records, plus a blank line and a dropped record (role "assistant")."""
    records = gemini_records()
    bad = {"contents": [{"role": "assistant", "parts": [{"text": "no"}]}]}
    rows: list[Any] = [*records[:5], "", bad, *records[5:]]
    return write_jsonl(path, rows), records


def expected_gemini_counts(records, count) -> tuple[Counter, Counter]:
    """Per-example input and output tokens, every text part counted alone (SPEC §2)."""
    inputs, outputs = Counter(), Counter()
    for record in records:
        n_in = sum(count(p["text"]) for p in record.get("systemInstruction", {}).get("parts", []))
        n_out = 0
        for content in record["contents"]:
            n = sum(count(p["text"]) for p in content["parts"])
            if content["role"] == "model":
                n_out += n
            else:
                n_in += n
        inputs[n_in] += 1
        outputs[n_out] += 1
    return inputs, outputs


def sp_counter(model: Path):
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(model))
    return lambda text: len(sp.encode(text))


def check_counts(stats: tunestats.Stats, records, count) -> None:
    inputs, outputs = expected_gemini_counts(records, count)
    acc = stats.training.accumulator
    assert stats.training.kept == len(records)
    assert stats.training.dropped == 1
    assert Counter(acc.input_tokens.counts) == inputs
    assert Counter(acc.output_tokens.counts) == outputs
    inner = stats.to_dict()["supervisedTuningDataStats"]
    total_in = sum(v * n for v, n in inputs.items())
    total_out = sum(v * n for v, n in outputs.items())
    assert inner["userInputTokenDistribution"]["sum"] == str(total_in)
    assert inner["userOutputTokenDistribution"]["sum"] == str(total_out)
    assert inner["totalBillableTokenCount"] == str(total_in + total_out)


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_sentencepiece_tokenizer_counts_like_sentencepiece(tmp_path, model_type):
    model = tmp_path / "m.model"
    model.write_bytes(tiny_sentencepiece(model_type))
    count = sp_counter(model)
    texts = ["", " ", "hello world", "£100 señor 日本語 🙂", "<|endoftext|>", *training_sentences()]
    tok = tk.SentencePieceTokenizer(model.read_bytes(), "tiny")
    assert tok.count(texts).tolist() == [count(t) for t in texts]


def test_gemini_counts_per_example_with_unknown_model(tmp_path, sp_model):
    path, records = gemini_dataset(tmp_path / "train.jsonl")
    stats = tunestats.compute(str(path), tokenizer="gemini", tokenizer_model=str(sp_model))
    check_counts(stats, records, sp_counter(sp_model))
    assert stats.exact is False
    assert stats.tokenizer == f"sentencepiece:{sp_model}"
    assert len(stats.notes) == 1
    note = stats.notes[0]
    assert "not one of Google's Gemini tokenizer models" in note
    assert sha256(sp_model.read_bytes())[:12] in note
    assert "estimates" in note


def shipped_file(key: str) -> Path:
    return Path(tunestats.__file__).parent / "data" / tk.GEMINI_TOKENIZER_MODELS[key].filename


@pytest.mark.parametrize("key", sorted(tk.GEMINI_TOKENIZER_MODELS))
def test_shipped_models_have_their_published_hashes(key):
    entry = tk.GEMINI_TOKENIZER_MODELS[key]
    data = shipped_file(key).read_bytes()
    assert sha256(data) == entry.sha256
    assert tk.shipped_model_bytes(key) == data
    # the copy in shared/tokenizers, which PROVENANCE.md describes, is the same file
    shared = CORPUS.parent / "tokenizers" / entry.filename
    assert shared.read_bytes() == data


def test_license_notice_names_every_shipped_model():
    notice = " ".join(
        (Path(tunestats.__file__).parent / "data" / "NOTICE.md").read_text("utf-8").split()
    )
    assert "Apache License, Version 2.0" in notice and "Gemma Terms of Use" in notice
    for entry in tk.GEMINI_TOKENIZER_MODELS.values():
        assert entry.filename in notice and entry.sha256 in notice


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("gemini-2.5-flash", "gemma3"),
        ("gemini-2.5-pro", "gemma3"),
        ("gemini-2.0-flash-lite-001", "gemma3"),
        ("gemini-3.5-flash", "gemma4"),
        ("gemini-3.1-flash-lite", "gemma4"),
        ("gemini-1.5-pro-002", "gemma2"),
        ("gemini-1.0-pro-002", "gemma2"),
    ],
)
def test_every_gemini_model_defaults_to_its_shipped_tokenizer(model, key):
    plan = make_plan(Options(model=model))
    assert plan.choice.exact is True and plan.choice.note == ""
    assert plan.choice.tokenizer.name == f"gemini:{tk.GEMINI_TOKENIZER_MODELS[key].filename}"
    assert tunestats.compute(
        str(CORPUS / "gemini/patient_glucose_sysinstr.jsonl"), model=model
    ).exact
    # --tokenizer gemini names the same file
    assert make_plan(Options(model=model, tokenizer="gemini")).choice.tokenizer.name == (
        plan.choice.tokenizer.name
    )


def test_every_profile_of_a_gemini_model_is_exact_by_default():
    for name, profile in PROFILES.items():
        choice = make_plan(Options(model=name)).choice
        # issue 21: an open model's own tokenizer from the open-models extra, when installed
        own = profile.tokenizer
        installed = own not in tk.PACKAGED or tk.packaged_file(tk.PACKAGED[own]) is not None
        assert choice.exact is (own is not None and installed), name


def test_shipped_tokenizer_counts_like_sentencepiece_on_the_file():
    import sentencepiece

    texts = ["", " ", "hello world", "£100 señor 日本語 🙂", "<bos>", *training_sentences()]
    for key in tk.GEMINI_TOKENIZER_MODELS:
        sp = sentencepiece.SentencePieceProcessor(model_file=str(shipped_file(key)))
        expected = [len(sp.encode(t)) for t in texts]
        for threads in (1, 2, None):
            assert tk.GeminiTokenizer(key, threads).count(texts).tolist() == expected


def test_default_counts_per_example_with_the_gemini_2_file(tmp_path):
    path, records = gemini_dataset(tmp_path / "train.jsonl")
    stats = tunestats.compute(str(path))
    assert stats.exact is True and stats.notes == []
    assert stats.tokenizer == "gemini:gemma3_cleaned_262144_v2.spiece.model"
    check_counts(stats, records, sp_counter(shipped_file("gemma3")))


def test_given_copy_of_a_gemini_file_is_known_by_its_hash(tmp_path):
    copy = tmp_path / "any-name.model"
    copy.write_bytes(shipped_file("gemma3").read_bytes())
    choice = tk.choose_tokenizer("gemini", str(copy), "gemma3")
    assert choice.exact is True and choice.note == ""
    assert choice.tokenizer.name == "gemini:gemma3_cleaned_262144_v2.spiece.model"
    # the same file on a Gemini 1.x model is the wrong generation: an estimate
    other = tk.choose_tokenizer(None, str(copy), "gemma2")
    assert other.exact is False
    assert "Gemini 2.x" in other.note and "estimates" in other.note


def test_gemini_model_of_another_generation_is_an_estimate(tmp_path):
    path, _ = gemini_dataset(tmp_path / "train.jsonl")
    gemini1 = str(shipped_file("gemma2"))
    stats = tunestats.compute(str(path), tokenizer_model=gemini1, model="gemini-2.0-flash")
    assert stats.exact is False
    assert "Gemini 1.x" in stats.notes[0] and "estimates" in stats.notes[0]
    stats = tunestats.compute(str(path), tokenizer_model=gemini1, model="gemini-1.5-flash-002")
    assert stats.exact is True and stats.notes == []


def test_open_model_gets_one_note_naming_what_would_make_it_exact(tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "pc.jsonl", [{"prompt": "Hi", "completion": "Hello"}])
    model = "meta/llama3_1@llama-3.1-8b"
    # issue 21: Llama counts with its own tokenizer; without the open-models extra, an estimate
    nowhere = (("tunestats-no-such-package", "tokenizer.model"),)
    monkeypatch.setitem(
        tk.PACKAGED, "llama3", dataclasses.replace(tk.PACKAGED["llama3"], places=nowhere)
    )
    stats = tunestats.compute(str(path), model=model)
    assert stats.tokenizer == "cl100k_base" and stats.exact is False
    assert len(stats.notes) == 1
    note = stats.notes[0]
    assert "estimates" in note and model in note and "tunestats[open-models]" in note
    assert "Gemini" not in note  # no word about a missing Gemini model for an open model
    # --tokenizer gemini on an open model: Gemini 2.x counts, an estimate
    gemini = tunestats.compute(str(path), model=model, tokenizer="gemini")
    assert gemini.exact is False and "estimates" in gemini.notes[0]


def test_openai_encoding_on_a_gemini_model_says_how_to_be_exact():
    choice = make_plan(Options(tokenizer="o200k_base")).choice
    assert choice.exact is False
    assert "o200k_base estimates" in choice.note and "leave out --tokenizer" in choice.note


@pytest.fixture
def tempdir(tmp_path, monkeypatch) -> Path:
    """tempfile.gettempdir() (where the Google SDKs cache tokenizer models) -> a fresh dir."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def google_cache_path(key: str) -> Path:
    """Where google-genai / vertexai cache a model: tmp/vertexai_tokenizer_model/sha1(url)."""
    url = tk.GEMINI_TOKENIZER_MODELS[key].url
    name = hashlib.sha1(url.encode()).hexdigest()
    return Path(tempfile.gettempdir()) / "vertexai_tokenizer_model" / name


def test_google_cache_is_not_consulted(tmp_path, tempdir):
    """A file another user left in a shared temporary directory changes nothing."""
    path, records = gemini_dataset(tmp_path / "train.jsonl")
    before = tunestats.compute(str(path)).to_dict()
    planted = google_cache_path("gemma3")
    planted.parent.mkdir(parents=True)
    planted.write_bytes(tiny_sentencepiece())
    for key in ("gemma2", "gemma4"):
        google_cache_path(key).write_bytes(tiny_sentencepiece("bpe"))
    stats = tunestats.compute(str(path))
    assert stats.to_dict() == before
    assert stats.exact is True
    check_counts(stats, records, sp_counter(shipped_file("gemma3")))


def test_a_damaged_shipped_file_is_a_tokenizer_error(monkeypatch):
    entry = tk.GEMINI_TOKENIZER_MODELS["gemma4"]
    monkeypatch.setitem(
        tk.GEMINI_TOKENIZER_MODELS, "gemma4", dataclasses.replace(entry, sha256="0" * 64)
    )
    with pytest.raises(TokenizerError, match="damaged"):
        tk.shipped_model_bytes("gemma4")


def test_gemini_tokenizer_pickles_as_its_key():
    tok = tk.GeminiTokenizer("gemma3")
    assert len(pickle.dumps(tok)) < 200  # not the 4.7 MB model
    clone = pickle.loads(pickle.dumps(tok))
    assert clone.name == tok.name and clone.count(["hola señor"]).tolist() == [
        int(tok.count(["hola señor"])[0])
    ]


def test_gemini_tokenizer_model_that_cannot_be_read(tmp_path):
    with pytest.raises(TokenizerError, match="cannot read"):
        tk.choose_tokenizer("gemini", str(tmp_path / "missing.model"), "gemma3")


def test_gemini_tokenizer_model_that_is_not_a_model(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"not a sentencepiece model")
    with pytest.raises(TokenizerError, match="not a SentencePiece model"):
        tk.choose_tokenizer("gemini", str(bad), "gemma3")


# --- Hugging Face tokenizer.json ---------------------------------------------------------------


@functools.cache
def tiny_hf_json() -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["[UNK]", "[BOS]"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_sentences(), trainer)
    # A special token added around every text: counts must leave it out.
    tok.post_processor = processors.TemplateProcessing(
        single="[BOS] $A", special_tokens=[("[BOS]", tok.token_to_id("[BOS]"))]
    )
    return tok.to_str()


@pytest.fixture
def hf_json(tmp_path) -> Path:
    path = tmp_path / "tokenizer.json"
    path.write_text(tiny_hf_json(), encoding="utf-8")
    return path


def test_hf_tokenizer_counts_per_example(tmp_path, hf_json):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(hf_json))
    assert (
        len(tok.encode("hello").ids) == len(tok.encode("hello", add_special_tokens=False).ids) + 1
    )

    def count(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False).ids)

    sentences = training_sentences()
    rows = [{"prompt": sentences[i], "completion": sentences[i + 1]} for i in range(0, 30, 2)]
    rows.append({"prompt": "señor 日本語 🙂 <|endoftext|>", "completion": " \n "})
    path = write_jsonl(tmp_path / "pc.jsonl", rows)

    model = "meta/llama3_1@llama-3.1-8b"
    stats = tunestats.compute(str(path), tokenizer=f"hf:{hf_json}", model=model)
    assert stats.tokenizer == f"hf:{hf_json}"
    # issue 18: an open model: tunestats cannot check the file is its own, so an estimate
    assert stats.exact is False and len(stats.notes) == 1 and "estimates" in stats.notes[0]
    acc = stats.training.accumulator
    assert stats.training.kept == len(rows)
    assert Counter(acc.input_tokens.counts) == Counter(count(r["prompt"]) for r in rows)
    assert Counter(acc.output_tokens.counts) == Counter(count(r["completion"]) for r in rows)
    total = sum(count(r["prompt"]) + count(r["completion"]) for r in rows)
    inner = stats.to_dict()["supervisedTuningDataStats"]
    assert inner["totalBillableTokenCount"] == str(total)

    texts = [t for r in rows for t in r.values()]
    assert tk.HFTokenizer(str(hf_json)).count(texts).tolist() == [count(t) for t in texts]

    # On a Gemini model a Hugging Face tokenizer only estimates.
    gemini = tunestats.compute(str(path), tokenizer=f"hf:{hf_json}")
    assert gemini.exact is False and "estimates" in gemini.notes[0]


@pytest.mark.parametrize(
    "content", [b"", b"{}", b"not json", b'{"model": {"type": "Nope"}}', b"\xff\xfe\x00"]
)
def test_hf_bad_file_is_a_tokenizer_error(tmp_path, content):
    bad = tmp_path / "tokenizer.json"
    bad.write_bytes(content)
    with pytest.raises(TokenizerError, match="tokenizer"):
        tunestats.compute(str(CORPUS / "palm/gemini_faq_gdg.jsonl"), tokenizer=f"hf:{bad}")


def test_hf_missing_file_is_a_tokenizer_error(tmp_path):
    with pytest.raises(TokenizerError, match="cannot read"):
        tk.choose_tokenizer(f"hf:{tmp_path / 'missing.json'}", None, None)


# --- pickling ----------------------------------------------------------------------------------


def all_tokenizers(tmp_path: Path) -> list[Any]:
    hf = tmp_path / "tokenizer.json"
    hf.write_text(tiny_hf_json(), encoding="utf-8")
    return [
        *(tk.OpenAIEncoding(name) for name in ENCODINGS),
        tk.SentencePieceTokenizer(tiny_sentencepiece(), "sentencepiece:tiny"),
        tk.SentencePieceTokenizer(tiny_sentencepiece("bpe"), "sentencepiece:tiny-bpe"),
        tk.HFTokenizer(str(hf)),
    ]


def test_tokenizers_survive_pickling(tmp_path):
    texts = ["", "hello world", "señor 日本語 🙂", "<|endoftext|>", *training_sentences()[:20]]
    for tok in all_tokenizers(tmp_path):
        clone = pickle.loads(pickle.dumps(tok))
        assert type(clone) is type(tok)
        assert clone.name == tok.name
        assert clone.count(texts).tolist() == tok.count(texts).tolist()
        assert clone.count(texts).dtype == np.int64


def test_tokenizer_choice_survives_pickling(tmp_path, sp_model):
    choice = tk.choose_tokenizer("gemini", str(sp_model), "gemma3")
    clone = pickle.loads(pickle.dumps(choice))
    assert (clone.exact, clone.note, clone.tokenizer.name) == (
        choice.exact,
        choice.note,
        choice.tokenizer.name,
    )
    assert (
        clone.tokenizer.count(["hola señor"]).tolist()
        == choice.tokenizer.count(["hola señor"]).tolist()
    )


# --- kitoken: the faster engine for the shipped Gemini models, proven identical ----------------


def engines(key: str) -> tuple[Any, Any]:
    """(SentencePiece, kitoken with its SentencePiece fallback) for a shipped model."""
    return tk.GeminiTokenizer(key, engine="sentencepiece"), tk.GeminiTokenizer(
        key, engine="kitoken"
    )


GEMINI_KEYS = sorted(tk.GEMINI_TOKENIZER_MODELS)
# Texts a BPE port gets wrong first: the one piece that crosses a space (">▁</"), runs of one
# character and of white space, byte fallback, literal U+2581, special-token look-alikes.
GEMINI_FRAGMENTS = [
    *FRAGMENTS,
    "> </",
    "<td> </td>",
    ">  </",
    "a>\u2581</b",
    "\u2581",
    "\u2581\u2581 ",
    "<bos>",
    "<eos>",
    "<pad>",
    "<unk>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "\x00",
    "\x7f",
    "\ufeff",
    "\U0001f9ea",
    "\U000e0001",
    "a" * 300,
    " " * 300,
    "\n" * 50,
    "ab" * 100,
    "def f(x):\n    return x  # </b>\n",
    " yyyy",
    " YYYY hh:mm",
    " diffformul",
    " ::::::::",
    " ссср",
]
GEMINI_TEXTS = st.one_of(
    TEXTS,
    st.lists(
        st.one_of(
            st.sampled_from(GEMINI_FRAGMENTS), st.text(st.characters(codec="utf-8"), max_size=8)
        ),
        max_size=40,
    ).map("".join),
)


@pytest.mark.parametrize("key", GEMINI_KEYS)
def test_kitoken_counts_equal_sentencepiece_on_corpus(key):
    sentencepiece, kitoken = engines(key)
    texts = [t for path in CORPUS_FILES for t in corpus_texts(path)]
    texts += [p.read_text(encoding="utf-8") for p in sorted(Path(tk.__file__).parent.glob("*.py"))]
    texts += [t for t in GEMINI_FRAGMENTS]
    expected = sentencepiece.count(texts)
    got = kitoken.count(texts)
    differ = [(t[:60], int(a), int(b)) for t, a, b in zip(texts, got, expected) if a != b]
    assert not differ, f"{len(differ)} of {len(texts)} texts differ, first: {differ[:3]}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(GEMINI_TEXTS, max_size=6))
def test_kitoken_counts_equal_sentencepiece_property(texts):
    for key in GEMINI_KEYS:
        sentencepiece, kitoken = engines(key)
        assert kitoken.count(texts).tolist() == sentencepiece.count(texts).tolist(), key


@longer_run(GEMINI_TEXTS, max_examples=4000)
def test_kitoken_counts_equal_sentencepiece_property_long(texts):
    test_kitoken_counts_equal_sentencepiece_property.hypothesis.inner_test(texts)


def test_kitoken_alone_differs_across_a_space_so_sentencepiece_counts_those():
    """Why the fallback exists: kitoken splits before runs of spaces, so it cannot form the
    piece ">▁</" that SentencePiece forms in "a> </b"."""
    import kitoken

    model = tk.shipped_model_bytes("gemma3")
    alone = kitoken.Kitoken.from_sentencepiece(model)
    sentencepiece, counter = engines("gemma3")
    assert len(alone.encode("a> </b")) == 4
    assert sentencepiece.count(["a> </b"]).tolist() == [3] == counter.count(["a> </b"]).tolist()
    fast = gemini._shipped_counter("gemma3", None, "kitoken").fast
    assert ("</", ">\u2581</") in fast.pieces
    assert fast.needs_sentencepiece("a> </b") and fast.needs_sentencepiece("a>\u2581</b")
    assert not fast.needs_sentencepiece("a>  </b") and not fast.needs_sentencepiece("</b> x")


@pytest.mark.parametrize("key", GEMINI_KEYS)
def test_sentencepiece_only_pieces_are_those_of_the_vocabulary(key):
    sp = gemini._ShippedCounter(key, None, "sentencepiece").sentencepiece._sp
    found = tuple(sentencepiece_only_pieces(sp))
    assert found == tk.GEMINI_TOKENIZER_MODELS[key].sentencepiece_only


def test_kitoken_takes_unreachable_pieces_whole_so_sentencepiece_counts_those():
    """The second difference: a part between runs of spaces that is itself a piece kitoken
    takes whole, where SentencePiece's merges never reach it (found in a Python source:
    pandas/io/stata.py, "# format dd Mon yyyy hh:mm")."""
    import kitoken

    alone = kitoken.Kitoken.from_sentencepiece(tk.shipped_model_bytes("gemma3"))
    sentencepiece, counter = engines("gemma3")
    line = "        # format dd Mon yyyy hh:mm"
    assert len(alone.encode(line)) == 9
    assert sentencepiece.count([line]).tolist() == [11] == counter.count([line]).tolist()
    for text in (" yyyy", " YYYY", " diffformul", " ::::::::", "a yyyyy b"):
        assert counter.count([text]).tolist() == sentencepiece.count([text]).tolist()
    one_x = tk.GeminiTokenizer("gemma2", engine="kitoken")
    reference = tk.GeminiTokenizer("gemma2", engine="sentencepiece")
    assert one_x.count([" ссср"]).tolist() == reference.count([" ссср"]).tolist() == [3]


def test_kitoken_threads_count_like_one_thread():
    texts = [t for path in CORPUS_FILES for t in corpus_texts(path)][:3000]
    one = tk.GeminiTokenizer("gemma3", threads=1, engine="kitoken").count(texts).tolist()
    for threads in (2, 3):
        counter = tk.GeminiTokenizer("gemma3", threads=threads, engine="kitoken")
        assert counter.count(texts).tolist() == one
    assert [len(p) for p in gemini._split_evenly(["x" * 30_000] * 4, 2)] == [2, 2]
    assert gemini._split_evenly(["short"] * 10, 4) == [["short"] * 10]


def test_auto_engine_switches_to_kitoken_after_enough_text(monkeypatch):
    monkeypatch.setattr(gemini, "KITOKEN_AFTER_CHARS", 1000)
    counter = gemini._ShippedCounter("gemma3", None, "auto")
    texts = training_sentences()
    expected = tk.GeminiTokenizer("gemma3", engine="sentencepiece").count(texts).tolist()
    assert counter.count(texts[:2]).tolist() == expected[:2]
    assert counter.fast is None  # a small run never loads kitoken
    assert counter.count(texts).tolist() == expected
    assert counter.fast is not None
    assert counter.count(texts).tolist() == expected
