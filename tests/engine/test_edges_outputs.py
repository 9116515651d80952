"""Issue 18, at the edges of the outputs: the drop classifier in linear time on any line, the
temporary files a killed ``--write-kept`` leaves removed by the next run, and one rule for a
destination in a folder that does not exist (``--html`` of stats refuses, as ``--write-kept``
does; ``batch --html DIR`` makes DIR, as ``--out`` does)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tunestats
from tunestats.cli import main
from tunestats.formats.drops import _not_json, classify
from tunestats.io import outputs, writing

TUNESTATS = [sys.executable, "-m", "tunestats.cli"]
FAST = ["--tokenizer", "cl100k_base", "--quiet"]
GOOD = json.dumps(
    {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "yo"}]},
        ]
    }
).encode()
MiB = 1 << 20


# --- 1. the drop classifier: linear on any line ---------------------------------------------

# The regexes of the classifier before issue 18: the reference its results must equal.
OLD_PRETTY = re.compile(rb'^\s*([\[\]{}],?|"[^"]*"\s*:.*|.*[,\[{])\s*$', re.DOTALL)
OLD_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
OLD_PYTHON = re.compile(rb"[:,\[]\s*(True|False|None)\b")


def old_not_json(raw: bytes) -> str:
    head = raw.lstrip()
    if head.startswith((b"{'", b"[{'")) or OLD_PYTHON.search(OLD_STRING.sub(b'""', raw)):
        return "python-repr"
    if OLD_PRETTY.match(raw):
        return "pretty-printed"
    return "not-json"


# The bytes the classifier looks at, and words around them.
PIECES = [
    b'"', b"\\", b"\n", b" ", b"\t", b"\r", b"\x0b", b"\x0c", b"\x1c", b"\xa0", b":", b",",
    b"[", b"]", b"{", b"}", b"'", b"True", b"False", b"None", b"Nonex", b"_", b"x", b"T",
]  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_the_classifier_gives_what_the_old_regexes_gave(pieces):
    raw = b"".join(pieces)
    assert _not_json(raw) == old_not_json(raw)


ADVERSARIAL = {
    "escaped quotes 80k": b'{"a":"' + b'\\"' * 80_000,
    "escaped quotes 160 KB": b'{"a":"' + b'\\"' * 80_000 * 2,
    "escaped quotes 1 MB then True": b'{"a":"' + b'\\"' * (MiB // 2) + b", True",
    "spaces then x": b" " * 160_000 + b"x",
    "tabs then x": b"\t" * 160_000 + b"x",
    "1 MB of {": b"{" * MiB,
    '1 MB of "': b'"' * MiB,
    '1 MB of " then True': b'"' * MiB + b", True",
    "1 MB of \\": b"\\" * MiB,
    "1 MB of , ": b", " * (MiB // 2),
    "1 MB of : ": b": " * (MiB // 2),
    "mixed": b'{"\\ ,[: "\t' * (MiB // 10),
    "mixed then None": b'{"\\ ,[: "\t' * (MiB // 10) + b"[None",
    "a quote then backslashes": b'"' + b"\\" * MiB,
    "backslash newline in strings then True": b'"\\\n' * (MiB // 3) + b", True",
    "an open key": b'"' + b"k" * MiB,
    "a key then spaces": b'"k"' + b" " * MiB + b"x",
}
EXPECTED = {"1 MB of {": "pretty-printed", "1 MB of , ": "pretty-printed"}
EXPECTED.update({name: "python-repr" for name in ADVERSARIAL if name.endswith(("True", "None"))})


def test_long_adversarial_lines_are_classified_at_once():
    """Lines that took the old regexes half a minute and more: well under a second each here
    (5 s allowed for a slow machine)."""
    for name, raw in ADVERSARIAL.items():
        start = time.monotonic()
        code = classify("", "not valid JSON at character 0: unexpected end of data", raw)
        assert time.monotonic() - start < 5, name
        assert code == EXPECTED.get(name, "not-json"), name


def test_a_file_of_adversarial_lines_is_counted_at_once(tmp_path):
    """Through compute (one process and two), the lines are dropped with their codes, fast."""
    lines = {name: raw for name, raw in ADVERSARIAL.items() if b"\n" not in raw}
    path = tmp_path / "adversarial.jsonl"
    path.write_bytes(b"\n".join([GOOD, *lines.values(), GOOD]) + b"\n")
    expected = Counter(EXPECTED.get(name, "not-json") for name in lines)
    for jobs in (1, 2):
        start = time.monotonic()
        stats = tunestats.compute(str(path), tokenizer="cl100k_base", jobs=jobs, shard_bytes=MiB)
        assert time.monotonic() - start < 60
        result = stats.training.result
        assert stats.training.kept == 2
        assert result.dropped_by_code == expected


def test_a_file_of_only_adversarial_lines_is_a_quick_source_error(tmp_path):
    """No line is JSON: the whole-file error, which names the lines' most common kind."""
    path = tmp_path / "nothing.jsonl"
    path.write_bytes(b"\n".join(raw for raw in ADVERSARIAL.values() if b"\n" not in raw))
    start = time.monotonic()
    result = subprocess.run(
        [*TUNESTATS, "stats", str(path), *FAST], capture_output=True, timeout=120
    )
    assert time.monotonic() - start < 60
    assert result.returncode == 1
    assert b"not JSONL: no line is a JSON value" in result.stderr


# --- 6. what a killed --write-kept leaves, the next run removes ------------------------------


def temp_files(folder: Path, name: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(f".{name}.tunestats-"))


@pytest.fixture(scope="module")
def big_source(tmp_path_factory) -> Path:
    """A valid file that takes a few seconds to count (nothing in it is dropped)."""
    from benchmarks.generate import write_dataset

    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    write_dataset(str(path), 12_000_000)
    return path


def kill_when(proc: subprocess.Popen, ready, what: str) -> None:
    """Wait until ``ready()``, then kill -9 the process and all it started."""
    deadline = time.monotonic() + 120
    while not ready():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after 120 s"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # its own session: only the processes it started
    proc.wait(timeout=60)


def written(folder: Path, name: str) -> bool:
    names = temp_files(folder, name)
    return bool(names) and (folder / names[0]).stat().st_size > 0


def test_a_killed_write_kept_leaves_a_temp_file_the_next_run_removes(tmp_path, big_source):
    out = tmp_path / "out"
    out.mkdir()
    kept = out / "kept.jsonl"
    argv = [*TUNESTATS, "stats", str(big_source), "--jobs", "1", *FAST, "--write-kept", str(kept)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    kill_when(proc, lambda: written(out, "kept.jsonl"), "temporary file")
    left = temp_files(out, "kept.jsonl")
    assert len(left) == 1 and not kept.exists()
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:40]
    assert left[0] == f".kept.jsonl.tunestats-{host}-{proc.pid}-0.tmp"

    again = subprocess.run(argv, capture_output=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert temp_files(out, "kept.jsonl") == []
    assert kept.read_bytes() == big_source.read_bytes()  # every line kept, byte for byte


SPLIT_RUN = """
import sys, tunestats
tunestats.compute(sys.argv[1], tokenizer="cl100k_base", jobs=2, shard_bytes=1 << 20,
                  write_kept=sys.argv[2])
"""


def test_a_killed_split_run_leaves_parts_the_next_run_removes(tmp_path, big_source):
    """With two processes the lines go to a part folder in the temporary directory first."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    kept = tmp_path / "kept.jsonl"
    argv = [sys.executable, "-c", SPLIT_RUN, str(big_source), str(kept)]

    def parts() -> list[Path]:
        return [p for p in scratch.iterdir() if p.name.startswith("tunestats-lines-")]

    def parts_written() -> bool:
        return any(p.stat().st_size for p in scratch.glob("tunestats-lines-*/kept.*"))

    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )
    kill_when(proc, parts_written, "part file")
    assert len(parts()) == 1 and not kept.exists()

    again = subprocess.run(argv, capture_output=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr
    assert parts() == []
    assert kept.read_bytes() == big_source.read_bytes()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_only_what_dead_runs_of_this_host_left_is_removed(tmp_path, live_pid):
    """A live run's temporary file, another host's, another destination's and any other file
    stay; a dead process's (and an older version's name) go."""
    host, dead, live = writing.host_tag(), dead_pid(), live_pid
    stay = [
        f".k.jsonl.tunestats-{host}-{live}-0.tmp",  # a run still writing
        f".k.jsonl.tunestats-other-host-{dead}-0.tmp",  # a shared folder: not ours to judge
        f".other.jsonl.tunestats-{host}-{dead}-0.tmp",  # another destination's
        ".k.jsonl.tunestats-notes.txt",
        "k.jsonl.bak",
    ]
    go = [f".k.jsonl.tunestats-{host}-{dead}-3.tmp", f".k.jsonl.tunestats-{dead}-7f3a2b"]
    for name in stay + go:
        (tmp_path / name).write_bytes(b"partial")
    src = tmp_path / "src.jsonl"
    src.write_bytes(GOOD + b"\n")
    tunestats.compute(str(src), tokenizer="cl100k_base", write_kept=str(tmp_path / "k.jsonl"))
    assert sorted(os.listdir(tmp_path)) == sorted([*stay, "k.jsonl", "src.jsonl"])
    assert (tmp_path / "k.jsonl").read_bytes() == GOOD + b"\n"


def test_a_long_destination_name_gets_a_short_temporary_name(tmp_path):
    """A name near the 255-byte limit is still written, and its stale file still found."""
    name = "é" * 100 + "k" * 40 + ".jsonl"  # 246 bytes
    stale = tmp_path / f"{writing._temp_prefix(name)}{writing.host_tag()}-{dead_pid()}-0.tmp"
    stale.write_bytes(b"partial")
    src = tmp_path / "src.jsonl"
    src.write_bytes(GOOD + b"\n")
    tunestats.compute(str(src), tokenizer="cl100k_base", write_kept=str(tmp_path / name))
    assert sorted(os.listdir(tmp_path)) == sorted([name, "src.jsonl"])


def test_only_dead_runs_part_folders_are_removed(tmp_path, monkeypatch, live_pid):
    host, dead, live = writing.host_tag(), dead_pid(), live_pid
    stay = [f"tunestats-lines-{host}-{live}-abc_123", f"tunestats-lines-x-{dead}-abc", "other"]
    go = [f"tunestats-lines-{host}-{dead}-q1w2e3r4"]
    for name in stay + go:
        (tmp_path / name).mkdir()
        (tmp_path / name / "kept.0").write_bytes(b"part")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with outputs.Outputs(kept=str(tmp_path / "k.jsonl")).parts(2) as parts:
        made = os.path.dirname(parts[0][0])
        assert os.path.basename(made).startswith(f"tunestats-lines-{host}-{os.getpid()}-")
        assert sorted(os.listdir(tmp_path)) == sorted([*stay, os.path.basename(made)])
    assert sorted(os.listdir(tmp_path)) == sorted(stay)


# --- 14. a destination in a folder that does not exist ---------------------------------------


def test_html_of_stats_into_a_missing_folder_is_refused_before_counting(tmp_path, capsys):
    """As --write-kept: exit 1, one line, no folder made, and no report (nothing counted)."""
    pytest.importorskip("jinja2")
    src = tmp_path / "x.jsonl"
    src.write_bytes(GOOD + b"\n")
    page = tmp_path / "no" / "such" / "r.html"
    assert main(["stats", str(src), *FAST, "--html", str(page)]) == 1
    out, err = capsys.readouterr()
    folder = tmp_path / "no" / "such"
    assert err == f"tunestats: error: --html {page}: cannot write: no such directory {folder}\n"
    assert out == ""
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("where", ["inside-a-file", "is-a-folder"])
def test_html_of_stats_into_a_file_or_onto_a_folder_is_refused(tmp_path, capsys, where):
    pytest.importorskip("jinja2")
    src = tmp_path / "x.jsonl"
    src.write_bytes(GOOD + b"\n")
    page = src / "r.html" if where == "inside-a-file" else tmp_path
    assert main(["stats", str(src), *FAST, "--html", str(page)]) == 1
    err = capsys.readouterr().err
    said = f"{src} is not a directory" if where == "inside-a-file" else f"{tmp_path} is a directory"
    assert err == f"tunestats: error: --html {page}: cannot write: {said}\n"


def test_write_page_refuses_a_missing_folder_too(tmp_path):
    """The Python API's page writer has the same rule."""
    pytest.importorskip("jinja2")
    from tunestats.present.view import write_page

    src = tmp_path / "x.jsonl"
    src.write_bytes(GOOD + b"\n")
    stats = tunestats.compute(str(src), tokenizer="cl100k_base")
    with pytest.raises(OSError, match="^no such directory "):
        write_page(str(tmp_path / "none" / "r.html"), stats)
    write_page(str(tmp_path / "r.html"), stats)
    assert (tmp_path / "r.html").read_bytes().startswith(b"<!")


def test_batch_html_makes_its_folder_as_out_does(tmp_path, capsys):
    """`batch --html DIR` names a folder the batch makes (with its parents), like --out."""
    pytest.importorskip("jinja2")
    src = tmp_path / "x.jsonl"
    src.write_bytes(GOOD + b"\n")
    folder = tmp_path / "new" / "html"
    argv = ["batch", str(src), "--out", str(tmp_path / "new" / "out"), "--html", str(folder)]
    assert main([*argv, *FAST]) == 0
    assert f"HTML index in {folder}/index.html" in capsys.readouterr().out
    assert (folder / "index.html").is_file()
    assert len(list((folder / "pages").rglob("*.html"))) == 1
