"""The progress bar: what it says, and that counting through it changes nothing."""

from __future__ import annotations

import io

import tunestats
from tunestats.present.progress import Progress, render


def test_render():
    line = render("train.jsonl", 250_000_000, 500_000_000, 1234, 10.0)
    assert line.startswith("train.jsonl [" + "#" * 12 + "." * 12 + "]  50% ")
    assert "250.0 MB / 500.0 MB, 1,234 examples, 25.0 MB/s" in line
    assert render("-", 2048, None, 3, 1.0) == "- 2.0 kB, 3 examples, 2.0 kB/s"


def rows(n: int) -> list:
    return [{"prompt": f"question {i} " * (i % 5), "completion": "answer"} for i in range(n)] + [
        "bad"
    ]


def test_progress_counts_every_byte_and_line(jsonl):
    path = jsonl(rows(400))
    plain = tunestats.compute(str(path), tokenizer="cl100k_base")
    for jobs in (1, 2):
        stream = io.StringIO()
        progress = Progress(stream, slots=2, delay=0.0)
        stats = tunestats.compute(
            str(path), tokenizer="cl100k_base", jobs=jobs, shard_bytes=1000, progress=progress
        )
        line = progress.line()
        progress.close()
        assert stats.to_dict() == plain.to_dict()
        size = path.stat().st_size
        assert f"{size / 1000:,.1f} kB / {size / 1000:,.1f} kB" in line
        assert "401 examples" in line


def test_quiet_cli_prints_only_json(capsys, jsonl):
    from tunestats.cli import main

    assert main(["stats", str(jsonl(rows(3))), "--tokenizer", "cl100k_base", "--json"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("{") and "\r" not in err


def test_render_counts_media_reads():
    assert render("-", 2048, None, 3, 1.0, media=1500) == (
        "- 2.0 kB, 3 examples, 1,500 media objects read, 2.0 kB/s"
    )


def test_progress_counts_media_objects_as_they_are_read(tmp_path):
    """The bar of a run whose lines name media objects shows how many were read."""
    import io
    import json

    import tunestats
    from tests.support import media as make
    from tunestats.present.progress import Progress

    for i in range(5):
        (tmp_path / f"{i}.png").write_bytes(make.png(8 + i, 8))
    rows = [
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {
                            "fileData": {
                                "mimeType": "image/png",
                                "fileUri": str(tmp_path / f"{i}.png"),
                            }
                        }
                    ],
                },
                {"role": "model", "parts": [{"text": "ok"}]},
            ]
        }
        for i in range(5)
    ] * 3
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    progress = Progress(io.StringIO(), delay=0.0)
    tunestats.compute(str(path), tokenizer="cl100k_base", progress=progress)
    line = progress.line()
    progress.close()
    assert "15 examples, 5 media objects read" in line
