"""Media reads: tunestats against a plain sequential loop, on many small objects in a local GCS.

    python benchmarks/media.py [--objects 2000] [--latency-ms 0 20] [--single-threaded]

Starts the local GCS server (gcp-storage-emulator, the test extra's, in its own process on
127.0.0.1), uploads ``--objects`` small real media objects (PNG images, WAV audio, 3-page PDFs,
in turn), and a dataset whose every line names one of them. The server answers requests on a
thread each, as Cloud Storage answers many at once (gcp-storage-emulator itself serves one at a
time: ``--single-threaded`` keeps that), after ``--latency-ms`` of delay per request (0: the
loopback's own, about 2 ms of the server's Python per request; 20: a request to Cloud Storage
from a machine in the same region, roughly). For each latency, in one invocation:

- ``loop``: what one would write by hand: for each object, one after another, gcsfs's
  ``fs.info`` and a read of its first 64 KiB (the header), then ``tunestats.media.measure`` on
  those bytes;
- ``tunestats``: ``tunestats.compute`` on the dataset: the whole run (parsing, counting, and
  every object read and measured once, concurrently).

It prints objects per second for both, the ratio (the issue's aim: at least 10x the loop), the
peak RSS of this process, and checks that both measured the same media tokens. Nothing leaves
127.0.0.1.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("the local GCS server did not start")


def _objects(n: int) -> list[tuple[str, str, bytes]]:
    from tests.support import media as make

    kinds = [
        ("png", "image/png", make.png(64, 48)),
        ("wav", "audio/wav", make.wav(2.0, rate=1000)),
        ("pdf", "application/pdf", make.pdf(3)),
    ]
    out = []
    for i in range(n):
        ext, mime, data = kinds[i % len(kinds)]
        # a distinct object each time: the bytes differ by a trailing comment-like tail
        out.append((f"objects/o{i:05d}.{ext}", mime, data + b"\n" * (i % 7)))
    return out


# The server, in its own process: gcp-storage-emulator with a thread per request (unless
# single-threaded) and a fixed delay before each answer.
SERVER = """
import http.server, socketserver, sys, time
from gcp_storage_emulator import server
port, latency, threaded = int(sys.argv[1]), float(sys.argv[2]) / 1000, sys.argv[3] == "1"
base = http.server.ThreadingHTTPServer if threaded else http.server.HTTPServer
class Slow(base):
    daemon_threads = True
    def finish_request(self, request, address):
        time.sleep(latency)
        super().finish_request(request, address)
server.server.HTTPServer = Slow
s = server.create_server("127.0.0.1", port, in_memory=True, default_bucket="bench")
s.start()
print("up", flush=True)
while True:
    time.sleep(3600)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 20.0])
    parser.add_argument("--single-threaded", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    status = 0
    for latency in args.latency_ms:
        port = _free_port()
        threaded = "0" if args.single_threaded else "1"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port), str(latency), threaded],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(port)
            os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
            kind = "one request at a time" if args.single_threaded else "a thread per request"
            print(f"\n--- {latency:g} ms per request, {kind}")
            status |= _run(args.objects)
        finally:
            server.terminate()
            server.wait()
    return status


def _run(n: int) -> int:
    import gcsfs

    import tunestats
    from tunestats.media.kinds import HEAD_BYTES
    from tunestats.media.measure import measure

    fs = gcsfs.GCSFileSystem(token="anon", skip_instance_cache=True)
    objects = _objects(n)
    fs.pipe({f"bench/{key}": data for key, _, data in objects})
    lines = [
        json.dumps(
            {
                "contents": [
                    {
                        "role": "user",
                        "parts": [{"fileData": {"mimeType": mime, "fileUri": f"gs://bench/{key}"}}],
                    },
                    {"role": "model", "parts": [{"text": "ok"}]},
                ]
            }
        )
        for key, mime, _ in objects
    ]
    with tempfile.TemporaryDirectory() as folder:
        dataset = Path(folder) / "media.jsonl"
        dataset.write_text("\n".join(lines) + "\n")

        loop_fs = gcsfs.GCSFileSystem(token="anon", skip_instance_cache=True)
        start = time.perf_counter()
        loop_tokens = 0
        for key, _, _ in objects:
            info = loop_fs.info(f"bench/{key}")
            head = loop_fs.cat_file(f"bench/{key}", start=0, end=HEAD_BYTES)
            m = measure(io.BytesIO(head), int(info["size"]))
            loop_tokens += {"image": 258, "audio": 64, "pdf": 3 * 258}[m.kind]
        loop = time.perf_counter() - start

        start = time.perf_counter()
        stats = tunestats.compute(str(dataset), tokenizer="cl100k_base")
        ours = time.perf_counter() - start

    media = stats.training.result.media
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n:,} objects on the local GCS server (127.0.0.1), one dataset line each")
    print(f"{'path':<12} {'seconds':>8} {'objects/s':>10}")
    print(f"{'loop':<12} {loop:>8.2f} {n / loop:>10,.0f}")
    print(f"{'tunestats':<12} {ours:>8.2f} {n / ours:>10,.0f}")
    print(f"tunestats is {loop / ours:.1f}x the loop (aim: at least 10x); peak RSS {peak:,.0f} MB")
    same = media.parts == {"measured": n} and media.tokens == loop_tokens
    print(f"identical media tokens: {'yes' if same else 'NO'} ({media.tokens:,})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
