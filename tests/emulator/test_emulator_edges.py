"""The emulator at its edges: slow or idle clients and too many connections are bounded
(connections), malformed HTTP and non-UTF-8 JSON are google.rpc.Status errors (connections,
guard), creates and lists stay fast with many stored jobs (store, filters), and local paths
never reach the kernel's own files (validate, counting).

Every network exchange is with raw sockets on 127.0.0.1; the time limits are made short, so
that each timeout is seen in a second or two.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import socket
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.emulator.helpers import IDLE, JOBS, PARENT, job, local_emulator  # noqa: E402
from tests.emulator.test_emulator_filters import jobs as stored_jobs  # noqa: E402
from tests.emulator.test_emulator_filters import render_minimal, terms, trees  # noqa: E402
from tunestats.emulator import Emulator, tuning_jobs  # noqa: E402
from tunestats.emulator.connections import Limits  # noqa: E402
from tunestats.emulator.filters import Filter, compile_filter, parse_filter  # noqa: E402
from tunestats.emulator.lifecycle import Schedule, timestamp  # noqa: E402
from tunestats.emulator.store import Store  # noqa: E402

FAST = Limits(header_timeout=1.0, body_timeout=1.0, keep_alive_timeout=1.0)
BOUND = 20  # seconds within which any limit of one second must have acted, however slow


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with Emulator(
        data_dir=str(tmp_path_factory.mktemp("edges")),
        schedule=IDLE,
        tokenizer="cl100k_base",
        limits=FAST,
    ) as emulator:
        yield emulator


def connect(emu) -> socket.socket:
    sock = socket.create_connection((emu.host, emu.port), timeout=BOUND)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the emulator closes the connection (a reset after its answer, when it
    closed with bytes of ours unread, ends it as well)."""
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def trickle(sock: socket.socket, pieces: list[bytes], every: float = 0.2) -> bytes:
    """Send ``pieces`` one every ``every`` seconds until the emulator answers; its answer."""
    sock.settimeout(every)
    for piece in pieces:
        try:
            sock.sendall(piece)
            first = sock.recv(65536)
        except TimeoutError:
            continue  # nothing yet: on with the next piece
        except OSError:
            break  # closed on us: the answer is waiting
        sock.settimeout(BOUND)
        return first + read_all(sock)
    sock.settimeout(BOUND)
    return read_all(sock)


def status_reply(raw: bytes) -> tuple[int, dict, bytes]:
    """(HTTP status, error of the google.rpc.Status body, head) of one raw response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower(), head
    error = json.loads(body)["error"]
    assert set(error) <= {"code", "message", "status", "details"}, error
    assert error["code"] == status and error["message"], error
    return status, error, head


def head_of(path: str, method: str = "POST", **headers: str) -> bytes:
    lines = [
        f"{method} /v1/{path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- 7. slow requests, idle and too many connections -------------------------------------------


def test_a_body_shorter_than_its_content_length_gets_408(emu, capfd):
    with connect(emu) as sock:
        started = time.monotonic()
        sock.sendall(head_of(JOBS, **{"Content-Type": "application/json", "Content-Length": "100"}))
        sock.sendall(b'{"baseModel": ')  # 14 of the 100 bytes, and then nothing
        status, error, head = status_reply(read_all(sock))
        assert time.monotonic() - started < BOUND
    assert (status, error["status"]) == (408, "DEADLINE_EXCEEDED")
    assert "body did not arrive within 1 s" in error["message"]
    assert b"connection: close" in head.lower()
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_sent_a_byte_at_a_time_is_cut_off(emu):
    body = json.dumps(job()).encode()
    with connect(emu) as sock:
        started = time.monotonic()
        sock.sendall(
            head_of(JOBS, **{"Content-Type": "application/json", "Content-Length": str(len(body))})
        )
        # a byte every 0.2 s: over 10 s in all, far over the limit of 1 s
        reply = trickle(sock, [bytes([byte]) for byte in body])
        assert time.monotonic() - started < BOUND
    assert status_reply(reply)[0] == 408


def test_headers_sent_slowly_get_408(emu, capfd):
    with connect(emu) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /v1/" + JOBS.encode() + b" HTTP/1.1\r\n")
        # a header line every 0.2 s, never the blank line that ends them
        status, error, _ = status_reply(trickle(sock, [b"X-Slow: 1\r\n"] * 100))
        assert time.monotonic() - started < BOUND
    assert (status, error["status"]) == (408, "DEADLINE_EXCEEDED")
    assert "headers did not arrive within 1 s" in error["message"]
    assert "Traceback" not in capfd.readouterr().err


def test_a_connection_that_sends_nothing_is_closed(emu):
    with connect(emu) as sock:
        started = time.monotonic()
        assert read_all(sock) == b""  # closed, without a word: nothing was asked
        assert time.monotonic() - started < BOUND


def test_the_next_request_on_a_kept_alive_connection_is_bounded_too(emu):
    with connect(emu) as sock:
        sock.sendall(head_of(JOBS, method="GET"))
        first = b""
        while b'"tuningJobs"' not in first:
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        sock.sendall(b"GET /v1/" + JOBS.encode() + b" HTTP/1.1\r\nHost: 127")  # and no more
        raw = read_all(sock)
        assert time.monotonic() - started < BOUND
    assert status_reply(raw)[0] == 408


def test_a_body_refused_early_is_then_only_given_its_time(emu):
    """A 413 from the Content-Length, then the body keeps coming slowly: the connection closes
    when the body's time is up, and nothing is said after the 413."""
    with connect(emu) as sock:
        sock.sendall(
            head_of(JOBS, **{"Content-Type": "application/json", "Content-Length": str(50 << 20)})
        )
        reply = b""
        while b"}}" not in reply:  # the 413 comes at once
            reply += sock.recv(65536)
        started = time.monotonic()
        after = trickle(sock, [b" " * 100] * 200)  # 40 s of body if nothing stopped it
        assert time.monotonic() - started < BOUND
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:300]
    assert after == b""


def test_prompt_requests_are_unaffected(emu):
    with httpx.Client(timeout=BOUND) as http:
        for _ in range(3):
            assert http.get(f"{emu.url}/v1/{JOBS}").status_code == 200
            time.sleep(0.3)  # the same kept-alive connection, within its idle time
        reply = http.post(f"{emu.url}/v1/{JOBS}", json=job())
        assert reply.status_code == 200, reply.text


def test_the_default_limits():
    limits = Limits()
    assert (limits.header_timeout, limits.body_timeout) == (10.0, 30.0)
    assert 1 <= limits.connections() <= 1000
    assert Limits(max_connections=7).connections() == 7
    for bad in (Limits(header_timeout=0), Limits(body_timeout=-1), Limits(max_connections=0)):
        with pytest.raises(ValueError):
            Emulator(limits=bad, tokenizer="cl100k_base").start()


def test_past_the_connection_limit_the_longest_idle_connection_goes(tmp_path):
    limits = Limits(header_timeout=30, body_timeout=30, max_connections=10)
    with Emulator(
        data_dir=str(tmp_path), schedule=IDLE, tokenizer="cl100k_base", limits=limits
    ) as emu:
        idle = [connect(emu) for _ in range(30)]
        try:
            time.sleep(0.5)
            reply = httpx.get(f"{emu.url}/v1/{JOBS}", timeout=BOUND)
            assert reply.status_code == 200
            for sock in idle[:15]:  # the oldest were closed to make room
                sock.settimeout(BOUND)
                assert read_all(sock) == b""
        finally:
            for sock in idle:
                sock.close()


def test_when_every_connection_is_busy_a_new_one_gets_503(tmp_path):
    limits = Limits(header_timeout=30, body_timeout=30, max_connections=5)
    with Emulator(
        data_dir=str(tmp_path), schedule=IDLE, tokenizer="cl100k_base", limits=limits
    ) as emu:
        busy = []
        try:
            for _ in range(5):  # each in the middle of its body: none may be closed
                sock = connect(emu)
                sock.sendall(
                    head_of(JOBS, **{"Content-Type": "application/json", "Content-Length": "50"})
                    + b"{"
                )
                busy.append(sock)
            time.sleep(0.5)
            with connect(emu) as sock:
                status, error, _ = status_reply(read_all(sock))
            assert (status, error["status"]) == (503, "UNAVAILABLE")
            assert "Too many connections" in error["message"]
        finally:
            for sock in busy:
                sock.close()
        # The busy ones gone, the emulator serves again.
        deadline = time.monotonic() + BOUND
        while httpx.get(f"{emu.url}/v1/{JOBS}", timeout=BOUND).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_stopping_does_not_wait_for_a_body_that_never_comes(tmp_path, capfd):
    emu = Emulator(
        data_dir=str(tmp_path),
        schedule=IDLE,
        tokenizer="cl100k_base",
        limits=Limits(body_timeout=60),
    ).start()
    with connect(emu) as sock:
        sock.sendall(
            head_of(JOBS, **{"Content-Type": "application/json", "Content-Length": "100"}) + b"{"
        )
        time.sleep(0.3)
        started = time.monotonic()
        emu.stop()
        assert time.monotonic() - started < 4  # under the 5 s of grace a request would get
    assert "Traceback" not in capfd.readouterr().err


def _raise_descriptor_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} file descriptors; the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_1100_idle_connections_at_1024_descriptors_starve_nobody(tmp_path):
    """The reproducer: an emulator whose process may open 1,024 files, 1,100 connections that
    send nothing, then a client. It is served at once, and nothing is printed but a line."""
    _raise_descriptor_limit(2048)

    def limit() -> None:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        )

    code = "import sys; from tunestats.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "emulator",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--tokenizer",
            "cl100k_base",
            "--pending-seconds",
            "3600",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limit,
    )
    idle: list[socket.socket] = []
    try:
        line = process.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", line)[1])
        for _ in range(1100):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=BOUND))
        started = time.monotonic()
        reply = httpx.get(f"http://127.0.0.1:{port}/v1/{JOBS}", timeout=BOUND)
        assert reply.status_code == 200
        assert time.monotonic() - started < 10
    finally:
        for sock in idle:
            sock.close()
        process.terminate()
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err[:2000]


# --- 8. not UTF-8, not HTTP ------------------------------------------------------------------


def post_body(emu, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{emu.url}/v1/{JOBS}",
        content=body,
        headers={"content-type": "application/json"},
        timeout=BOUND,
    )


@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)
def test_utf16_and_utf32_bodies_are_invalid_argument(emu, encoding):
    reply = post_body(emu, json.dumps(job()).encode(encoding))
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "UTF-16 or UTF-32" in error["message"] and "UTF-8" in error["message"]


def test_bytes_that_are_not_utf8_are_invalid_argument(emu):
    body = json.dumps(job(tunedModelDisplayName="caf\u00e9"), ensure_ascii=False).encode("latin-1")
    error = post_body(emu, body).json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and "not UTF-8" in error["message"]


def test_utf8_with_or_without_a_byte_order_mark_is_fine(emu):
    text = json.dumps(job(tunedModelDisplayName="caf\u00e9 \u2603"), ensure_ascii=False)
    for body in (text.encode("utf-8"), text.encode("utf-8-sig")):
        reply = post_body(emu, body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["tunedModelDisplayName"] == "caf\u00e9 \u2603"


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS spoken to plain HTTP
        b"GET /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n",
        b"GET /v1/x HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n",
        b"GET /v1/x HTTP/1.1 and more\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /v1/x\x7f HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
        # headers past 16 kB, still coming
        b"GET /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000,
    ],
)
def test_malformed_http_gets_a_google_rpc_status(emu, raw, capfd):
    with connect(emu) as sock:
        with contextlib.suppress(OSError):  # the 400 may come (and the close) before the end
            sock.sendall(raw)
        status, error, head = status_reply(read_all(sock))
    assert (status, error["status"]) == (400, "INVALID_ARGUMENT")
    assert "Invalid HTTP request" in error["message"]
    assert b"connection: close" in head.lower()
    assert "Traceback" not in capfd.readouterr().err


# --- 9. many jobs: SQL where it can, documents read only for the page -------------------------


def filtered(store: Store, text: str, limit: int = 1000) -> list[str]:
    chosen = compile_filter(text)
    return [job.name for job in tuning_jobs._filtered_page(store, PARENT, None, chosen, limit)]


def put(store: Store, doc: dict, create_ns: int) -> str:
    def make_doc(name: str) -> dict:
        return {**doc, "name": name}

    return store.insert_job(PARENT, "v1", create_ns, {"model": "gemini-2.5-flash"}, make_doc).name


def kept(text: str, names: list[str], docs: list[dict]) -> list[str]:
    """The names whose docs the filter's predicate keeps, newest (last put) first, as a list."""
    keep = parse_filter(text)
    return [name for name, doc in reversed(list(zip(names, docs))) if keep(doc)]


@settings(max_examples=150, deadline=None)
@given(tree=trees, job_list=st.lists(stored_jobs, min_size=1, max_size=8))
def test_the_sql_of_a_filter_picks_what_its_predicate_picks(tree, job_list):
    with contextlib.closing(Store(":memory:")) as store:
        names = [put(store, doc, i) for i, doc in enumerate(job_list)]
        text = render_minimal(tree)
        expected = kept(text, names, job_list)
        assert compile_filter(text).sql is not None
        assert filtered(store, text) == expected, text


@settings(max_examples=150, deadline=None)
@given(term=terms(), job_list=st.lists(stored_jobs, min_size=1, max_size=8))
def test_every_kind_of_term_has_the_same_sql(term, job_list):
    with contextlib.closing(Store(":memory:")) as store:
        names = [put(store, doc, i) for i, doc in enumerate(job_list)]
        text, _ = term
        expected = kept(text, names, job_list)
        assert filtered(store, text) == expected, text


AWKWARD = [
    "",
    None,
    "a\x00b",
    "a\x00",
    "caf\u00e9",
    "\u00e9t\u00e9",
    "\U0001f600x",
    "x*y",
    "A",
    "ab",
]


@pytest.mark.parametrize(
    "text",
    [
        'display_name = "a*"',
        'display_name = "*b"',
        'display_name = "*\\x00*"'.replace("\\x00", "\x00"),
        'display_name = "a\x00*"',
        'display_name = "*\u00e9"',
        'display_name = "*\U0001f600*"',
        'display_name = "\\**"',
        'display_name != "*\u00e9*"',
        'display_name < "b"',
        'display_name >= "\u00e9"',
        'display_name = "*"',
        "display_name:*",
        'description = "*"',
        "labels.k = *",
        'labels.k != "a*"',
        "labels.k > a",
        'labels:"k"',
        "labels:*",
        'create_time < "9999-12-31T23:59:59Z"',
        'create_time > "9999-12-31T23:59:59Z"',
        'end_time != "9999-12-31T23:59:59Z"',
        'end_time = "0001-01-01T00:00:00Z"',
        'end_time > "0001-01-01T00:00:00Z"',
        'NOT end_time < "0001-01-01T00:00:00Z"',
        "state = SUCCEEDED",
        "NOT state != 4",
        "state:*",
        'name = "*/tuningJobs/*"',
        'base_model:"gemini*"',
    ],
)
def test_awkward_values_filter_alike_in_sql_and_python(text):
    with contextlib.closing(Store(":memory:")) as store:
        docs = []
        for i, value in enumerate(AWKWARD):
            doc: dict = {"state": "JOB_STATE_SUCCEEDED" if i % 2 else "JOB_STATE_FAILED"}
            if value is not None:  # "": a display name and a label set to ""
                doc["tunedModelDisplayName"] = value
                doc["labels"] = {"k": value}
            if i % 3:
                doc["endTime"] = timestamp(1_800_000_000_000_000_000 + i)
                doc["baseModel"] = "gemini-2.5-flash"
            doc["createTime"] = timestamp(1_700_000_000_000_000_000 + i)
            docs.append(doc)
        names = [put(store, doc, i) for i, doc in enumerate(docs)]
        stored = [store.get_job(name).doc for name in names]
        expected = kept(text, names, stored)
        assert compile_filter(text).sql is not None
        assert filtered(store, text) == expected, text


def test_a_filter_sql_cannot_say_is_run_over_the_documents():
    assert compile_filter('display_name = "\ud800*"').sql is None  # a lone surrogate: no UTF-8
    assert compile_filter('labels."\udfff":*').sql is None
    chosen = Filter(parse_filter("display_name = x*"), None)
    store = Store(":memory:")
    try:
        names = [
            put(store, {"tunedModelDisplayName": f"{c}{i}"}, i) for i, c in enumerate("xyx" * 300)
        ]
        wanted = [n for n, c in reversed(list(zip(names, "xyx" * 300))) if c == "x"]
        assert [
            j.name for j in tuning_jobs._filtered_page(store, PARENT, None, chosen, 700)
        ] == wanted[:700]
        page = tuning_jobs._filtered_page(store, PARENT, None, chosen, 3)
        after = (page[-1].create_ns, page[-1].name)
        assert [
            j.name for j in tuning_jobs._filtered_page(store, PARENT, after, chosen, 3)
        ] == wanted[3:6]
    finally:
        store.close()


def test_a_thousand_terms_and_deep_parentheses_run_in_sql(emu):
    many = " ".join(["name!=a"] * 1000)  # 7,999 characters: within the 8,192 allowed
    deep = "(" * 60 + "state = SUCCEEDED" + " OR display_name = x)" * 60
    for text in (many, deep):
        assert compile_filter(text).sql is not None
        reply = httpx.get(f"{emu.url}/v1/{JOBS}", params={"filter": text}, timeout=BOUND)
        assert reply.status_code == 200, reply.text[:300]


def test_create_and_list_read_no_document_they_do_not_need(tmp_path, monkeypatch):
    """The reproducer's shape: thousands of jobs; a create and a list that matches nothing
    decode no stored document (they decoded every one), and take well under a second."""
    from tunestats.emulator import store as store_module

    path = tmp_path / "state"
    store = Store(str(path / "tuning_jobs.sqlite"))
    base = time.time_ns() - 10**13
    names = set()
    for i in range(3000):
        doc = {
            "baseModel": "gemini-2.5-flash",
            "tunedModelDisplayName": f"model-{i}",
            "state": "JOB_STATE_SUCCEEDED",
            "createTime": timestamp(base + i),
            "labels": {"team": "nlp" if i % 2 else "cv"},
            "tunedModel": {"model": f"{PARENT}/models/{i}@1"},
        }
        names.add(put(store, doc, base + i))
    store.close()

    decoded = []
    real = store_module._job

    def counting(row):
        if row[0] in names:  # not the new job, which the schedule reads on every tick
            decoded.append(row[0])
        return real(row)

    monkeypatch.setattr(store_module, "_job", counting)
    with (
        Emulator(data_dir=str(path), schedule=IDLE, tokenizer="cl100k_base") as emu,
        httpx.Client(timeout=BOUND) as http,
    ):
        http.get(f"{emu.url}/v1/{JOBS}", params={"pageSize": 1})  # protos imported
        decoded.clear()
        started = time.monotonic()
        reply = http.post(f"{emu.url}/v1/{JOBS}", json=job())
        assert reply.status_code == 200, reply.text
        create_seconds = time.monotonic() - started
        assert decoded == []  # the new job's own row is built, not read back

        started = time.monotonic()
        reply = http.get(f"{emu.url}/v1/{JOBS}", params={"filter": 'display_name="none"'})
        assert reply.json() == {"tuningJobs": []}
        list_seconds = time.monotonic() - started
        assert decoded == []

        page = http.get(
            f"{emu.url}/v1/{JOBS}",
            params={"filter": 'labels.team="cv" AND display_name="model-1*"', "pageSize": 5},
        ).json()
        assert [j["tunedModelDisplayName"] for j in page["tuningJobs"]] == [
            "model-1998",
            "model-1996",
            "model-1994",
            "model-1992",
            "model-1990",
        ]
        assert len(decoded) == 6  # the page and one more (is there a next page?)

        # preTunedModel looks its model up alone
        decoded.clear()
        tuned = {"tunedModelName": f"{PARENT}/models/7@1"}
        reply = http.post(
            f"{emu.url}/v1/{JOBS}",
            json={
                "preTunedModel": tuned,
                "supervisedTuningSpec": {"trainingDatasetUri": "gs://some-bucket/t.jsonl"},
            },
        )
        assert reply.status_code == 200, reply.text
        assert len(decoded) == 1
    assert create_seconds < 5 and list_seconds < 5


OLD_SCHEMA = """
CREATE TABLE jobs (
    name TEXT PRIMARY KEY, parent TEXT NOT NULL, create_ns INTEGER NOT NULL,
    version TEXT NOT NULL, plan TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX jobs_by_parent ON jobs (parent, create_ns DESC, name DESC);
CREATE TABLE operations (
    name TEXT PRIMARY KEY, version TEXT NOT NULL, done_ns INTEGER NOT NULL, doc TEXT NOT NULL
);
"""


def test_a_file_of_the_earlier_emulator_is_carried_over(tmp_path):
    path = tmp_path / "tuning_jobs.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    for i, state in enumerate(["JOB_STATE_SUCCEEDED", "JOB_STATE_RUNNING"]):
        name = f"{JOBS}/{1000000000000000000 + i}"
        doc = {
            "name": name,
            "baseModel": "gemini-2.5-flash",
            "state": state,
            "createTime": timestamp(10**18 + i),
            "labels": {"team": f"t{i}"},
            "tunedModel": {"model": f"{PARENT}/models/{i}@1"},
        }
        db.execute(
            "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?)",
            (
                name,
                PARENT,
                10**18 + i,
                "v1",
                json.dumps({"model": "gemini-2.5-flash"}),
                json.dumps(doc),
            ),
        )
    db.commit()
    db.close()
    store = Store(str(path))
    try:
        assert [j.doc["labels"]["team"] for j in store.jobs(PARENT)] == ["t1", "t0"]
        assert filtered(store, "labels.team = t0 AND state = SUCCEEDED") == [
            f"{JOBS}/1000000000000000000"
        ]
        assert store.names_in_states(("JOB_STATE_RUNNING",)) == [f"{JOBS}/1000000000000000001"]
        assert store.tuned_by(f"{PARENT}/models/0").name == f"{JOBS}/1000000000000000000"
    finally:
        store.close()
    store = Store(str(path))  # and opened again, as it is
    try:
        assert len(store.jobs()) == 2
    finally:
        store.close()


# --- 10. local paths: regular files outside /proc, /sys and /dev -------------------------------


def _a_regular_file_under(top: str) -> str | None:
    for root, _, files in os.walk(top):
        for name in files:
            path = os.path.join(root, name)
            try:
                if stat.S_ISREG(os.stat(path).st_mode) and os.access(path, os.R_OK):
                    return path
            except OSError:
                continue
    return None


def test_the_kernels_own_files_are_refused(local, tmp_path):
    link = tmp_path / "environ.jsonl"
    link.symlink_to("/proc/self/environ")
    chain = tmp_path / "chain.jsonl"
    chain.symlink_to(link)
    cases = ["/proc/self/environ", "file:///proc/self/status", str(link), str(chain)]
    cases += [p for p in (_a_regular_file_under("/sys/kernel"),) if p]
    for uri in cases:
        reply = post_body(local, json.dumps(job(uri)).encode())
        assert reply.status_code == 400, (uri, reply.text)
        message = reply.json()["error"]["message"]
        assert "a file of the system under /" in message, (uri, message)
    regular = tmp_path / "train.jsonl"
    regular.write_text("{}\n")
    through_proc = f"/proc/self/root{regular}"  # resolves to the file itself: fine
    for uri in (str(regular), through_proc):
        assert post_body(local, json.dumps(job(uri)).encode()).status_code == 200, uri


def test_a_dataset_turned_into_a_link_to_proc_fails_its_job(tmp_path, monkeypatch):
    """Checked at create, and again when the count starts: the environment never shows."""
    monkeypatch.setenv("TUNESTATS_EDGE_SECRET", "do-not-show-this-value")
    dataset = tmp_path / "train.jsonl"
    dataset.write_text(
        json.dumps(
            {
                "contents": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": [{"text": "hello"}]},
                ]
            }
        )
        + "\n"
    )
    with local_emulator(tmp_path / "state", Schedule(pending=1.5, running=0.1)) as emu:
        created = post_body(emu, json.dumps(job(str(dataset))).encode()).json()
        dataset.unlink()
        dataset.symlink_to("/proc/self/environ")
        deadline = time.monotonic() + 60
        while True:
            current = httpx.get(f"{emu.url}/v1/{created['name']}", timeout=BOUND).json()
            if current["state"] in ("JOB_STATE_FAILED", "JOB_STATE_SUCCEEDED"):
                break
            assert time.monotonic() < deadline, current["state"]
            time.sleep(0.2)
    assert current["state"] == "JOB_STATE_FAILED", current
    assert "a file of the system under /proc" in current["error"]["message"]
    assert "do-not-show-this-value" not in json.dumps(current)
