"""The README's commands, run as a reader would run them: they must stay true.

The commands are read from README.md itself, not copied here: the bundled example (the first
set-up command, less its install), the media example and its output, the `--html` and clean
files example, and the emulator session (a local GCS server, the emulator, and the README's
`walk.py`), whose promised output is read from the README's own words. Ports are swapped for
free ones; everything runs on 127.0.0.1, in a scratch folder that sees the repository's
`fixtures/`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.gcs import free_port

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
TUNESTATS = [sys.executable, "-m", "tunestats.cli"]


def blocks(lang: str | None = None) -> list[tuple[int, str]]:
    """Every fenced block of the README: (the line it starts on, its text)."""
    found = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", README, flags=re.S | re.M):
        if lang is None or match.group(1) == lang:
            found.append((README.count("\n", 0, match.start()) + 1, match.group(2)))
    return found


def block_after(words: str, lang: str) -> str:
    """The first block of ``lang`` after the README text ``words``."""
    at = README.index(words)
    for start, text in blocks(lang):
        if README.count("\n", 0, at) < start:
            return text
    raise AssertionError(f"no {lang} block after {words!r}")


def argv(command: str) -> list[str]:
    words = shlex.split(command)
    if words[0].endswith("tunestats"):
        return [*TUNESTATS, *words[1:]]
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    script = Path(sys.executable).with_name(words[0])  # a console script of this venv
    return [str(script), *words[1:]] if script.exists() else words


@pytest.fixture
def scratch(tmp_path):
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    return tmp_path


def test_the_first_set_up_command_runs_the_bundled_example(scratch):
    first = blocks("sh")[0][1].splitlines()[0]
    run = first.split("&&")[-1].strip()  # the install is CI's own first step
    assert run == ".venv/bin/tunestats stats fixtures/example.jsonl"
    done = subprocess.run(argv(run), cwd=scratch, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tokenizer: ") and "training: fixtures/example.jsonl" in (
        done.stdout
    )


def test_the_media_example_prints_what_the_readme_shows(scratch):
    text = block_after("## Media", "")
    command, *shown = text.splitlines()
    done = subprocess.run(
        argv(command.removeprefix("$ ")), cwd=scratch, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    position = 0
    for line in shown:  # in order; "..." stands for lines left out
        if line.strip() == "...":
            continue
        assert line in lines[position:], line
        position = lines.index(line, position) + 1


def test_the_report_example_writes_what_it_says(scratch):
    command = block_after("## The report: HTML", "sh").replace("\\\n", " ").strip()
    (scratch / "train.jsonl").symlink_to(ROOT / "fixtures" / "example.jsonl")
    shutil.copy(ROOT / "fixtures" / "example.jsonl", scratch / "val.jsonl")
    pytest.importorskip("jinja2")  # --html
    done = subprocess.run(argv(command), cwd=scratch, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for name in ("report.html", "clean.jsonl", "dropped.jsonl"):
        assert (scratch / name).stat().st_size > 0, name
    kept = (scratch / "clean.jsonl").read_text().splitlines()
    assert len(kept) == 6 and len((scratch / "dropped.jsonl").read_text().splitlines()) == 2


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


def test_the_emulator_session_prints_what_the_readme_promises(scratch):
    pytest.importorskip("starlette")
    pytest.importorskip("gcp_storage_emulator")
    session = block_after("### A whole session, with a local GCS server", "sh")
    walk = block_after("`walk.py` uploads", "python")
    promised = re.search(r"it prints `(JOB_STATE_\w+ \d+ \d+)`", README).group(1)
    ports = {"9023": str(free_port()), "8080": str(free_port())}
    for old, new in ports.items():
        session = session.replace(old, new)
        walk = walk.replace(old, new)
    (scratch / "walk.py").write_text(walk)

    env = dict(os.environ)
    background: list[subprocess.Popen] = []
    printed = ""
    try:
        for line in session.splitlines():
            line = line.strip()
            if not line or line.startswith("pip install"):
                continue  # CI installed every extra
            if line.startswith("export "):
                key, value = line.removeprefix("export ").split("=", 1)
                env[key] = value
                continue
            command = line.removesuffix("&").strip()
            redirect = None
            if "> /dev/null" in command:
                command, redirect = command.replace("> /dev/null", "").strip(), subprocess.DEVNULL
            if line.endswith("&"):
                process = subprocess.Popen(
                    argv(command),
                    cwd=scratch,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                background.append(process)
                port = int(re.search(r"--port (\d+)", command).group(1))
                _wait_for(port, process)
                continue
            done = subprocess.run(
                argv(command),
                cwd=scratch,
                env=env,
                stdout=redirect or subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, (line, done.stderr)
            printed = done.stdout or ""
    finally:
        for process in background:
            process.terminate()
        for process in background:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    first, labels = printed.splitlines()[:2]
    assert first == promised
    assert "'team': 'nlp'" in labels and "'tunestats-tokenizer': 'gemma3'" in labels
