"""`stats --report-json PATH` (tunestats/present/report_json.py): everything the text report
shows, as one JSON object.

Each field is checked against what the text report prints (its lines are rebuilt from the
document with the text report's own row functions and found in its output) and against the
Stats object; on a small dataset worked out by hand, and on a corpus file with drops. The
field table of docs/REPORT_JSON.md must name every key the document has, and no other.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from tests.support.gcs import DenyAll, serving
from tests.support.oracle import figures
from tunestats.cli import main
from tunestats.counting.accumulate import Distribution, DropGroup, MediaSummary, UncountedMedia
from tunestats.formats.drops import KINDS
from tunestats.present.report_json import media_json
from tunestats.present.text import BARS, _drop_group, _row

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "fixtures" / "example.jsonl"
BROKEN = CORPUS / "broken" / "training_data_wrong.jsonl"
DOC = ROOT / "docs" / "REPORT_JSON.md"
LABELS = {  # the document's names, the text report's row labels
    "inputTokens": "input tokens",
    "outputTokens": "output tokens",
    "messagesPerExample": "messages/example",
}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["stats", *args, "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def report(capsys, tmp_path: Path, *args: str) -> tuple[dict, str, int]:
    """The report JSON of a run, and the text report of the same run."""
    path = tmp_path / "report.json"
    code, text, _ = run(capsys, *args, "--buckets", "--report-json", str(path))
    return json.loads(path.read_text()), text, code


def as_distribution(d: dict, n: int) -> Distribution:
    buckets = [(b["count"], b["left"], b["right"]) for b in d["buckets"]]
    figures = {k: d[k] for k in ("sum", "min", "max", "mean", "median", "p5", "p95")}
    return Distribution(n=n, buckets=buckets, **figures)


def assert_matches_the_text_report(doc: dict, text: str) -> None:
    """Every line the text report prints, rebuilt from the document, is in the report."""
    lines = text.splitlines()
    assert lines[0] == doc["tokenizer"]["line"]
    if doc["media"]["line"] is not None:
        assert lines[1] == doc["media"]["line"]
    else:
        assert not any(line.startswith("media tokens:") for line in lines)
    for name, ds in doc["datasets"].items():
        if ds is None:
            assert f"\n{name}: " not in text
            continue
        start = lines.index(f"{name}: {ds['source']}")
        block = "\n".join(lines[start:])
        assert f"  format {ds['format']}, task {doc['task']}, model {doc['model']}" in block
        accounting = f"lines {ds['lines']:,}: kept {ds['kept']:,}, dropped {ds['dropped']:,}"
        assert f"  {accounting}, blank {ds['blank']:,}" in block
        characters = f"characters {ds['characters']:,} (billable {ds['billableCharacters']:,})"
        assert f"  {characters}" in block
        assert ds["lines"] == ds["kept"] + ds["dropped"] + ds["blank"]
        for key, d in ds["distributions"].items():
            if d is None:
                continue
            row = _row(LABELS[key], as_distribution(d, ds["kept"]), BARS, buckets=True)
            assert row in block, key
        billable = f"  billable tokens {ds['billableTokens']:,} per epoch"
        assert billable in block
        if ds["billableTokensAllEpochs"] is not None:
            epochs = doc["job"]["epochs"]
            assert f"{billable}; x {epochs} epochs = {ds['billableTokensAllEpochs']:,}" in block
        if ds["steps"] is not None:
            assert f"  tuning steps {ds['steps']:,}" in block
        if ds["media"]["text"] is not None:
            assert f"  media: {ds['media']['text']}" in block
        if ds["dropped"]:
            assert f"  dropped examples ({ds['dropped']:,}), by kind:" in block
        for g in ds["dropGroups"]:
            assert KINDS[g["code"]].title == g["title"] and KINDS[g["code"]].hint == g["hint"]
            examples = [(e["line"], e["reason"]) for e in g["examples"]]
            group = DropGroup(g["code"], g["count"], g["path"] or "", examples)
            assert _drop_group(group) in block
        assert sum(g["count"] for g in ds["dropGroups"]) == ds["dropped"]
        assert sum(ds["droppedByCode"].values()) == ds["dropped"]
    job = doc["job"]
    assert "job:" in lines
    job_lines = lines[lines.index("job:") :]
    if job["ready"]:
        assert f"  Vertex would accept this job for {doc['model']}" in job_lines
    assert [line[2:] for line in job_lines if line.startswith("  Vertex would reject")] == job[
        "rejections"
    ]
    assert [line[len("  warning: ") :] for line in job_lines if "warning: " in line] == job[
        "warnings"
    ]
    assert f"  cost: {job['cost']['text']}" in job_lines


def assert_matches_the_stats(doc: dict, stats) -> None:
    """Every field against the Stats object of the same run."""
    assert doc["version"] == 1
    assert (doc["model"], doc["task"]) == (stats.model, stats.task)
    assert doc["tokenizer"]["name"] == stats.tokenizer
    assert doc["tokenizer"]["exact"] is stats.exact
    assert doc["tokenizer"]["notes"] == stats.notes
    for name in ("training", "validation"):
        source = getattr(stats, name)
        ds = doc["datasets"][name]
        if source is None:
            assert ds is None
            continue
        r = source.result
        assert (ds["name"], ds["source"], ds["format"]) == (name, source.uri, source.format)
        assert ds["size"] == source.info.size
        assert (ds["lines"], ds["kept"], ds["dropped"], ds["blank"]) == (
            r.lines,
            r.examples,
            r.dropped,
            r.blank,
        )
        assert ds["characters"] == r.characters
        assert ds["billableCharacters"] == r.billable_characters
        assert ds["billableTokens"] == r.billable_tokens
        for key, attr in (
            ("inputTokens", "input_tokens"),
            ("outputTokens", "output_tokens"),
            ("messagesPerExample", "messages"),
        ):
            d, expected = ds["distributions"][key], getattr(r, attr)
            if expected is None:
                assert d is None
                continue
            assert as_distribution(d, expected.n) == expected
        assert ds["droppedByCode"] == r.dropped_by_code
        assert [
            (
                g["code"],
                g["count"],
                g["path"] or "",
                [(e["line"], e["reason"]) for e in g["examples"]],
            )
            for g in ds["dropGroups"]
        ] == [(g.code, g.count, g.path, g.examples) for g in r.drop_groups]
        assert ds["media"]["parts"] == r.media.total
        assert ds["media"]["tokens"] == r.media.tokens
        assert ds["media"]["byStatus"] == r.media.parts
        assert [(u["status"], u["reason"], u["count"]) for u in ds["media"]["uncounted"]] == [
            (u.status, u.reason, u.count) for u in r.media.uncounted
        ]
    job = doc["job"]
    assert job["ready"] is stats.readiness.ready
    assert job["rejections"] == stats.readiness.rejections
    assert job["warnings"] == stats.readiness.warnings
    assert (job["epochs"], job["batchSize"]) == (stats.epochs, stats.batch_size)
    cost = stats.cost
    assert job["cost"]["text"] == cost.text
    assert (job["cost"]["amount"], job["cost"]["perEpoch"]) == (cost.amount, cost.per_epoch)
    assert job["cost"]["trainingTokens"] == cost.training_tokens


# --- a small dataset, worked out by hand -------------------------------------------------------

PAIRS = [
    ("Translate to French: the cat", "le chat"),
    ("Hello", "Bonjour, comment allez-vous aujourd'hui ?"),
    ("Count: one two three four five six seven eight", "nine"),
    ("Why?", "Because."),
]


def test_a_small_dataset_by_hand(capsys, tmp_path, jsonl, cl100k):
    rows: list = [{"prompt": p, "completion": c} for p, c in PAIRS]
    rows.insert(2, "")  # line 3: blank
    rows.append("{not json")  # line 6: dropped
    train = jsonl(rows, "train.jsonl")
    val = jsonl([{"prompt": "Yes?", "completion": "No."}], "val.jsonl")
    args = [str(train), "--validation", str(val), "--tokenizer", "cl100k_base"]
    args += ["--epochs", "2", "--batch-size", "3", "--price-per-million", "10"]
    doc, text, code = report(capsys, tmp_path, *args)
    assert code == 0

    assert doc["version"] == 1 and doc["task"] == "supervised"
    assert doc["model"] == "gemini-2.5-flash"
    assert doc["tokenizer"]["name"] == "cl100k_base" and doc["tokenizer"]["exact"] is False
    assert "ESTIMATES" in doc["tokenizer"]["line"]
    assert doc["media"] == {
        "line": None,
        "parts": 0,
        "measured": 0,
        "skipped": 0,
        "uncounted": 0,
        "tokens": 0,
    }

    ds = doc["datasets"]["training"]
    inputs = [cl100k(p) for p, _ in PAIRS]
    outputs = [cl100k(c) for _, c in PAIRS]
    characters = sum(len(p) + len(c) for p, c in PAIRS)
    billable = sum(len(re.sub(r"\s", "", p + c)) for p, c in PAIRS)
    assert ds["name"] == "training" and ds["source"] == str(train)
    assert ds["format"] == "prompt-completion"
    assert ds["size"] == train.stat().st_size and ds["generation"] is None
    assert (ds["lines"], ds["kept"], ds["dropped"], ds["blank"]) == (6, 4, 1, 1)
    assert (ds["characters"], ds["billableCharacters"]) == (characters, billable)
    assert ds["billableTokens"] == sum(inputs) + sum(outputs)
    assert ds["billableTokensAllEpochs"] == 2 * ds["billableTokens"]
    assert ds["steps"] == 2 * math.ceil(4 / 3) == 4
    assert ds["distributions"] == {
        "inputTokens": figures(inputs),
        "outputTokens": figures(outputs),
        "messagesPerExample": figures([2, 2, 2, 2]),
    }
    assert ds["droppedByCode"] == {"not-json": 1}
    (group,) = ds["dropGroups"]
    assert group["code"] == "not-json" and group["count"] == 1 and group["path"] is None
    assert group["title"] == KINDS["not-json"].title and group["hint"] == KINDS["not-json"].hint
    assert [e["line"] for e in group["examples"]] == [6]
    assert group["examples"][0]["reason"].startswith("line 6: not valid JSON")
    assert ds["media"] == {"parts": 0, "tokens": 0, "byStatus": {}, "uncounted": [], "text": None}

    val_ds = doc["datasets"]["validation"]
    assert (val_ds["lines"], val_ds["kept"], val_ds["dropped"]) == (1, 1, 0)
    assert val_ds["billableTokensAllEpochs"] is None and val_ds["steps"] is None
    assert val_ds["dropGroups"] == [] and val_ds["droppedByCode"] == {}

    job = doc["job"]
    assert job["ready"] is False  # prompt-completion is not a format Gemini 2.5 tunes on
    assert job["rejections"][0] == (
        "Vertex would reject this job: the training set is prompt-completion; "
        "gemini-2.5-flash takes gemini records"
    )
    assert (job["epochs"], job["batchSize"], job["steps"]) == (2, 3, 4)
    tokens = 2 * ds["billableTokens"]
    assert job["cost"]["amount"] == pytest.approx(tokens * 10 / 1_000_000)
    assert job["cost"]["trainingTokens"] == tokens
    assert job["cost"]["priceOrigin"] == "user" and job["cost"]["pricePerMillion"] == 10
    assert job["cost"]["headline"] == job["cost"]["text"].split(" ")[0]
    assert job["cost"]["text"].startswith(job["cost"]["headline"] + " for 2 epochs")

    assert_matches_the_text_report(doc, text)
    import tunestats

    stats = tunestats.compute(
        str(train),
        validation=str(val),
        tokenizer="cl100k_base",
        epochs=2,
        batch_size=3,
        price_per_million=10,
    )
    assert_matches_the_stats(doc, stats)


# --- a corpus file with drops ------------------------------------------------------------------


def test_a_corpus_file_with_drops(capsys, tmp_path):
    args = [str(BROKEN), "--validation", str(BROKEN), "--max-tokens-per-example", "200"]
    args += ["--epochs", "2"]
    doc, text, code = report(capsys, tmp_path, *args)
    assert code == 0
    ds = doc["datasets"]["training"]
    assert ds["dropped"] == 26 and ds["droppedByCode"] == {"too-long": 26}
    assert len(ds["dropGroups"][0]["examples"]) == 3  # the first 3 of 26, as the report shows
    assert doc["datasets"]["validation"]["dropped"] == 26
    assert doc["job"]["ready"] is False and doc["job"]["steps"] is None
    assert doc["job"]["cost"]["headline"] == "no list price"
    assert_matches_the_text_report(doc, text)

    import tunestats

    stats = tunestats.compute(
        str(BROKEN), validation=str(BROKEN), max_tokens_per_example=200, epochs=2
    )
    assert_matches_the_stats(doc, stats)


def test_the_example_with_media_and_json(capsys, tmp_path):
    """With --json, stdout still holds the TuningDataStats document alone; the file the
    report, media included."""
    path = tmp_path / "report.json"
    code, out, err = run(capsys, str(EXAMPLE), "--json", "--report-json", str(path))
    assert code == 0
    assert list(json.loads(out)) == ["supervisedTuningDataStats"]
    doc = json.loads(path.read_text())
    assert doc["datasets"]["validation"] is None
    assert doc["media"]["parts"] == 1 and doc["media"]["measured"] == 1
    assert f"tunestats: {doc['media']['line']}" in err
    assert f"tunestats: {doc['tokenizer']['line']}" in err
    ds = doc["datasets"]["training"]
    assert ds["media"]["byStatus"] == {"measured": 1} and ds["media"]["tokens"] == 258
    assert ds["media"]["text"] == "1 media part, 258 tokens from the 1 measured"
    assert doc["job"]["epochs"] is None and doc["job"]["cost"]["headline"] == "no list price"
    _, text, _ = run(capsys, str(EXAMPLE), "--buckets")
    assert_matches_the_text_report(doc, text)


def test_media_that_cannot_be_read(capsys, tmp_path, jsonl, monkeypatch):
    rows = [
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"fileData": {"mimeType": "video/mp4", "fileUri": f"gs://locked/v{i}.mp4"}},
                        {"text": "What happens?"},
                    ],
                },
                {"role": "model", "parts": [{"text": "A cat jumps."}]},
            ]
        }
        for i in range(2)
    ]
    with serving(DenyAll) as url:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        doc, text, code = report(capsys, tmp_path, str(jsonl(rows)), "--tokenizer", "cl100k_base")
    assert code == 0
    assert doc["media"]["uncounted"] == 2 and doc["media"]["measured"] == 0
    (u,) = doc["datasets"]["training"]["media"]["uncounted"]
    assert (u["status"], u["reason"], u["count"]) == ("not read", "permission denied", 2)
    assert u["first"] == [
        {"line": 1, "object": "gs://locked/v0.mp4"},
        {"line": 2, "object": "gs://locked/v1.mp4"},
    ]
    assert u["text"] in doc["datasets"]["training"]["media"]["text"]
    assert_matches_the_text_report(doc, text)


# --- edges: no valid example, --strict, paths, fsspec ------------------------------------------


def test_written_when_no_example_is_valid(capsys, tmp_path, jsonl):
    wrong = {"contents": [{"role": "assistant", "parts": [{"text": "Hi"}]}]}
    bad = jsonl([wrong, "{not json", wrong])
    doc, text, code = report(capsys, tmp_path, str(bad), "--tokenizer", "cl100k_base")
    assert code == 1  # the report is still written, as the text report is still printed
    ds = doc["datasets"]["training"]
    assert ds["kept"] == 0 and ds["dropped"] == 3
    assert ds["distributions"] == dict.fromkeys(LABELS)
    assert ds["billableTokens"] == 0
    assert_matches_the_text_report(doc, text)


def test_distillation_has_no_output_distribution(capsys, tmp_path, jsonl):
    rows = [{"contents": [{"role": "user", "parts": [{"text": "Summarize: tunestats"}]}]}]
    args = [str(jsonl(rows)), "--task", "distillation", "--tokenizer", "cl100k_base"]
    doc, text, code = report(capsys, tmp_path, *args)
    assert code == 0 and doc["task"] == "distillation"
    dists = doc["datasets"]["training"]["distributions"]
    assert dists["outputTokens"] is None and dists["inputTokens"]["sum"] > 0
    assert_matches_the_text_report(doc, text)


def test_strict_still_writes_it(capsys, tmp_path):
    path = tmp_path / "report.json"
    code, _, _ = run(capsys, str(EXAMPLE), "--strict", "--report-json", str(path))
    assert code == 3
    doc = json.loads(path.read_text())
    assert doc["job"]["ready"] is False and doc["datasets"]["training"]["dropped"] == 2


def test_a_missing_folder_is_said_before_counting(capsys, tmp_path):
    path = tmp_path / "no" / "such" / "report.json"
    code, out, err = run(capsys, str(EXAMPLE), "--report-json", str(path))
    assert code == 1 and out == ""  # nothing counted, nothing printed
    assert f"--report-json {path}: cannot write: no such directory" in err
    assert not path.parent.exists()


def test_any_fsspec_url(capsys):
    import fsspec

    fs = fsspec.filesystem("memory")
    code, _, _ = run(capsys, str(EXAMPLE), "--report-json", "memory://reports/run.json")
    assert code == 0
    doc = json.loads(fs.cat_file("/reports/run.json"))
    assert doc["datasets"]["training"]["kept"] == 6
    fs.rm("/reports", recursive=True)


# --- the field table ---------------------------------------------------------------------------

MAPS = {"datasets.*.media.byStatus", "datasets.*.droppedByCode"}  # keys are data, not fields
NAMED = {"datasets", "datasets.*.distributions"}  # keys named one by one, their fields under *


def keys(value, path: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            name = f"{path}.{key}" if path else key
            found.add(name)
            if name in MAPS:
                continue
            found |= keys(child, f"{path}.*" if path in NAMED else name)
    elif isinstance(value, list):
        for item in value:
            found |= keys(item, f"{path}[]")
    return found


def documented() -> set[str]:
    return set(re.findall(r"^\| `([^`]+)` \|", DOC.read_text(), flags=re.M))


def test_the_field_table_names_every_key_and_no_other(capsys, tmp_path):
    doc, _, _ = report(capsys, tmp_path, str(BROKEN), "--validation", str(EXAMPLE), "--epochs", "2")
    # Media that could not be read (test_media_that_cannot_be_read makes it for real).
    unread = UncountedMedia("not read", "permission denied", 1, [(1, "gs://b/x.mp4")])
    media = MediaSummary(parts={"not read": 1}, uncounted=[unread])
    doc["datasets"]["validation"]["media"] = media_json(media)
    found = keys(doc)
    assert found - documented() == set(), "keys the table does not document"
    assert documented() - found == set(), "documented keys the document does not have"


def test_the_readme_links_the_field_table():
    readme = (ROOT / "README.md").read_text()
    assert "docs/REPORT_JSON.md" in readme and "--report-json" in readme
