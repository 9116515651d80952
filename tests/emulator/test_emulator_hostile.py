"""The emulator against hostile requests, over real HTTP: every bad request is a 4xx
google.rpc.Status, never a 500; bodies are size-limited before they are read; only JSON
POSTs for the emulator's own Host are served (no browser, no DNS rebinding); dataset URIs
are plain ``gs://BUCKET/OBJECT`` or, with --allow-local-paths, regular files.
"""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.emulator.helpers import IDLE, JOBS, PARENT, job, local_emulator  # noqa: E402
from tunestats.emulator import Emulator, app  # noqa: E402
from tunestats.emulator.guard import MAX_BODY_BYTES, MAX_JSON_DEPTH  # noqa: E402
from tunestats.emulator.lifecycle import Schedule  # noqa: E402

JSON = {"content-type": "application/json"}
URI_FIELD = "tuning_job.supervised_tuning_spec.training_dataset_uri"


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with Emulator(
        data_dir=str(tmp_path_factory.mktemp("hostile")), schedule=IDLE, tokenizer="cl100k_base"
    ) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def http():
    """One client for many requests (a new httpx client per request costs tens of ms)."""
    with httpx.Client(timeout=30) as client:
        yield client


def post_raw(emu, path: str, content, version: str = "v1", **kw) -> httpx.Response:
    headers = {**JSON, **kw.pop("headers", {})}
    http = kw.pop("http", httpx)
    return http.post(f"{emu.url}/{version}/{path}", content=content, headers=headers, timeout=30)


def status_of(reply: httpx.Response) -> tuple[int, int, str]:
    """(HTTP status, error.code, error.status); the body must be a google.rpc.Status."""
    error = reply.json()["error"]
    assert set(error) <= {"code", "message", "status", "details"}, error
    assert isinstance(error["message"], str) and error["message"]
    return reply.status_code, error["code"], error["status"]


def invalid(reply: httpx.Response) -> dict:
    assert status_of(reply) == (400, 400, "INVALID_ARGUMENT"), reply.text
    return reply.json()["error"]


# --- 12. no 500s --------------------------------------------------------------------------------


def test_deep_nesting_is_invalid_argument(emu):
    deep = {
        "100,000 [": "[" * 100_000,
        "5,000 levels in labels": json.dumps(job())[:-1]
        + ', "labels": '
        + "[" * 5000
        + "]" * 5000
        + "}",
        "just over the limit": json.dumps({"labels": {}, "description": "x"})[:-1]
        + ', "x": '
        + "[" * MAX_JSON_DEPTH
        + "]" * MAX_JSON_DEPTH
        + "}",
        "900 levels": '{"a": ' + "[" * 900 + "]" * 900 + "}",
    }
    for case, body in deep.items():
        error = invalid(post_raw(emu, JOBS, body))
        assert "nested" in error["message"] or "Invalid JSON" in error["message"], case
    # 150 levels inside a partner model's free-form hyperparameters (google.protobuf.Value)
    # parse as protos; they are refused before they are stored, where no reply could show them.
    value = "[" * 150 + "]" * 150
    body = (
        '{"baseModel": "meta/llama3_1@llama-3.1-8b", "partnerModelTuningSpec": '
        '{"trainingDatasetUri": "gs://some-bucket/t.jsonl", "hyperParameters": {"a": '
        + value
        + "}}}"
    )
    assert "nested more than" in invalid(post_raw(emu, JOBS, body, "v1beta1"))["message"]
    assert httpx.get(f"{emu.url}/v1beta1/{JOBS}").status_code == 200


@pytest.mark.parametrize(
    ("version", "body", "words"),
    [
        ("v1beta1", '{"partnerModelTuningSpec": {"hyperParameters": {"a": NaN}}}', "NaN"),
        ("v1beta1", '{"partnerModelTuningSpec": {"hyperParameters": {"a": 1e999}}}', "Infinity"),
        ("v1", '{"description": "\\ud800"}', "surrogate"),
        ("v1", '{"labels": {"\\udfff": "x"}}', "surrogate"),
        ("v1", "[]", "JSON object"),
        ("v1", '"text"', "JSON object"),
        ("v1", '{"a": 1' + "9" * 5000 + "}", "Invalid JSON"),
        ("v1", b'{"baseModel": "\xff"}', "Invalid JSON"),
    ],
)
def test_hostile_json_is_invalid_argument(emu, version, body, words):
    assert words in invalid(post_raw(emu, JOBS, body, version))["message"]


@pytest.mark.parametrize(
    ("hyper", "words"),
    [
        ({"learningRateMultiplier": "NaN"}, "learningRateMultiplier"),
        ({"learningRateMultiplier": "Infinity"}, "learningRateMultiplier"),
        ({"learningRateMultiplier": "-Infinity"}, "learningRateMultiplier"),
        ({"epochCount": "9" * 30}, "epochCount"),
    ],
)
def test_hostile_hyperparameters_are_invalid_argument(emu, hyper, words):
    body = job()
    body["supervisedTuningSpec"]["hyperParameters"] = hyper
    assert words in invalid(post_raw(emu, JOBS, json.dumps(body)))["message"]


@pytest.mark.parametrize("epochs", ["²", "9" * 5000, "0", 101, 2.5, True, "3.0", {"a": 1}])
def test_partner_epochs_are_checked(emu, epochs):
    body = {
        "baseModel": "meta/llama3_1@llama-3.1-8b",
        "partnerModelTuningSpec": {
            "trainingDatasetUri": "gs://some-bucket/t.jsonl",
            "hyperParameters": {"epoch_count": epochs},
        },
    }
    error = invalid(post_raw(emu, JOBS, json.dumps(body), "v1beta1"))
    assert "epoch_count must be a whole number from 1 to 100" in error["message"]
    fields = [v["field"] for v in error["details"][0]["fieldViolations"]]
    assert fields == ["tuning_job.partner_model_tuning_spec.hyper_parameters.epoch_count"]
    body["partnerModelTuningSpec"]["hyperParameters"] = {"epoch_count": 3}  # a JSON number
    assert post_raw(emu, JOBS, json.dumps(body), "v1beta1").status_code == 200


def test_hostile_list_queries_are_invalid_argument(emu):
    import base64

    deep_token = base64.urlsafe_b64encode(b"[" * 3000).decode()
    for params, words in (
        ({"filter": "state=" + "4" * 5000}, "unknown state"),
        ({"filter": "state=" + "0" * 5000 + "4"}, None),  # JOB_STATE_SUCCEEDED, zero-padded
        ({"filter": "labels.a=b " * 1000}, "at most 8192"),
        ({"pageToken": deep_token}, "pageToken"),
        ({"pageToken": "A" * 5000}, "pageToken"),
        ({"pageSize": "-" + "9" * 5000}, "negative"),
        ({"pageSize": "٣"}, "integer"),  # a digit, but not an ASCII one
    ):
        reply = httpx.get(f"{emu.url}/v1/{JOBS}", params=params)
        if words is None:
            assert reply.status_code == 200, reply.text
        else:
            assert words in invalid(reply)["message"], params
    huge = httpx.get(f"{emu.url}/v1/{JOBS}", params={"pageSize": "9" * 5000})
    assert huge.status_code == 200  # cut to the largest page, as any large value


def test_other_bodies_must_be_json_objects(emu):
    name = post_raw(emu, JOBS, json.dumps(job())).json()["name"]
    for path in (
        f"{JOBS}:rebaseTunedModel",
        f"{name}:cancel",
        f"{PARENT}/operations/1:wait",
        f"{PARENT}/operations/1:cancel",
    ):
        for body in ("[]", "3", "null"):
            assert "JSON object" in invalid(post_raw(emu, path, body))["message"], path


def test_a_rebase_override_of_a_oneof_replaces_its_other_member(tmp_path):
    """A preTunedModel over a source with baseModel was stored with both, a TuningJob that no
    GET or list could render again: every list of the parent answered 500 from then on."""
    path = tmp_path / "train.jsonl"
    row = {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "yo"}]},
        ]
    }
    path.write_text(json.dumps(row) + "\n")
    schedule = Schedule(pending=0.05, running=0.05, operation=0.05)
    with local_emulator(tmp_path / "e", schedule) as emu:
        source = post_raw(emu, JOBS, json.dumps(job(str(path)))).json()
        deadline = time.monotonic() + 20
        while (done := httpx.get(f"{emu.url}/v1/{source['name']}").json())["state"] != (
            "JOB_STATE_SUCCEEDED"
        ):
            assert time.monotonic() < deadline, done
            time.sleep(0.05)
        override = {"preTunedModel": {"tunedModelName": done["tunedModel"]["model"]}}
        body = {"tunedModelRef": {"tuningJob": source["name"]}, "tuningJob": override}
        assert post_raw(emu, f"{JOBS}:rebaseTunedModel", json.dumps(body)).status_code == 200
        listed = httpx.get(f"{emu.url}/v1/{JOBS}")
        assert listed.status_code == 200, listed.text
        new = listed.json()["tuningJobs"][0]
        assert new["preTunedModel"] == override["preTunedModel"] and "baseModel" not in new


def test_any_method_and_path_get_a_google_rpc_status(emu):
    for method in ("PUT", "OPTIONS", "DELETE", "PATCH", "FOO"):
        reply = httpx.request(method, f"{emu.url}/v1/{JOBS}")
        assert status_of(reply) == (501, 501, "UNIMPLEMENTED"), (method, reply.text)
    head = httpx.head(f"{emu.url}/v1/{JOBS}")
    assert head.status_code == 501
    for path in ("/", "/favicon.ico", "/v1", "/v1/", "/%ff", "/v1/projects/%0a/locations/x"):
        assert status_of(httpx.get(f"{emu.url}{path}"))[2] == "NOT_FOUND", path


def test_a_bug_is_internal_and_still_a_google_rpc_status(emu, monkeypatch):
    def broken(*args):
        raise RuntimeError("a bug \ud800")  # even an error that cannot be encoded as is

    routes = [(verb, pattern, broken if h is app.get else h) for verb, pattern, h in app.ROUTES]
    monkeypatch.setattr(app, "ROUTES", routes)
    reply = httpx.get(f"{emu.url}/v1/{JOBS}/1")
    assert status_of(reply) == (500, 500, "INTERNAL")
    assert "RuntimeError: a bug" in reply.json()["error"]["message"]


# A little fuzzing: whatever the body or the query, the answer is never a 500.

_FIELDS = [
    "baseModel",
    "supervisedTuningSpec",
    "trainingDatasetUri",
    "validationDatasetUri",
    "hyperParameters",
    "epochCount",
    "learningRateMultiplier",
    "adapterSize",
    "labels",
    "description",
    "tunedModelDisplayName",
    "preTunedModel",
    "tunedModelName",
    "distillationSpec",
    "partnerModelTuningSpec",
    "encryptionSpec",
    "name",
    "state",
    "createTime",
    "tuningDataStats",
    "base_model",
]
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "gemini-2.5-flash",
            "gs://some-bucket/t.jsonl",
            "ADAPTER_SIZE_FOUR",
            "NaN",
            "-Infinity",
            "2026-01-01T00:00:00Z",
            "\ud800",
            "-",
        ]
    )
)
_KEYS = st.sampled_from(_FIELDS) | st.text(max_size=8)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=25,
)
_FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _never_500(reply: httpx.Response) -> None:
    assert reply.status_code < 500, reply.text
    if reply.status_code != 200:
        status_of(reply)


@_FUZZ
@given(body=st.dictionaries(_KEYS, _JSON, max_size=6), version=st.sampled_from(["v1", "v1beta1"]))
def test_fuzzed_json_bodies_never_500(emu, http, body, version):
    text = json.dumps(body, allow_nan=True)
    _never_500(post_raw(emu, JOBS, text, version, http=http))


_VALID = [
    (
        "v1",
        {
            "baseModel": "gemini-2.5-flash",
            "tunedModelDisplayName": "x",
            "labels": {"team": "nlp"},
            "supervisedTuningSpec": {
                "trainingDatasetUri": "gs://some-bucket/t.jsonl",
                "validationDatasetUri": "gs://some-bucket/v.jsonl",
                "hyperParameters": {
                    "epochCount": "3",
                    "learningRateMultiplier": 1.0,
                    "adapterSize": "ADAPTER_SIZE_FOUR",
                    "batchSize": "8",
                },
            },
        },
    ),
    (
        "v1beta1",
        {
            "baseModel": "gemini-2.5-flash",
            "distillationSpec": {
                "baseTeacherModel": "gemini-2.5-pro",
                "trainingDatasetUri": "gs://some-bucket/t.jsonl",
                "hyperParameters": {"epochCount": "2"},
            },
        },
    ),
    (
        "v1beta1",
        {
            "baseModel": "meta/llama3_1@llama-3.1-8b",
            "partnerModelTuningSpec": {
                "trainingDatasetUri": "gs://some-bucket/t.jsonl",
                "hyperParameters": {"epoch_count": 2, "learning_rate": 0.1},
            },
        },
    ),
]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))


@st.composite
def _mutated(draw):
    """A valid job with a few of its fields (at any depth) replaced by anything."""
    version, body = draw(st.sampled_from(_VALID))
    body = json.loads(json.dumps(body))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in _paths(body) if p]))
        target = body
        for key in path[:-1]:
            if not isinstance(target, dict):
                break
            target = target.setdefault(key, {})
        if isinstance(target, dict):
            target[path[-1]] = draw(_JSON | _SCALARS)
    return version, body


@_FUZZ
@given(case=_mutated())
def test_fuzzed_valid_jobs_never_500(emu, http, case):
    version, body = case
    _never_500(post_raw(emu, JOBS, json.dumps(body, allow_nan=True), version, http=http))
    rebase = {"tunedModelRef": {"tuningJob": f"{JOBS}/1"}, "tuningJob": body}
    _never_500(post_raw(emu, f"{JOBS}:rebaseTunedModel", json.dumps(rebase), version, http=http))


@_FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_fuzzed_bytes_never_500(emu, http, raw):
    _never_500(post_raw(emu, JOBS, raw, http=http))
    _never_500(post_raw(emu, f"{JOBS}:rebaseTunedModel", raw, http=http))


@_FUZZ
@given(
    text=st.text(max_size=60)
    | st.lists(
        st.sampled_from(
            ["state", "=", "!=", ":", "(", ")", "AND", "OR", "NOT", "-", "labels.a", '"x*"']
            + ["create_time", ">", "2026-01-01T00:00:00Z", "4", "9" * 50, "*", "\\", "'"]
        ),
        max_size=12,
    ).map(" ".join),
    size=st.none() | st.text(max_size=8),
    token=st.none() | st.text(max_size=30),
)
def test_fuzzed_list_queries_never_500(emu, http, text, size, token):
    params = {"filter": text}
    if size is not None:
        params["pageSize"] = size
    if token is not None:
        params["pageToken"] = token
    _never_500(http.get(f"{emu.url}/v1/{JOBS}", params=params))


# --- 13. the size of a body ---------------------------------------------------------------------


def _exchange(emu, head: str, body: bytes) -> bytes:
    """Send a request's head and the start of its body, then read the answer."""
    with socket.create_connection((emu.host, emu.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        reply = b""
        while b"}}" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    return reply


def _too_large(reply: bytes) -> dict:
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), reply[:200]
    error = json.loads(body)["error"]
    assert (error["code"], error["status"]) == (413, "INVALID_ARGUMENT")
    assert f"{MAX_BODY_BYTES} bytes" in error["message"]
    return error


def test_a_body_over_the_limit_is_refused_from_its_content_length(emu):
    """50 MB announced, 64 kB sent: the 413 comes at once, nothing more is awaited."""
    head = (
        f"POST /v1/{JOBS} HTTP/1.1\r\nHost: {emu.host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50 << 20}\r\n\r\n"
    )
    started = time.monotonic()
    assert "Content-Length 52428800" in _too_large(_exchange(emu, head, b" " * 65536))["message"]
    assert time.monotonic() - started < 5


def test_a_chunked_body_is_refused_once_it_passes_the_limit(emu):
    """Chunks of 64 kB, never ended: the 413 comes once a little more than 1 MiB is in."""
    head = (
        f"POST /v1/{JOBS} HTTP/1.1\r\nHost: {emu.host}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    body = chunk * (MAX_BODY_BYTES // 0x10000 + 1)
    _too_large(_exchange(emu, head, body))


def test_the_limit_itself_is_fine(emu):
    text = json.dumps(job())
    padded = text + " " * (MAX_BODY_BYTES - len(text))
    assert post_raw(emu, JOBS, padded).status_code == 200
    reply = post_raw(emu, JOBS, padded + " ")
    assert status_of(reply) == (413, 413, "INVALID_ARGUMENT")

    def chunks():
        yield padded.encode()
        yield b" "

    assert status_of(post_raw(emu, JOBS, chunks()))[0] == 413  # httpx sends it chunked


# --- 14. browsers and DNS rebinding -------------------------------------------------------------


def _jobs(emu) -> list:
    return httpx.get(f"{emu.url}/v1/{JOBS}").json()["tuningJobs"]


def test_only_json_posts_are_served(tmp_path):
    with Emulator(data_dir=str(tmp_path), schedule=IDLE, tokenizer="cl100k_base") as emu:
        text = json.dumps(job())
        # What a web page may send without a CORS preflight, from its own origin.
        page = post_raw(
            emu,
            JOBS,
            text,
            headers={"content-type": "text/plain;charset=UTF-8", "origin": "http://evil.example"},
        )
        assert 400 <= page.status_code < 500 and status_of(page)[2] in (
            "INVALID_ARGUMENT",
            "PERMISSION_DENIED",
        )
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "",
        ):
            reply = post_raw(emu, JOBS, text, headers={"content-type": content_type})
            assert status_of(reply) == (415, 415, "INVALID_ARGUMENT"), content_type
            assert "Content-Type must be application/json" in reply.json()["error"]["message"]
        no_type = httpx.post(f"{emu.url}/v1/{JOBS}/1:cancel")  # no body, no type
        assert no_type.status_code == 415
        assert _jobs(emu) == []
        for content_type in (
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
        ):
            reply = post_raw(emu, JOBS, text, headers={"content-type": content_type})
            assert reply.status_code == 200, (content_type, reply.text)
        assert len(_jobs(emu)) == 3
        # A JSON POST from a page (after a preflight the emulator never answers with CORS).
        page = post_raw(emu, JOBS, text, headers={"origin": "https://evil.example"})
        assert status_of(page) == (403, 403, "PERMISSION_DENIED")
        preflight = httpx.options(
            f"{emu.url}/v1/{JOBS}",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert preflight.status_code >= 400
        assert "access-control-allow-origin" not in preflight.headers
        for origin in ("null", "file://", "http://127.0.0.1.evil.example"):
            reply = post_raw(emu, JOBS, text, headers={"origin": origin})
            assert status_of(reply)[0] == 403, origin
        same = post_raw(emu, JOBS, text, headers={"origin": f"http://localhost:{emu.port}"})
        assert same.status_code == 200
        assert len(_jobs(emu)) == 4


def _get_with_host(emu, host: str) -> httpx.Response:
    # An emulator bound to every address is reached on 127.0.0.1: tests stay on loopback.
    url = emu.url.replace("://0.0.0.0:", "://127.0.0.1:")
    return httpx.get(f"{url}/v1/{JOBS}", headers={"host": host})


def test_only_the_emulators_own_host_is_served(tmp_path):
    with Emulator(data_dir=str(tmp_path), schedule=IDLE, tokenizer="cl100k_base") as emu:
        for host in (
            "evil.example",
            f"evil.example:{emu.port}",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "127.0.0.2",
            "[::2]",
            "127.0.0.1:x",
            "[::1",
            "",
        ):
            reply = _get_with_host(emu, host)
            assert status_of(reply) == (403, 403, "PERMISSION_DENIED"), host
            assert "DNS rebinding" in reply.json()["error"]["message"]
        post = httpx.post(f"{emu.url}/v1/{JOBS}", json=job(), headers={"host": "evil.example"})
        assert status_of(post)[0] == 403 and _jobs(emu) == []
        for host in (
            "127.0.0.1",
            f"127.0.0.1:{emu.port}",
            "localhost",
            f"LocalHost:{emu.port}",
            "[::1]",
            "[::1]:8080",
        ):
            assert _get_with_host(emu, host).status_code == 200, host


def test_the_host_given_is_served_too(tmp_path):
    with Emulator(
        host="127.0.0.2", data_dir=str(tmp_path / "a"), schedule=IDLE, tokenizer="cl100k_base"
    ) as emu:
        assert httpx.get(f"{emu.url}/v1/{JOBS}").status_code == 200  # Host: 127.0.0.2:PORT
        assert _get_with_host(emu, "localhost").status_code == 200
        assert _get_with_host(emu, "evil.example").status_code == 403
    # Bound to every address: any IP address (a rebinding page sends its own name, never
    # an address) and this machine's names; still no other name.
    with Emulator(
        host="0.0.0.0", data_dir=str(tmp_path / "b"), schedule=IDLE, tokenizer="cl100k_base"
    ) as emu:
        for host in ("10.1.2.3:8080", "[fe80::1]", socket.gethostname(), "127.0.0.1"):
            assert _get_with_host(emu, host).status_code == 200, host
        assert _get_with_host(emu, "evil.example").status_code == 403


# --- 15. dataset URIs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("gs://bucket/x::file:///etc/passwd", "'::' chains file systems"),
        ("gs://bucket/train.jsonl\n", "control character or a line break"),
        ("gs://bucket/a\tb.jsonl", "control character"),
        ("gs://bucket/a\u2028b", "line break"),
        ("gs://bucket/", "the object name is empty"),
        ("gs://bucket", "names no object"),
        ("gs://Bucket/x", "lowercase letters"),
        ("gs://-bucket/x", "starts and ends with a letter or digit"),
        ("gs://bu/x", "3 to 63 characters"),
        ("gs://" + "b" * 64 + "/x", "3 to 63 characters"),
        ("gs://a..b/x", "each dot-separated part"),
        ("gs://192.168.1.1/x", "IP address"),
        ("gs://goog-data/x", "goog"),
        ("gs://my-google-data/x", "google"),
        ("gs://bucket/x#123", "generation"),
        ("gs://bucket/x?generation=1", "generation"),
        ("gs://bucket/..", "cannot be an object name"),
        ("gs://bucket/" + "x" * 1025, "at most 1024 bytes"),
        ("gs:///x", "lowercase letters"),
    ],
)
def test_gcs_uris_must_be_plain(emu, uri, words):
    error = invalid(post_raw(emu, JOBS, json.dumps(job(uri))))
    assert error["message"].startswith("supervisedTuningSpec.trainingDatasetUri must be a Cloud")
    assert words in error["message"]
    assert "\n" not in error["message"] and "\t" not in error["message"]
    assert [v["field"] for v in error["details"][0]["fieldViolations"]] == [URI_FIELD]


def test_plain_gcs_uris_are_fine(emu):
    for uri in (
        "gs://abc/x",
        "gs://my_bucket-1/dir/sub/train.jsonl.gz",
        "gs://data.example.com/ü file (1).jsonl",
        "gs://" + "a" * 63 + "/" + "x" * 1024,
    ):
        assert post_raw(emu, JOBS, json.dumps(job(uri))).status_code == 200, uri
    body = job()
    body["supervisedTuningSpec"]["validationDatasetUri"] = "gs://bucket/v.jsonl\r"
    error = invalid(post_raw(emu, JOBS, json.dumps(body)))
    assert error["message"].startswith("supervisedTuningSpec.validationDatasetUri")
    fields = [v["field"] for v in error["details"][0]["fieldViolations"]]
    assert fields == ["tuning_job.supervised_tuning_spec.validation_dataset_uri"]


def test_other_schemes_stay_refused(local):
    for uri in ("gcs://bucket/x", "GS://bucket/x", "https://example.com/x", "memory://x"):
        error = invalid(post_raw(local, JOBS, json.dumps(job(uri))))
        assert "must be a Cloud Storage URI" in error["message"], uri


def test_local_datasets_must_be_regular_files(local, tmp_path):
    regular = tmp_path / "train.jsonl"
    regular.write_text("{}\n")
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    directory = tmp_path / "dir.jsonl"
    directory.mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "socket.jsonl"))
    cases = {
        "-": "standard input",
        str(fifo): "it is a FIFO, not a regular file",
        str(directory): "it is a directory",
        str(tmp_path / "socket.jsonl"): "it is a socket",
        "/dev/null": "it is a character device",
        str(tmp_path / "none.jsonl"): "no such file",
        f"{regular}::memory://x": "'::' chains file systems",
        f"{regular}\n": "line break",
        "file://localhost" + str(regular): "file:///ABSOLUTE/PATH",
        "file:train.jsonl": "file:///ABSOLUTE/PATH",
        "file://" + str(fifo): "it is a FIFO",
    }
    try:
        for uri, words in cases.items():
            error = invalid(post_raw(local, JOBS, json.dumps(job(uri))))
            assert error["message"].startswith(
                "supervisedTuningSpec.trainingDatasetUri must be a regular local file"
            ), uri
            assert words in error["message"], (uri, error["message"])
            assert [v["field"] for v in error["details"][0]["fieldViolations"]] == [URI_FIELD]
        link = tmp_path / "link.jsonl"
        link.symlink_to(regular)
        for uri in (str(regular), regular.as_uri(), str(link)):
            assert post_raw(local, JOBS, json.dumps(job(uri))).status_code == 200, uri
    finally:
        sock.close()
