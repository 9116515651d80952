"""The emulator with many stored jobs: create and list latency over HTTP.

    python benchmarks/emulator.py [--jobs 10000] [--repeat 30]

Fills a fresh data directory with ``--jobs`` finished tuning jobs (as the emulator stores them:
labels, display names, one of three states, a real ``tuningDataStats`` from
``fixtures/example.jsonl``), through the store's own API, then starts the emulator on it (jobs
never leave PENDING, so nothing is counted) and times, over one kept-alive HTTP connection,
``--repeat`` times each: create, get, the first page of an unfiltered list, a filtered list
whose page is full (state and a label), and a list whose filter matches nothing (which must
look at every job). Prints the first (the emulator renders a job through the protos once, then
remembers the reply), the median and the 95th percentile of each; the target is a median
under 50 ms for create and for the filtered lists.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 50.0
PARENT = "projects/bench/locations/us-central1"
STATES = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")
TEAMS = ("nlp", "search", "ads", "vision")


def sample_stats() -> dict:
    """A real tuningDataStats document (what a succeeded job holds)."""
    import tunestats

    return tunestats.compute(
        str(ROOT / "fixtures" / "example.jsonl"), tokenizer="cl100k_base"
    ).to_dict()


def fill(data_dir: str, count: int) -> None:
    """``count`` finished jobs, one second apart, as the emulator would have stored them."""
    from tunestats.emulator.lifecycle import timestamp
    from tunestats.emulator.server import DB_NAME
    from tunestats.emulator.store import Store

    stats = sample_stats()
    store = Store(os.path.join(data_dir, DB_NAME))
    start = time.time_ns() - count * 1_000_000_000
    try:
        for i in range(count):
            created = start + i * 1_000_000_000
            state = STATES[i % len(STATES)]
            plan = {
                "task": "supervised",
                "model": "gemini-2.5-flash",
                "training": "gs://bench-bucket/train.jsonl",
                "validation": None,
                "epochs": 3,
                "batch_size": None,
                "local_media": False,
            }

            def make_doc(name: str, i: int = i, created: int = created, state: str = state):
                job_id = name.rsplit("/", 1)[1]
                doc = {
                    "name": name,
                    "baseModel": "gemini-2.5-flash",
                    "tunedModelDisplayName": f"bench-model-{i}",
                    "supervisedTuningSpec": {
                        "trainingDatasetUri": "gs://bench-bucket/train.jsonl",
                        "hyperParameters": {"epochCount": "3"},
                    },
                    "labels": {
                        "team": TEAMS[i % len(TEAMS)],
                        "run": str(i),
                        "tunestats-tokenizer": "gemma3",
                        "tunestats-exact-token-counts": "true",
                    },
                    "state": state,
                    "createTime": timestamp(created),
                    "startTime": timestamp(created + 200_000_000),
                    "endTime": timestamp(created + 700_000_000),
                    "updateTime": timestamp(created + 700_000_000),
                    "experiment": f"{PARENT}/metadataStores/default/contexts/"
                    f"tuning-experiment-{job_id}",
                }
                if state == "JOB_STATE_SUCCEEDED":
                    doc["tuningDataStats"] = stats
                    doc["tunedModel"] = {
                        "model": f"{PARENT}/models/{job_id}@1",
                        "endpoint": f"{PARENT}/endpoints/{job_id}",
                    }
                else:
                    doc["error"] = {
                        "code": 1 if state == "JOB_STATE_CANCELLED" else 3,
                        "message": "ended",
                    }
                return doc

            store.insert_job(PARENT, "v1", created, plan, make_doc)
    finally:
        store.close()


def timed(
    connection: http.client.HTTPConnection, method: str, path: str, body: dict | None, repeat: int
) -> list[float]:
    """Milliseconds of each of ``repeat`` requests (each must succeed)."""
    times = []
    for _ in range(repeat):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if data is not None else {}
        started = time.perf_counter()
        connection.request(method, path, body=data, headers=headers)
        reply = connection.getresponse()
        payload = reply.read()
        times.append((time.perf_counter() - started) * 1000)
        if reply.status != 200:
            raise SystemExit(f"{method} {path}: {reply.status} {payload[:300]!r}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)

    from tunestats.emulator import Emulator
    from tunestats.emulator.lifecycle import Schedule

    with tempfile.TemporaryDirectory(prefix="tunestats-bench-emulator-") as folder:
        started = time.perf_counter()
        fill(folder, args.jobs)
        print(f"{args.jobs:,} jobs stored in {time.perf_counter() - started:.1f} s")
        idle = Schedule(pending=3600, running=3600)
        with Emulator(data_dir=folder, schedule=idle, tokenizer="cl100k_base") as emu:
            connection = http.client.HTTPConnection(emu.host, emu.port, timeout=120)
            jobs = f"/v1/{PARENT}/tuningJobs"
            new_job = {
                "baseModel": "gemini-2.5-flash",
                "tunedModelDisplayName": "bench-new",
                "labels": {"team": "nlp"},
                "supervisedTuningSpec": {"trainingDatasetUri": "gs://bench-bucket/train.jsonl"},
            }
            some = json.loads(timed_body(connection, jobs + "?pageSize=1"))["tuningJobs"][0]

            def listed(text: str) -> str:
                return jobs + "?" + urllib.parse.urlencode({"filter": text})

            cases = {
                "create": ("POST", jobs, new_job),
                "get": ("GET", f"/v1/{some['name']}", None),
                "list, first page (100)": ("GET", jobs, None),
                "list, state AND label (100)": (
                    "GET",
                    listed('state=JOB_STATE_SUCCEEDED AND labels.team="search"'),
                    None,
                ),
                "list, matching nothing": ("GET", listed('display_name="no-such-model"'), None),
                "list, label OR time, nothing": (
                    "GET",
                    listed('labels.team="none" OR create_time<"2000-01-01T00:00:00Z"'),
                    None,
                ),
            }
            targets = {"create", "list, state AND label (100)", "list, matching nothing"}
            print(f"{'request':34} {'first ms':>9} {'median ms':>10} {'p95 ms':>8}  target")
            met = True
            for label, (method, path, body) in cases.items():
                times = timed(connection, method, path, body, args.repeat)
                first, times = times[0], sorted(times)
                median = statistics.median(times)
                p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
                verdict = ""
                if label in targets:
                    ok = median < TARGET_MS
                    met = met and ok
                    verdict = f"< {TARGET_MS:g} ms {'met' if ok else 'NOT met'}"
                print(f"{label:34} {first:9.1f} {median:10.1f} {p95:8.1f}  {verdict}")
            connection.close()
    return 0 if met else 1


def timed_body(connection: http.client.HTTPConnection, path: str) -> bytes:
    connection.request("GET", path)
    return connection.getresponse().read()


if __name__ == "__main__":
    sys.exit(main())
