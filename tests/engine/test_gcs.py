"""gs:// sources against a real GCS server (gcp-storage-emulator on 127.0.0.1).

Reads must equal local reads bit for bit, be streamed in ranges, and every fault must end in
one clear line: a missing bucket or object, denied access, an object rewritten while it is
read, a server that stops.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

import tunestats
from tests.conftest import CORPUS
from tests.support.gcs import GcsServer, RequestLog, free_port
from tunestats.io.files import SourceError
from tunestats.io.lines import read_blocks
from tunestats.io.sources import stat_source

CORPUS_FILES = sorted(p for p in CORPUS.glob("*/*.jsonl") if p.parent.name != "broken")


def _record(i: int) -> bytes:
    text = f"question {i} " + "lorem ipsum dolor " * (i % 7)
    row = {"messages": [{"role": "user", "content": text}, {"role": "model", "content": "ok"}]}
    return json.dumps(row).encode()


def _dataset(n: int, bad_every: int = 0) -> bytes:
    lines = []
    for i in range(n):
        lines.append(b"{not json" if bad_every and i % bad_every == 0 else _record(i))
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_gs_equals_local_on_the_corpus(bucket, path):
    uri = bucket.put(f"corpus/{path.name}", path.read_bytes())
    local = tunestats.compute(str(path), tokenizer="cl100k_base", jobs=1)
    remote = tunestats.compute(uri, tokenizer="cl100k_base", jobs=1)
    assert remote.to_dict() == local.to_dict()
    assert remote.training.format == local.training.format


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_gs_compressed_and_split_reads_equal_local(bucket, tmp_path, suffix):
    import zstandard

    data = _dataset(3000, bad_every=97)
    packed = {
        "": data,
        ".gz": gzip.compress(data),
        ".zst": zstandard.ZstdCompressor().compress(data),
    }[suffix]
    uri = bucket.put(f"data/train.jsonl{suffix}", packed)
    local = tmp_path / "train.jsonl"
    local.write_bytes(data)
    whole = tunestats.compute(str(local), tokenizer="cl100k_base", jobs=1)
    # Small ranges: an uncompressed object is read by 3 processes, each at the same generation.
    remote = tunestats.compute(uri, tokenizer="cl100k_base", jobs=3, shard_bytes=20_000)
    assert remote.to_dict() == whole.to_dict()
    assert remote.training.dropped == len(range(0, 3000, 97))


def test_reads_are_streamed_in_ranges(monkeypatch):
    """A large object is fetched in ranges as it is read, never downloaded whole first."""
    with RequestLog() as log:
        server = GcsServer().start()
    try:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
        from tests.support.gcs import Bucket, gcs_filesystem

        bucket = Bucket(gcs_filesystem()).create()
        data = _dataset(200_000)  # about 20 MB
        uri = bucket.put("big.jsonl", data)
        log.ranges.clear()
        blocks = read_blocks(uri, expect=stat_source(uri))
        first = next(blocks)
        blocks.close()
        assert first.first_line == 1 and first.lines[0] == _record(0)
        assert log.ranges and all(r is not None and r.startswith("bytes=") for r in log.ranges)
        fetched = sum(int(b) - int(a) + 1 for a, b in (r[6:].split("-") for r in log.ranges))
        assert fetched < len(data) // 2
    finally:
        server.stop()


def test_missing_object_and_bucket(bucket):
    with pytest.raises(SourceError) as info:
        tunestats.compute(bucket.uri("nothing/here.jsonl"), tokenizer="cl100k_base")
    assert str(info.value) == f"{bucket.uri('nothing/here.jsonl')}: no such file or object"
    with pytest.raises(SourceError) as info:
        tunestats.compute("gs://no-such-bucket-xyz/train.jsonl", tokenizer="cl100k_base")
    assert (
        str(info.value) == "gs://no-such-bucket-xyz/train.jsonl: no such bucket: no-such-bucket-xyz"
    )


def test_a_prefix_is_not_a_file(bucket):
    bucket.put("dir/a.jsonl", _dataset(3))
    with pytest.raises(SourceError, match="is a directory or prefix"):
        tunestats.compute(bucket.uri("dir"), tokenizer="cl100k_base")


def test_object_rewritten_while_it_is_read(bucket):
    uri = bucket.put("moving.jsonl", _dataset(20_000))
    blocks = read_blocks(uri, block_size=1 << 16, expect=stat_source(uri))
    next(blocks)
    before = bucket.generation("moving.jsonl")
    bucket.put("moving.jsonl", _dataset(50))
    with pytest.raises(SourceError) as info:
        list(blocks)
    message = str(info.value)
    assert message.startswith(f"{uri}: changed while it was read (generation {before} became")
    assert "\n" not in message


def test_object_deleted_while_it_is_read(bucket):
    uri = bucket.put("gone.jsonl", _dataset(20_000))
    blocks = read_blocks(uri, block_size=1 << 16, expect=stat_source(uri))
    next(blocks)
    bucket.fs.rm_file(f"{bucket.name}/gone.jsonl")
    with pytest.raises(SourceError, match="gone.jsonl: changed while it was read: "):
        list(blocks)


class _Forbidden(BaseHTTPRequestHandler):
    """A storage endpoint that answers every request as GCS does without permission."""

    def _deny(self) -> None:
        body = json.dumps(
            {"error": {"code": 403, "message": "caller does not have storage.objects.get access"}}
        ).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _deny

    def log_message(self, *args: object) -> None:
        pass


def test_access_denied(monkeypatch):
    port = free_port()
    httpd = HTTPServer(("127.0.0.1", port), _Forbidden)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
        with pytest.raises(SourceError) as info:
            stat_source("gs://locked/train.jsonl")
        assert str(info.value).startswith("gs://locked/train.jsonl: access denied: Forbidden")
        assert "\n" not in str(info.value)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _outage_server(monkeypatch) -> tuple[GcsServer, str, bytes]:
    from tests.support.gcs import Bucket, gcs_filesystem

    server = GcsServer().start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
    bucket = Bucket(gcs_filesystem()).create()
    data = _dataset(150_000)  # about 15 MB: several range requests of gcsfs's 5 MB blocks
    return server, bucket.put("outage.jsonl", data), data


@pytest.mark.slow
def test_server_back_after_a_short_outage_gives_identical_results(monkeypatch, tmp_path):
    """gcsfs retries transient errors: a server down for a second costs nothing."""
    server, uri, data = _outage_server(monkeypatch)
    try:
        blocks = read_blocks(uri, expect=stat_source(uri))
        lines = list(next(blocks).lines)
        server.stop()
        threading.Timer(1.5, server.restart).start()
        for block in blocks:
            lines.extend(block.lines)
        assert b"\n".join(lines) + b"\n" == data
    finally:
        time.sleep(1.6)
        server.stop()


@pytest.mark.slow
def test_server_stopped_mid_read_is_one_clear_error(monkeypatch):
    """After gcsfs's retries (about 30 s) the source fails with one line, no traceback."""
    server, uri, _ = _outage_server(monkeypatch)
    blocks = read_blocks(uri, expect=stat_source(uri))
    next(blocks)
    server.stop()
    with pytest.raises(SourceError) as info:
        list(blocks)
    message = str(info.value)
    assert message.startswith(f"{uri}: cannot read: ")
    assert "\n" not in message
