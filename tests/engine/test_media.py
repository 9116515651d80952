"""Media (SPEC §9, issue 17): real media objects of known properties, read and measured, priced
by §9's table and limited, from local files and from the real local GCS server.

Every cell of §9's table is checked against numbers computed by hand here; each limit at its
boundary and one past it; video segments; a video with and without its audio track; objects
that are missing, denied, timed out or of another kind than declared; ``--media skip``; parts
that share objects (read once); batch reuse (nothing read again); Beam; the emulator; and, as a
property, shard-and-merge equal to the whole with media.
"""

from __future__ import annotations

import base64
import json
import random
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tunestats
from tests.support import media as make
from tests.support.gcs import DenyAll, RequestLog, serving
from tunestats.formats import MediaPart
from tunestats.media import rates
from tunestats.media.measure import Measurement
from tunestats.media.rates import HIGH, LOW, MEDIUM, ULTRA

TOKENIZER = "cl100k_base"


def part(mime: str, uri: str, **extra) -> dict:
    return {"fileData": {"mimeType": mime, "fileUri": uri}, **extra}


def record(*parts: dict, text: str = "describe", resolution: str | None = None) -> dict:
    row: dict = {
        "contents": [
            {"role": "user", "parts": [*parts, {"text": text}]},
            {"role": "model", "parts": [{"text": "ok"}]},
        ]
    }
    if resolution:
        row["generationConfig"] = {"mediaResolution": resolution}
    return row


def text_tokens(cl100k, text: str = "describe") -> int:
    return cl100k(text)


# --- §9's table, cell by cell, by hand -----------------------------------------------------------

IMAGE = Measurement(size=1000, kind="image", container="png", width=10, height=10)
VIDEO = Measurement(size=1000, kind="video", container="mp4", duration=10.2, has_audio=True)
SILENT = Measurement(size=1000, kind="video", container="mp4", duration=10.2, has_audio=False)
AUDIO = Measurement(size=1000, kind="audio", container="wav", duration=3.049)
PDF = Measurement(size=1000, kind="pdf", container="pdf", pages=3)
# 10.2 s: 11 frames; its audio: ceil(10.2 * 32) = 327 or ceil(10.2 * 25) = 255 tokens.
# 3.049 s of audio: ceil(97.568) = 98 at 32/s, ceil(76.225) = 77 at 25/s (Google's example).
CELLS = [
    # (model, kind, measurement, line resolution, part resolution, tokens)
    ("gemini-2.0-flash", "image", IMAGE, None, None, 258),
    ("gemini-2.0-flash", "image", IMAGE, LOW, None, 258),  # 1.5/2.0: one rate
    ("gemini-1.5-flash-002", "image", IMAGE, HIGH, None, 258),
    ("gemini-2.5-flash", "image", IMAGE, LOW, None, 64),
    ("gemini-2.5-flash", "image", IMAGE, MEDIUM, None, 256),
    ("gemini-2.5-flash", "image", IMAGE, HIGH, None, 258),
    ("gemini-2.5-flash", "image", IMAGE, None, None, 258),
    ("gemini-2.5-flash", "image", IMAGE, None, LOW, 258),  # a part's own level: Gemini 3 only
    ("gemini-3.5-flash", "image", IMAGE, LOW, None, 280),
    ("gemini-3.5-flash", "image", IMAGE, MEDIUM, None, 560),
    ("gemini-3.5-flash", "image", IMAGE, HIGH, None, 1120),
    ("gemini-3.5-flash", "image", IMAGE, None, ULTRA, 2240),
    ("gemini-3.1-flash-lite", "image", IMAGE, None, None, 1120),
    ("gemini-3.5-flash-lite", "image", IMAGE, LOW, MEDIUM, 560),  # the part's level wins
    ("gemini-2.0-flash", "video", VIDEO, None, None, 11 * 263),  # audio included
    ("gemini-1.5-flash-002", "video", SILENT, LOW, None, 11 * 263),
    ("gemini-2.5-flash", "video", VIDEO, LOW, None, 11 * 64 + 327),
    ("gemini-2.5-flash", "video", VIDEO, MEDIUM, None, 11 * 256 + 327),
    ("gemini-2.5-flash", "video", VIDEO, HIGH, None, 11 * 256 + 327),
    ("gemini-2.5-flash", "video", VIDEO, None, None, 11 * 256 + 327),
    ("gemini-2.5-flash", "video", SILENT, None, None, 11 * 256),
    ("gemini-3.5-flash", "video", VIDEO, LOW, None, 11 * 70 + 255),
    ("gemini-3.5-flash", "video", VIDEO, MEDIUM, None, 11 * 70 + 255),
    ("gemini-3.5-flash", "video", VIDEO, HIGH, None, 11 * 280 + 255),
    ("gemini-3.5-flash", "video", SILENT, None, None, 11 * 70),
    ("gemini-2.0-flash", "audio", AUDIO, None, None, 98),
    ("gemini-2.5-flash", "audio", AUDIO, LOW, None, 98),
    ("gemini-3.5-flash", "audio", AUDIO, HIGH, None, 77),
    ("gemini-2.0-flash", "pdf", PDF, None, None, 3 * 258),
    ("gemini-2.5-flash", "pdf", PDF, LOW, None, 3 * 64),
    ("gemini-2.5-flash", "pdf", PDF, MEDIUM, None, 3 * 256),
    ("gemini-2.5-flash", "pdf", PDF, HIGH, None, 3 * 258),
    ("gemini-2.5-flash", "pdf", PDF, None, None, 3 * 258),
    ("gemini-3.5-flash", "pdf", PDF, LOW, None, 3 * 280),
    ("gemini-3.5-flash", "pdf", PDF, MEDIUM, None, 3 * 560),
    ("gemini-3.5-flash", "pdf", PDF, HIGH, None, 3 * 1120),
    ("gemini-3.5-flash", "pdf", PDF, None, None, 3 * 560),
]
MIMES = {"image": "image/png", "video": "video/mp4", "audio": "audio/wav", "pdf": "application/pdf"}


@pytest.mark.parametrize(("model", "kind", "m", "line", "own", "tokens"), CELLS)
def test_every_cell_of_the_table(model, kind, m, line, own, tokens):
    from tunestats.config.profiles import get_profile

    profile = get_profile(model)
    gen = rates.generation(profile.family, profile.name)
    p = MediaPart("p", MIMES[kind], uri="x", line_resolution=line, part_resolution=own)
    assert rates.part_tokens(p, kind, m, gen) == tokens


def test_segments_count_their_own_seconds():
    gen = "2.5"
    video = Measurement(size=1, kind="video", container="mp4", duration=60.0, has_audio=True)
    p = MediaPart("p", "video/mp4", uri="x", start=5.0, end=25.0)  # 20 s
    assert rates.part_tokens(p, "video", video, gen) == 20 * 256 + 20 * 32
    p = MediaPart("p", "video/mp4", uri="x", start=50.5)  # to the end: 9.5 s -> 10 frames
    assert rates.part_tokens(p, "video", video, gen) == 10 * 256 + 304
    p = MediaPart("p", "video/mp4", uri="x", end=400.0)  # past the end: the whole minute
    assert rates.part_tokens(p, "video", video, gen) == 60 * 256 + 60 * 32


# --- limits at the boundary and one past -----------------------------------------------------


def _problem(kind: str, m: Measurement, line: str | None = None, **segment) -> str | None:
    p = MediaPart("contents[0].parts[0].fileData", MIMES[kind], uri="gs://b/o", **segment)
    p = MediaPart(p.path, p.mime, p.uri, line_resolution=line, **segment)
    found = rates.object_problem(p, kind, m, "2.5")
    return None if found is None else found.code


@pytest.mark.parametrize(
    ("kind", "limit"),
    [("image", 20_000_000), ("pdf", 20_000_000), ("audio", 100_000_000), ("video", 100_000_000)],
)
def test_size_limits(kind, limit):
    m = Measurement(size=limit, kind=kind, container="x", duration=1.0, pages=1)
    assert _problem(kind, m) is None
    assert _problem(kind, Measurement(**{**m.__dict__, "size": limit + 1})) == "media-too-large"


def test_duration_limits():
    def video(seconds: float) -> Measurement:
        return Measurement(size=1, kind="video", container="mp4", duration=seconds)

    assert _problem("video", video(300)) is None
    assert _problem("video", video(300.001)) == "media-too-long"
    assert _problem("video", video(300.001), MEDIUM) == "media-too-long"
    assert _problem("video", video(1200), LOW) is None
    assert _problem("video", video(1200.5), LOW) == "media-too-long"
    assert _problem("video", video(900), start=100.0, end=400.0) is None  # a 5-minute segment
    audio = Measurement(size=1, kind="audio", container="wav", duration=3600)
    assert _problem("audio", audio) is None
    assert _problem("audio", Measurement(**{**audio.__dict__, "duration": 3601})) == (
        "media-too-long"
    )


def test_mime_types_google_lists():
    for mime in ("image/png", "image/heic", "video/quicktime", "audio/mp3", "application/pdf"):
        assert rates.mime_problem(MediaPart("p", mime, uri="x")) is None
    for mime in ("image/gif", "video/x-msvideo", "text/plain", "application/zip"):
        assert rates.mime_problem(MediaPart("p", mime, uri="x")).code == "media-type"


# --- real files, end to end ------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Real media of known properties, made once for the module."""
    folder = tmp_path_factory.mktemp("media")
    made = {
        "cat.png": make.png(640, 480),
        "speech.wav": make.wav(3.5, rate=1000),  # 3.5 s: ceil(112) = 112 tokens at 32/s
        "clip.mp4": make.mp4(10, audio=True),  # 10 frames; audio 320 tokens at 32/s
        "silent.mp4": make.mp4(10, audio=False),
        "doc.pdf": make.pdf(3),
        "long.mp4": make.mp4(301, audio=False),
        "limit.mp4": make.mp4(300, audio=False),
        "long-low.mp4": make.mp4(1201, audio=False),
        "hour.wav": make.wav(3600, rate=200),
        "hour-plus.wav": make.wav(3601, rate=200),
        "pages150.pdf": make.pdf(150),
        "pages151.pdf": make.pdf(151),
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in made}


def _one(jsonl, rows, **options) -> tunestats.job.results.Stats:
    path = jsonl(rows)
    return tunestats.compute(str(path), tokenizer=TOKENIZER, **options)


def test_each_kind_end_to_end(files, jsonl, cl100k):
    text = cl100k("describe")
    rows = [
        record(part("image/png", str(files["cat.png"]))),
        record(part("audio/wav", str(files["speech.wav"]))),
        record(part("video/mp4", str(files["clip.mp4"]))),
        record(part("video/mp4", str(files["silent.mp4"]))),
        record(part("application/pdf", str(files["doc.pdf"]))),
    ]
    stats = _one(jsonl, rows, model="gemini-2.5-flash")
    r = stats.training.result
    assert r.examples == 5 and r.dropped == 0
    expected = [258, 112, 10 * 256 + 320, 10 * 256, 3 * 258]
    assert sorted(r.input_tokens.buckets) and r.input_tokens.sum == sum(expected) + 5 * text
    assert r.media.tokens == sum(expected)
    assert r.media.parts == {"measured": 5}
    assert r.input_tokens.max == 10 * 256 + 320 + text
    # Gemini 3: video frames at 70, audio at 25/s (3.5 s: 88; the clip's 10 s: 250)
    g3 = _one(jsonl, rows, model="gemini-3.5-flash").training.result
    assert g3.media.tokens == 1120 + 88 + (10 * 70 + 250) + 10 * 70 + 3 * 560


def test_limits_end_to_end(files, jsonl):
    rows = [
        record(part("video/mp4", str(files["limit.mp4"]))),
        record(part("video/mp4", str(files["long.mp4"]))),
        record(part("video/mp4", str(files["long-low.mp4"])), resolution=LOW),
        record(part("audio/wav", str(files["hour.wav"]))),
        record(part("audio/wav", str(files["hour-plus.wav"]))),
        record(
            part("application/pdf", str(files["pages150.pdf"])),
            part("application/pdf", str(files["pages150.pdf"])),
        ),
        record(
            part("application/pdf", str(files["pages150.pdf"])),
            part("application/pdf", str(files["pages151.pdf"])),
        ),
        record(part("video/mp4", str(files["cat.png"]))),  # a PNG declared as a video
        record(part("image/png", str(files["cat.png"]) + ".missing")),
        record(part("image/gif", str(files["cat.png"]))),
    ]
    stats = _one(jsonl, rows, model="gemini-2.5-pro")
    r = stats.training.result
    assert r.examples == 3  # lines 1, 4, 6
    assert r.dropped_lines == [2, 3, 5, 7, 8, 9, 10]
    assert r.dropped_by_code == {
        "media-too-long": 3,
        "media-too-many-pages": 1,
        "media-mismatch": 1,
        "media-missing": 1,
        "media-type": 1,
    }
    reasons = dict(zip(r.dropped_lines, r.dropped_reasons))
    assert "long.mp4 is 5:01 (301.0 s) of video; at most 5 minutes at MEDIUM or HIGH" in reasons[2]
    assert "at most 20 minutes at LOW resolution" in reasons[3]
    assert "of audio; at most 60 minutes per example" in reasons[5]
    assert "PDFs have 301 pages; at most 300 pages per example" in reasons[7]
    assert "declared video/mp4 but its bytes are an image (PNG)" in reasons[8]
    assert (
        reasons[9].startswith("line 9: contents[0].parts[0].fileData ")
        and "not exist" in (reasons[9])
    )
    assert "'image/gif' is not a media type Vertex lists" in reasons[10]


def test_text_report_groups_media_drops_with_their_fix(files, jsonl, capsys):
    from tunestats.cli import main

    path = jsonl([record(part("video/mp4", str(files["long.mp4"]))), record(), record()] * 5)
    path = jsonl(
        [record(part("video/mp4", str(files["long.mp4"])))]
        + [record(part("image/png", str(files["cat.png"])))] * 10
    )
    assert main(["stats", str(path), "--tokenizer", TOKENIZER]) == 0
    out = capsys.readouterr().out
    assert "media-too-long" in out
    assert "fix: trim it to 5 minutes, or set MEDIA_RESOLUTION_LOW (20 minutes)" in out
    assert "media tokens: ESTIMATES at Google's documented rates for gemini-2.5-flash" in out


def test_media_skip_reads_nothing_and_says_so(files, jsonl, tmp_path, capsys):
    from tunestats.cli import main

    gone = str(tmp_path / "gone.mp4")  # would be a missing object if it were read
    rows = [
        record(part("video/mp4", gone)),
        record(part("image/png", str(files["cat.png"]))),
        record(*[part("image/png", "x.png")] * 31),  # the per-example limits still apply
        record(part("image/gif", "x.gif")),  # and the MIME types
    ]
    stats = _one(jsonl, rows, media="skip")
    r = stats.training.result
    assert r.examples == 2 and r.media.tokens == 0 and r.media.parts == {"skipped": 2}
    assert r.dropped_by_code == {"too-many-media": 1, "media-type": 1}
    path = jsonl(rows)
    main(["stats", str(path), "--tokenizer", TOKENIZER, "--media", "skip", "--json"])
    err = capsys.readouterr().err
    assert "media tokens: not counted (--media skip): 2 media parts count 0 tokens" in err


def test_inline_media_is_measured_from_its_bytes(jsonl):
    data = base64.b64encode(make.wav(2.0, rate=1000)).decode()
    inline = {"inlineData": {"mimeType": "audio/wav", "data": data}}
    r = _one(jsonl, [record(inline)]).training.result
    assert r.media.tokens == 64 and r.examples == 1
    stats = _one(jsonl, [record(inline)])
    assert any("inlineData" in w for w in stats.readiness.warnings)
    bogus = {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}  # 3 zero bytes
    r = _one(jsonl, [record(bogus)]).training.result
    assert r.dropped_by_code == {"media-mismatch": 1}


# --- Cloud Storage: shared objects read once, denied, timed out, missing ---------------------


def _download_count(log: RequestLog) -> int:
    return len(log.ranges)


def test_parts_that_share_objects_read_each_object_once(bucket, jsonl, files):
    uris = [bucket.put(f"m/{n}", files[n].read_bytes()) for n in ("cat.png", "clip.mp4", "doc.pdf")]
    mimes = ["image/png", "video/mp4", "application/pdf"]
    few = [record(part(m, u)) for m, u in zip(mimes, uris)]
    many = [record(part(mimes[i % 3], uris[i % 3])) for i in range(600)]
    with RequestLog() as log:
        small = _one(jsonl, few)
    once = _download_count(log)
    with RequestLog() as log:
        big = _one(jsonl, many)
    assert _download_count(log) == once  # 600 parts, the same reads as 3
    assert big.training.result.media.parts == {"measured": 600}
    assert big.training.result.media.tokens == 200 * small.training.result.media.tokens


class _Hang(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(30)

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_denied_objects_drop_nothing_and_are_reported(jsonl, monkeypatch, files):
    with serving(DenyAll) as url:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        rows = [record(part("video/mp4", f"gs://locked/v{i}.mp4")) for i in range(3)]
        rows.append(record(part("image/png", str(files["cat.png"]))))
        stats = _one(jsonl, rows)
    r = stats.training.result
    assert r.examples == 4 and r.dropped == 0
    assert r.media.parts == {"not read": 3, "measured": 1}
    (u,) = r.media.uncounted
    assert (u.status, u.reason, u.count) == ("not read", "permission denied", 3)
    from tunestats.present.text import dataset_media, media_line

    assert (
        "3 media parts could not be read (permission denied: gs://locked/v0.mp4 and 2 more); "
        "their tokens are not counted"
    ) in dataset_media(r.media)
    assert "1 of 4 media parts measured, 3 not counted" in media_line(stats)


def test_timed_out_objects_are_named_and_bounded(jsonl, monkeypatch):
    import subprocess
    import sys

    rows = [record(part("image/png", "gs://slow/x.png")), record()]
    with serving(_Hang) as url:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        start = time.monotonic()
        stats = _one(jsonl, rows, media_timeout=1)
        assert time.monotonic() - start < 20  # 1 s, and the reader's 1 s poll
        # The command ends too: a read still hanging holds no thread the exit waits for.
        start = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tunestats.cli",
                "stats",
                str(jsonl(rows)),
                "--tokenizer",
                TOKENIZER,
                "--media-timeout",
                "1.5",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert time.monotonic() - start < 25
    r = stats.training.result
    assert r.examples == 2 and r.media.parts == {"not read": 1}
    assert r.media.uncounted[0].reason == "timed out after 1 s"
    assert done.returncode == 0, done.stderr
    assert "1 media part could not be read (timed out after 1.5 s: gs://slow/x.png)" in done.stdout


def test_missing_object_on_gcs_is_dropped(bucket, jsonl):
    stats = _one(jsonl, [record(part("image/png", bucket.uri("nothing.png"))), record()])
    r = stats.training.result
    assert r.dropped_by_code == {"media-missing": 1}
    assert f"{bucket.uri('nothing.png')} does not exist" in r.dropped_reasons[0]


# --- batch, Beam, emulator ------------------------------------------------------------------


def _media_dataset(bucket, files) -> str:
    uris = {n: bucket.put(f"objects/{n}", files[n].read_bytes()) for n in ("cat.png", "clip.mp4")}
    rows = [
        record(part("image/png", uris["cat.png"])),
        record(part("video/mp4", uris["clip.mp4"])),
        record(part("image/png", uris["cat.png"]), text="again"),
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    return bucket.put("data/train.jsonl", data)


def test_batch_keeps_media_and_does_not_read_an_unchanged_dataset_again(bucket, files, tmp_path):
    from tunestats.batch import run_batch

    uri = _media_dataset(bucket, files)
    out = tmp_path / "stats"
    run_batch([uri], str(out), tokenizer=TOKENIZER)
    (path,) = out.rglob("*.stats.json")
    rec = json.loads(path.read_text())
    assert rec["media"]["parts"] == {"measured": 3}
    assert rec["media"]["tokens"] == 258 * 2 + 10 * 256 + 320
    assert rec["summary"]["media_parts"] == 3 and rec["summary"]["media_uncounted"] == 0
    assert "media tokens: ESTIMATES" in rec["mediaLine"]
    with RequestLog() as log:
        result = run_batch([uri], str(out), tokenizer=TOKENIZER)
    assert [row.status for row in result.rows] == ["unchanged"]
    assert log.ranges == []  # neither the dataset nor a media object was read


def test_beam_counts_media_as_batch_does(bucket, files, tmp_path):
    pytest.importorskip("apache_beam")
    from tunestats.batch import run_batch
    from tunestats.beam import main

    uri = _media_dataset(bucket, files)
    run_batch([uri], str(tmp_path / "batch"), tokenizer=TOKENIZER)
    assert main([uri, "--out", str(tmp_path / "beam"), "--tokenizer", TOKENIZER]) == 0
    (a,) = (tmp_path / "batch").rglob("*.stats.json")
    (b,) = (tmp_path / "beam").rglob("*.stats.json")
    assert json.loads(a.read_text()) == json.loads(b.read_text())


def test_emulator_counts_media_through_its_storage(bucket, files, tmp_path):
    pytest.importorskip("starlette")
    import httpx

    from tunestats.emulator import Emulator
    from tunestats.emulator.lifecycle import Schedule

    uri = _media_dataset(bucket, files)
    web = bucket.put(
        "data/web.jsonl",
        (json.dumps(record(part("image/png", "https://example.invalid/cat.png"))) + "\n").encode()
        * 3,
    )
    expected = tunestats.compute(uri).to_dict()
    schedule = Schedule(pending=0.05, running=0.1, cancelling=0.1, operation=0.05)
    with Emulator(data_dir=str(tmp_path / "emu"), schedule=schedule) as emu:
        parent = "projects/p/locations/us-central1"
        jobs = {}
        with httpx.Client(base_url=emu.url, timeout=60) as http:
            for name, dataset in (("gs", uri), ("web", web)):
                body = {
                    "baseModel": "gemini-2.5-flash",
                    "supervisedTuningSpec": {"trainingDatasetUri": dataset},
                }
                jobs[name] = http.post(f"/v1/{parent}/tuningJobs", json=body).json()["name"]
            done = {}
            deadline = time.monotonic() + 120
            while len(done) < 2:
                assert time.monotonic() < deadline
                time.sleep(0.1)
                for name, job in jobs.items():
                    doc = http.get(f"/v1/{job}").json()
                    if doc["state"] in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED"):
                        done[name] = doc
    assert done["gs"]["state"] == "JOB_STATE_SUCCEEDED"
    stats = done["gs"]["tuningDataStats"]["supervisedTuningDataStats"]
    assert stats == expected["supervisedTuningDataStats"]
    assert done["gs"]["labels"]["tunestats-media-tokens"] == "documented-rates"
    # http(s) is never read by the emulator: the part is reported, its tokens not counted.
    assert done["web"]["state"] == "JOB_STATE_SUCCEEDED"
    assert done["web"]["labels"]["tunestats-media-tokens"] == "incomplete"


# --- job rules (SPEC §8) ----------------------------------------------------------------------


def test_media_resolution_must_agree_for_gemini_25(jsonl, files):
    img = part("image/png", str(files["cat.png"]))
    rows = [record(img, resolution=LOW), record(img), record(img, resolution=LOW)]
    stats = _one(jsonl, rows, model="gemini-2.5-flash")
    (rejection,) = stats.readiness.rejections
    assert "training line 1 has mediaResolution MEDIA_RESOLUTION_LOW" in rejection
    assert "training line 2 has no mediaResolution" in rejection
    assert _one(jsonl, rows, model="gemini-3.5-flash").readiness.ready  # per part there
    same = [record(img, resolution=LOW)] * 3
    assert _one(jsonl, same, model="gemini-2.5-flash").readiness.ready


def test_warnings_of_section_8(jsonl):
    call = {
        "contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
            {"role": "model", "parts": [{"text": "sunny", "thought": True}]},
        ]
    }
    warnings = _one(jsonl, [call], model="gemini-2.5-flash").readiness.warnings
    assert any("line 1 has a functionCall part" in w and "6127" in w for w in warnings)
    assert any("line 1 has a thought part" in w for w in warnings)
    warnings = _one(jsonl, [call], model="gemini-3.5-flash").readiness.warnings
    assert not any("functionCall" in w for w in warnings)
    warnings = _one(jsonl, [record()], model="gemini-2.0-flash-001").readiness.warnings
    assert any("not on Google's list of tunable models" in w for w in warnings)


def test_300k_examples_with_media_and_the_flash_lite_profile():
    from tunestats.config.profiles import get_profile

    assert get_profile("gemini-3.5-flash-lite").family == "gemini-3"
    assert get_profile("Gemini-3.5-Flash-Lite").max_tokens_per_example == 131_072


# --- property: shard and merge equals whole, with media ----------------------------------------


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10**6), cuts=st.lists(st.integers(1, 40), max_size=3))
def test_shards_merge_to_the_whole_with_media(files, tmp_path, seed, cuts):
    from tunestats.config.options import Options
    from tunestats.config.plan import make_plan
    from tunestats.counting.accumulate import Accumulator
    from tunestats.counting.blocks import accumulate_blocks
    from tunestats.io.lines import read_blocks

    rng = random.Random(seed)
    pool = [
        ("image/png", str(files["cat.png"])),
        ("video/mp4", str(files["clip.mp4"])),
        ("application/pdf", str(files["doc.pdf"])),
        ("video/mp4", str(files["long.mp4"])),  # dropped: too long
        ("image/png", str(files["cat.png"]) + ".missing"),  # dropped: missing
    ]
    lines = []
    for _ in range(40):
        chosen = [part(*rng.choice(pool)) for _ in range(rng.randint(0, 2))]
        lines.append(json.dumps(record(*chosen, text=rng.choice(["a", "b c", "d e f"]))))
    plan = make_plan(Options(tokenizer=TOKENIZER, format="gemini"))
    whole_path = tmp_path / f"whole{seed}.jsonl"
    whole_path.write_text("\n".join(lines) + "\n")
    whole = accumulate_blocks(read_blocks(str(whole_path)), "gemini", plan)
    bounds = sorted({0, *cuts, 40})
    merged = Accumulator()
    shards = []
    for a, b in zip(bounds, bounds[1:]):
        path = tmp_path / f"shard{seed}-{a}.jsonl"
        path.write_text("\n".join(lines[a:b]) + "\n")
        acc = accumulate_blocks(read_blocks(str(path)), "gemini", make_plan(plan.options))
        shards.append(acc.shift(a))
    rng.shuffle(shards)
    for acc in shards:
        merged.merge(acc)
    assert merged.result() == whole.result()
    assert whole.result().media.parts.get("measured", 0) + whole.dropped >= 1 or not any(
        '"fileData"' in line for line in lines
    )


def test_the_readme_media_example(monkeypatch):
    """README, "Media": the bundled multimodal dataset, figure for figure."""
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)  # its fileUris are paths from the repository's root
    stats = tunestats.compute("fixtures/media/train.jsonl")
    r = stats.training.result
    assert (r.examples, r.dropped, r.media.tokens) == (5, 3, 258 + 112 + 2880 + 774 + 1152)
    assert r.input_tokens.sum == 5204 and r.media.parts == {"measured": 5}
    assert r.dropped_by_code == {"media-mismatch": 1, "media-missing": 1, "media-too-long": 1}
    assert any("names a media object by a path" in w for w in stats.readiness.warnings)


def test_a_large_object_is_read_in_part(bucket, jsonl):
    """A 6 MB MP4 whose index (moov) is at its end: its head and its index, not its middle."""
    data = make.with_mdat_padding(make.mp4(10, audio=True), 6_000_000)
    uri = bucket.put("big/clip.mp4", data)
    with RequestLog() as log:
        r = _one(jsonl, [record(part("video/mp4", uri))]).training.result
    assert r.media.parts == {"measured": 1} and r.media.tokens == 10 * 256 + 320
    fetched = 0
    for header in log.ranges:
        assert header is not None, "a whole object was downloaded"
        first, last = header.removeprefix("bytes=").split("-")
        fetched += int(last) - int(first) + 1
    assert fetched < 1_000_000, fetched


def test_the_emulator_reads_no_system_file_as_media(tmp_path, files):
    """With --allow-local-paths, a media path must be a regular file outside /proc, /sys and
    /dev, as a dataset must (issue 18, item 10): its contents would not be shown, but a
    device could hang a count."""
    from tunestats.emulator.datastats import count_job
    from tunestats.media import Access

    strict = Access(http=False, local=True, any_local_file=False)
    refused = strict.refusal("/proc/self/environ")  # the link resolved: /proc/PID/environ
    assert refused.startswith("/proc/") and refused.endswith(
        " is a system file " + ("(under /proc, /sys or /dev)")
    )
    assert strict.refusal("/dev/zero") and strict.refusal(str(tmp_path)) == "not a regular file"
    assert strict.refusal(str(files["cat.png"])) is None
    assert strict.refusal(str(tmp_path / "missing.png")) is None  # reading says: missing
    link = tmp_path / "innocent.png"
    link.symlink_to("/proc/self/status")
    rows = [record(part("image/png", str(link))), record(part("image/png", str(files["cat.png"])))]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = {"task": "supervised", "model": "gemini-2.5-flash", "training": str(path)}
    counted = count_job({**plan, "local_media": True}, "cl100k_base", None)
    assert counted.error is None and counted.labels == {"tunestats-media-tokens": "incomplete"}
