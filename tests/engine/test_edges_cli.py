"""Issue 18, first-time users: the progress line, wording, `hf:` tokenizers, model names, errors.

Each test names the item of the issue it guards (12, 13, 15, 16, 18) and uses its reproducer.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import unicodedata
from pathlib import Path

import pytest

import tunestats
from tunestats.cli import main
from tunestats.config.profiles import PROFILES, UnknownModel, generation, get_profile, suggest
from tunestats.present.progress import Progress, render
from tunestats.tokenizers import TokenizerError, choose_tokenizer

README = Path(__file__).resolve().parents[2] / "README.md"
GOOD = {
    "contents": [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "ok"}]},
    ]
}
LABEL = "gs://my-bucket/tuning/datasets/2026/customer-support/train-final.jsonl"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def cells(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# --- 12: the progress line fits the terminal ---------------------------------------------------


@pytest.mark.parametrize("width", [40, 80, 120])
def test_render_fits_the_width(width):
    cases = [
        (LABEL, 250_000_000, 500_000_000, 1234, 10.0),  # a known total: bar, percentage, ETA
        (LABEL, 2048, None, 3, 1.0),  # stdin or compressed: no total
        ("データセット/訓練データ.jsonl", 10**6, 4 * 10**6, 50, 2.0),  # wide characters
    ]
    for args in cases:
        line = render(*args, width=width)
        assert 0 < cells(line) < width, line  # one column short: no wrap, whatever the terminal
        assert "\n" not in line and "\r" not in line
    known = render(LABEL, 250_000_000, 500_000_000, 1234, 10.0, width=width)
    assert " 50%" in known and "ETA 0:10" in known  # the last numbers left out
    # The label is cut from the left: its end (the file name) stays.
    assert known.startswith("…") and LABEL.endswith(known.split(" ")[0][1:])


def test_render_drops_the_bar_before_any_number_and_numbers_least_useful_first():
    full = render(LABEL, 250_000_000, 500_000_000, 1234, 10.0)  # no width: everything
    assert "[" + "#" * 12 + "." * 12 + "]" in full and "ETA 0:10" in full
    at_120 = render(LABEL, 250_000_000, 500_000_000, 1234, 10.0, width=120)
    assert "[" not in at_120  # the bar went, every number stayed
    assert "250.0 MB / 500.0 MB, 1,234 examples, 25.0 MB/s, ETA 0:10" in at_120
    at_80 = render(LABEL, 250_000_000, 500_000_000, 1234, 10.0, width=80)
    assert "250.0 MB / 500.0 MB, 1,234 examples, 25.0 MB/s, ETA 0:10" in at_80
    assert len(at_80.split(" ")[0]) >= 12  # the label keeps its minimum
    at_40 = render(LABEL, 250_000_000, 500_000_000, 1234, 10.0, width=40)
    assert "MB/s" not in at_40 and "examples" not in at_40  # throughput went first
    assert " 50%" in at_40 and "ETA 0:10" in at_40
    # A short label keeps a bar, shrunk to what the width leaves.
    short = render("train.jsonl", 250_000_000, 500_000_000, 1234, 10.0, width=100)
    assert short.startswith("train.jsonl [#") and len(short) == 99
    assert 8 <= len(short.split("[")[1].split("]")[0]) < 24
    no_room = render("train.jsonl", 250_000_000, 500_000_000, 1234, 10.0, width=80)
    assert no_room.startswith("train.jsonl  50% 250.0 MB")  # under 8 cells, no bar at all
    assert render("train.jsonl", 250_000_000, 500_000_000, 1234, 10.0, width=120) == full.replace(
        LABEL, "train.jsonl"
    )


def test_render_escapes_a_label_that_would_move_the_cursor():
    line = render("evil\x1b[2J\n.jsonl", 10, None, 1, 1.0, width=80)
    assert "\x1b" not in line and "\n" not in line and "\\x1b" in line


def test_eta_counts_down_and_needs_a_total():
    assert "ETA 1:30" in render("f", 100, 400, 1, 30.0)  # a quarter in 30 s: 90 s left
    assert "ETA 1:00:00" in render("f", 1, 2, 1, 3600.0)
    assert "ETA" not in render("f", 100, None, 1, 30.0)  # no total, no ETA
    assert "ETA" not in render("f", 400, 400, 1, 30.0)  # done


def test_progress_draws_within_the_terminal_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    stream = io.StringIO()
    progress = Progress(stream, delay=3600)  # the thread never draws: _draw is called here
    progress.begin(LABEL, 500_000_000)
    progress.counts[0] = 250_000_000
    progress._draw()
    progress.close()
    drawn = stream.getvalue().split("\r\x1b[2K")[1]
    assert 0 < len(drawn) < 40 and " 50%" in drawn


def test_batch_progress_has_a_total_and_a_percentage(tmp_path):
    """Datasets done of the total, and a share: by bytes when no dataset is compressed, by
    datasets otherwise (a compressed size cannot be compared with the bytes read)."""
    from tunestats.batch import run_batch

    line = json.dumps(GOOD) + "\n"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(line * 5)
    (tmp_path / "in" / "b.jsonl").write_text(line * 3)
    plain = Progress(io.StringIO(), delay=3600)
    run_batch([str(tmp_path / "in")], str(tmp_path / "out1"), progress=plain, jobs=1)
    assert plain.total == len(line) * 8 and plain.items == (2, 2)
    done = plain.line(width=120)
    plain.close()
    assert "batch 2/2 datasets" in done and "100%" in done
    assert f"{len(line) * 8} B / {len(line) * 8} B" in done

    (tmp_path / "in" / "c.jsonl.gz").write_bytes(gzip.compress(line.encode() * 4))
    packed = Progress(io.StringIO(), delay=3600)
    run_batch([str(tmp_path / "in")], str(tmp_path / "out2"), progress=packed, jobs=1)
    assert packed.total is None and packed.items == (3, 3)
    assert "batch 3/3 datasets" in packed.line() and "100%" in packed.line()
    packed.close()
    assert "33%" in render("batch 1/3 datasets", 10, None, 1, 1.0, items=(1, 3))
    assert "ETA 0:02" in render("batch 1/3 datasets", 10, None, 1, 1.0, items=(1, 3))


# --- 13: wording ---------------------------------------------------------------------------


def test_the_drop_rejection_is_a_whole_sentence_in_the_singular(jsonl):
    stats = tunestats.compute(str(jsonl([GOOD, "not json"])), tokenizer="cl100k_base")
    (rejection,) = stats.readiness.rejections
    assert rejection.endswith(
        "1 of the 2 training examples (50.0%) is dropped; Vertex fails a job before training "
        "when more than 10% of its examples are dropped"
    )
    many = tunestats.compute(str(jsonl([GOOD, "x", "y"])), tokenizer="cl100k_base")
    assert "2 of the 3 training examples (66.7%) are dropped;" in many.readiness.rejections[0]
    import dataclasses

    from tunestats.counting.accumulate import Accumulator
    from tunestats.job.readiness import check_job

    only = dataclasses.replace(Accumulator().result(), examples=0, dropped=1)
    (rejection,) = check_job(get_profile("gemini-2.5-flash"), only, "gemini").rejections
    assert "the only training example (100.0%) is dropped;" in rejection


def test_counts_agree_with_their_nouns(jsonl):
    from tunestats.job.readiness import plural, verb

    assert plural(1, "example") == "1 example" and plural(2, "example") == "2 examples"
    assert plural(1_234, "media part") == "1,234 media parts"
    assert plural(0, "job limit") == "0 job limits"
    assert verb(1, "is", "are") == "is" and verb(3, "is", "are") == "are"
    image = {
        "contents": [
            {
                "role": "user",
                "parts": [{"fileData": {"mimeType": "image/png", "fileUri": "gs://b/x.png"}}],
            },
            {"role": "model", "parts": [{"text": "ok"}]},
        ]
    }
    stats = tunestats.compute(str(jsonl([image, GOOD])), tokenizer="cl100k_base", media="skip")
    from tunestats.present.text import media_line, text_report

    assert media_line(stats).endswith("1 media part counts 0 tokens")
    report = text_report(stats, stats.training, "training")
    assert "media: 1 media part, 0 tokens" in report
    assert not re.search(r"\b1 (images|examples|media parts|tokens)\b", report)


def test_strict_says_example_in_the_singular(capsys, jsonl):
    path = str(jsonl([GOOD] * 20 + ["bad"]))
    code, _, err = run_cli(capsys, "stats", path, "--tokenizer", "cl100k_base", "--strict")
    assert code == 3 and "--strict: 1 example dropped; 0 job limits broken" in err


def test_too_long_reasons_have_thousands_separators(jsonl):
    big = {"prompt": "word " * 140_000, "completion": "ok"}
    stats = tunestats.compute(
        str(jsonl([big, {"prompt": "a", "completion": "b"}])),
        tokenizer="cl100k_base",
        model="gemini-2.5-flash",
        format="prompt-completion",
    )
    (reason,) = stats.to_dict()["supervisedTuningDataStats"]["droppedExampleReasons"]
    assert re.search(r"example has \d{3},\d{3} tokens \(\d{3},\d{3} input \+ 1 output", reason)
    assert reason.endswith("the limit for gemini-2.5-flash is 131,072")
    mine = tunestats.compute(
        str(jsonl([{"prompt": "word " * 1500, "completion": "ok"}])),
        tokenizer="cl100k_base",
        max_tokens_per_example=1000,
    )
    (reason,) = mine.to_dict()["supervisedTuningDataStats"]["droppedExampleReasons"]
    assert re.search(r"example has 1,\d{3} tokens \(1,\d{3} input \+ 1 output", reason)
    assert reason.endswith("the limit (--max-tokens-per-example) is 1,000")


# --- 15: hf: tokenizers ----------------------------------------------------------------------


@pytest.fixture
def word_level_json(tmp_path) -> Path:
    tokenizers = pytest.importorskip("tokenizers")
    vocab = {"[UNK]": 0, "hi": 1, "ok": 2}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    path.write_text(tok.to_str(), encoding="utf-8")
    return path


@pytest.mark.parametrize("model", ["meta/llama3_1@llama-3.1-8b", "gemini-2.5-flash"])
def test_an_hf_tokenizer_is_an_estimate_for_every_model(jsonl, word_level_json, model):
    from tunestats.present.text import tokenizer_line

    rows = [{"prompt": "hi", "completion": "ok"}]
    stats = tunestats.compute(str(jsonl(rows)), tokenizer=f"hf:{word_level_json}", model=model)
    assert stats.tokenizer == f"hf:{word_level_json}"
    assert stats.exact is False and len(stats.notes) == 1
    assert "estimates" in stats.notes[0] and str(word_level_json) in stats.notes[0]
    line = tokenizer_line(stats)
    assert "ESTIMATES" in line and "exact for" not in line
    assert stats.training.kept == 1


def test_the_emulator_label_follows_the_hf_estimate(word_level_json):
    pytest.importorskip("starlette")
    from tunestats.emulator.labels import EXACT_LABEL, TokenizerLabels

    labels = TokenizerLabels(f"hf:{word_level_json}", None)
    assert labels.for_model("meta/llama3_1@llama-3.1-8b")[EXACT_LABEL] == "false"
    assert labels.for_model("gemini-2.5-flash")[EXACT_LABEL] == "false"
    assert TokenizerLabels(None, None).for_model("gemini-2.5-flash")[EXACT_LABEL] == "true"


@pytest.mark.parametrize("where", ["missing.json", "."])
def test_an_unreadable_tokenizer_file_is_one_clean_message(tmp_path, where):
    pytest.importorskip("tokenizers")
    path = str(tmp_path / where) if where != "." else str(tmp_path)
    with pytest.raises(TokenizerError) as info:
        choose_tokenizer(f"hf:{path}", None, None)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read tokenizer file: ")
    assert message.count(path) == 1 and "not a tokenizer.json" not in message
    with pytest.raises(TokenizerError) as info:
        choose_tokenizer("gemini", path, "gemma3")
    assert str(info.value).count(path) == 1


def test_a_bad_tokenizer_file_says_so_once(tmp_path):
    pytest.importorskip("tokenizers")
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{}")
    with pytest.raises(TokenizerError) as info:
        choose_tokenizer(f"hf:{bad}", None, None)
    assert str(info.value).startswith(f"{bad}: not a tokenizer.json: ")
    assert "cannot read" not in str(info.value)


# --- 16: model names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("gemini-2.5-flash-001", "gemini-2.5-flash"),
        ("Gemini-2.5-Flash-Lite-002", "gemini-2.5-flash-lite"),
        ("gemini-2.5-flsh", "gemini-2.5-flash"),
        ("gemini-2.0-flash-002", "gemini-2.0-flash"),
        ("gemini-1.5-pro-003", "gemini-1.5-pro"),
        ("gemini-3.5-flash-preview", "gemini-3.5-flash"),
        ("llama-3.1-8b-it", "meta/llama3_1@llama-3.1-8b"),
        ("gemini-9", None),
        ("gpt-4o", None),
    ],
)
def test_suggestions_stay_in_the_generation(typed, meant):
    assert suggest(typed) == meant
    if meant is not None and typed.lower().startswith("gemini-"):
        assert generation(meant) == generation(typed)


def test_the_unknown_model_error_points_at_tunestats_models(capsys):
    with pytest.raises(UnknownModel) as info:
        get_profile("gemini-2.5-flash-001")
    message = str(info.value)
    assert "did you mean gemini-2.5-flash?" in message and "gemini-2.0" not in message
    assert "`tunestats models` lists the known models" in message
    assert sum(name in message for name in PROFILES) <= 2  # no list of every name
    code, _, err = run_cli(capsys, "stats", "-", "--model", "gemini-2.5-flash-001")
    assert code == 2 and err.count("\n") == 1 and err.startswith("tunestats: error: unknown model")


def test_models_lists_every_model_in_a_table(capsys):
    code, out, err = run_cli(capsys, "models")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == [
        "model",
        "generation",
        "token",
        "limit",
        "tokenizer",
        "tunable",
        "now",
    ]

    def open_cell(key: str) -> str:
        """issue 21: the open model's own tokenizer when the open-models extra is installed."""
        from tunestats import tokenizers as tk

        installed = tk.packaged_file(tk.PACKAGED[key]) is not None
        return f"{key} (exact)" if installed else "cl100k_base (estimate)"

    rows = {line.split()[0]: line for line in lines[1 : 1 + len(PROFILES)]}
    assert list(rows) == list(PROFILES)
    expected = {
        "gemini-3.5-flash": ("Gemini 3.5", "131,072", "gemma4 (exact)", "yes"),
        "gemini-3.5-flash-lite": ("Gemini 3.5", "131,072", "gemma4 (exact)", "yes"),
        "gemini-3.1-flash-lite": ("Gemini 3.1", "131,072", "gemma4 (exact)", "yes"),
        "gemini-2.5-pro": ("Gemini 2.5", "131,072", "gemma3 (exact)", "yes"),
        "gemini-2.5-flash-lite": ("Gemini 2.5", "131,072", "gemma3 (exact)", "yes"),
        "gemini-2.0-flash-001": ("Gemini 2.0", "131,072", "gemma3 (exact)", "no (delisted)"),
        "gemini-1.5-flash-002": ("Gemini 1.5", "32,768", "gemma2 (exact)", "no"),
        "gemini-1.0-pro-002": ("Gemini 1.0", "32,768", "gemma2 (exact)", "no"),
        "meta/llama3_1@llama-3.1-8b": ("Llama 3.1", "8,192", open_cell("llama3"), "yes (open)"),
        "google/gemma3@gemma-3-27b-it": ("Gemma 3", "8,192", "gemma3 (exact)", "yes (open)"),
        "qwen/qwen3@qwen3-32b": ("Qwen 3", "8,192", open_cell("qwen3"), "yes (open)"),
    }
    for name, cells_ in expected.items():
        assert re.split(r"\s{2,}", rows[name].strip())[1:] == list(cells_), rows[name]
    assert max(map(len, lines)) <= 100


# --- 18: one error prefix, emulator help, README, escaped reasons -----------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["stats"],
        ["stats", "x", "--epochs", "0"],
        ["bogus"],
        ["batch", "x"],
        ["emulator", "--port", "p"],
    ],
)
def test_usage_errors_have_the_one_prefix(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("tunestats: error: "), err
    assert not re.search(r"tunestats \w+: error", err)
    assert err.startswith("usage: tunestats")  # the usage line still names the subcommand


def test_emulator_help_explains_host_and_port(capsys):
    with pytest.raises(SystemExit):
        main(["emulator", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert re.search(r"--host HOST address to listen on \(default 127\.0\.0\.1", out)
    assert "(default 8080; 0: a free port)" in out


def test_readme_says_run_batch_returns_a_batch_result():
    from tunestats.batch import BatchResult, run_batch

    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "run_batch(sources, dest, force=False, **options)`, returning a `BatchResult`" in text
    assert "returning the rows" not in text
    assert run_batch.__annotations__["return"] in ("BatchResult", BatchResult)


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_drop_reasons_escape_bidi_and_control_characters(capsys, jsonl):
    role = {
        "contents": [{"role": "us\u202eer\x07", "parts": [{"text": "hi"}]}, GOOD["contents"][1]]
    }
    keys = {"k\u2066y\x1b": 1, BIDI: 2}
    path = str(jsonl([role, keys, GOOD]))
    stats = tunestats.compute(path, tokenizer="cl100k_base")
    reasons = stats.to_dict()["supervisedTuningDataStats"]["droppedExampleReasons"]
    assert (
        reasons[0] == r'line 1: contents[0].role is "us\u202eer\u0007"; expected "user" or "model"'
    )
    assert r'"k\u2066y\u001b"' in reasons[1]
    for reason in reasons:
        assert not any(c in reason for c in BIDI + "\x07\x1b"), reason
    assert all(f"\\u{ord(c):04x}" in reasons[1] for c in BIDI)
    code, out, _ = run_cli(capsys, "stats", path, "--tokenizer", "cl100k_base")
    assert code == 0 and not any(c in out for c in BIDI + "\x07\x1b")
    assert r'contents[0].role is "us\u202eer\u0007"' in out


def test_media_reasons_escape_the_uri(tmp_path, jsonl):
    name = tmp_path / "x\u202egnp.png"
    name.write_text("not an image")
    row = {
        "contents": [
            {
                "role": "user",
                "parts": [{"fileData": {"mimeType": "image/png", "fileUri": str(name)}}],
            },
            {"role": "model", "parts": [{"text": "ok"}]},
        ]
    }
    stats = tunestats.compute(str(jsonl([row, GOOD])), tokenizer="cl100k_base")
    (reason,) = stats.to_dict()["supervisedTuningDataStats"]["droppedExampleReasons"]
    assert "\u202e" not in reason and "x\\u202egnp.png" in reason
