"""The emulator at the HTTP level and its parts: validation, schedule, store, pages, restarts.

Google's own clients drive it in test_emulator_clients.py; here raw JSON checks the rules that
clients never break on their own, and the lifecycle runs on a hand-turned clock.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

from tunestats.emulator import Emulator  # noqa: E402
from tunestats.emulator.filter_fields import parse_timestamp  # noqa: E402
from tunestats.emulator.lifecycle import (  # noqa: E402
    Counted,
    Lifecycle,
    Schedule,
    request_cancel,
    timestamp,
)
from tunestats.emulator.store import Store  # noqa: E402

PARENT = "projects/proj/locations/us-central1"
TOKENIZER, EXACT = "tunestats-tokenizer", "tunestats-exact-token-counts"  # labels we add
# The ``emulator`` fixture counts with cl100k_base: an estimate for every Gemini model.
ESTIMATED = {TOKENIZER: "cl100k_base", EXACT: "false"}
GEMINI_3 = ("gemini-3.5-flash", "gemini-3.1-flash-lite")
EXAMPLE = {
    "contents": [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "yo"}]},
    ]
}


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(EXAMPLE) for _ in range(5)) + "\n")
    return str(path)


@pytest.fixture
def exact_emulator(tmp_path):
    """An emulator with the default tokenizer: each Gemini model's own, shipped."""
    schedule = Schedule(pending=0.1, running=0.3, cancelling=0.2, operation=0.1)
    with Emulator(
        data_dir=str(tmp_path / "exact"), schedule=schedule, allow_local_paths=True
    ) as emu:
        yield emu


def job_body(dataset: str, **extra) -> dict:
    body = {
        "baseModel": "gemini-2.5-flash",
        "supervisedTuningSpec": {"trainingDatasetUri": dataset},
    }
    body.update(extra)
    return body


def post(emu, path: str, body: dict, version: str = "v1", **params) -> httpx.Response:
    return httpx.post(f"{emu.url}/{version}/{path}", json=body, params=params, timeout=30)


def wait_state(emu, name: str, states=("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED")) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = httpx.get(f"{emu.url}/v1/{name}").json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{name} stayed {job['state']}")


def error_of(response: httpx.Response) -> dict:
    return response.json()["error"]


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"baseModel": "gemini-9-ultra"}, "tuning_job.base_model", "not supported for tuning"),
        ({"baseModel": ""}, "tuning_job.base_model", "baseModel is required"),
        ({"tunedModelDisplayName": "x" * 129}, "tuning_job.tuned_model_display_name", "129"),
        ({"labels": {"Team": "a"}}, "tuning_job.labels['Team']", "Label key 'Team'"),
        ({"labels": {"team": "A b"}}, "tuning_job.labels['team']", "Label value"),
        ({"labels": {"1team": "a"}}, "tuning_job.labels['1team']", "must start with a letter"),
        ({"labels": {f"k{i}": "v" for i in range(65)}}, "tuning_job.labels", "At most 64"),
    ],
)
def test_create_rejects_as_vertex_does(emulator, dataset, change, field, words):
    response = post(emulator, f"{PARENT}/tuningJobs", job_body(dataset, **change))
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
    assert words in error["message"]
    (violation,) = error["details"][0]["fieldViolations"]
    assert violation["field"] == field


@pytest.mark.parametrize(
    ("hyper", "field", "words"),
    [
        ({"epochCount": "-1"}, "epoch_count", "between 1 and 100"),
        ({"epochCount": 101}, "epoch_count", "between 1 and 100"),
        ({"learningRateMultiplier": -0.5}, "learning_rate_multiplier", "greater than 0"),
        ({"learningRateMultiplier": 11}, "learning_rate_multiplier", "at most 10"),
        ({"adapterSize": "ADAPTER_SIZE_THIRTY_TWO"}, "adapter_size", "not supported for gemini"),
    ],
)
def test_hyper_parameters_in_range(emulator, dataset, hyper, field, words):
    body = job_body(dataset)
    body["supervisedTuningSpec"]["hyperParameters"] = hyper
    response = post(emulator, f"{PARENT}/tuningJobs", body)
    assert response.status_code == 400, response.text
    assert words in error_of(response)["message"]
    assert error_of(response)["details"][0]["fieldViolations"][0]["field"].endswith(field)


def test_zero_is_unset_as_in_proto3(emulator, dataset):
    body = job_body(dataset)
    body["supervisedTuningSpec"]["hyperParameters"] = {"epochCount": 0, "learningRateMultiplier": 0}
    job = post(emulator, f"{PARENT}/tuningJobs", body).json()
    assert job["supervisedTuningSpec"]["hyperParameters"] == {}


def test_adapter_sizes_follow_the_model(emulator, dataset):
    body = job_body(dataset, baseModel="gemini-2.5-pro")
    body["supervisedTuningSpec"]["hyperParameters"] = {"adapterSize": "ADAPTER_SIZE_SIXTEEN"}
    assert post(emulator, f"{PARENT}/tuningJobs", body).status_code == 400
    body["baseModel"] = "gemini-2.5-flash"
    assert post(emulator, f"{PARENT}/tuningJobs", body).status_code == 200


@pytest.mark.parametrize("model", GEMINI_3)
def test_gemini_3_takes_adapter_sizes_1_to_16(emulator, dataset, model):
    for size in ("ONE", "TWO", "FOUR", "EIGHT", "SIXTEEN"):
        body = job_body(dataset, baseModel=model)
        body["supervisedTuningSpec"]["hyperParameters"] = {"adapterSize": f"ADAPTER_SIZE_{size}"}
        reply = post(emulator, f"{PARENT}/tuningJobs", body)
        assert reply.status_code == 200, (size, reply.text)
        job = reply.json()
        assert job["baseModel"] == model and job["state"] == "JOB_STATE_PENDING"
        assert job["supervisedTuningSpec"]["hyperParameters"] == {
            "adapterSize": f"ADAPTER_SIZE_{size}"
        }
    for name in (model, f"publishers/google/models/{model}"):
        body = job_body(dataset, baseModel=name)
        body["supervisedTuningSpec"]["hyperParameters"] = {"adapterSize": "ADAPTER_SIZE_THIRTY_TWO"}
        reply = post(emulator, f"{PARENT}/tuningJobs", body)
        assert reply.status_code == 400, reply.text
        error = error_of(reply)
        assert error["message"] == (
            f"adapterSize ADAPTER_SIZE_THIRTY_TWO is not supported for {name}; supported: "
            "ADAPTER_SIZE_ONE, ADAPTER_SIZE_TWO, ADAPTER_SIZE_FOUR, ADAPTER_SIZE_EIGHT, "
            "ADAPTER_SIZE_SIXTEEN."
        )
        (violation,) = error["details"][0]["fieldViolations"]
        assert (
            violation["field"] == "tuning_job.supervised_tuning_spec.hyper_parameters.adapter_size"
        )
    listed = httpx.get(f"{emulator.url}/v1/{PARENT}/tuningJobs").json()["tuningJobs"]
    assert len(listed) == 5


def test_structure_errors(emulator, dataset):
    no_spec = post(emulator, f"{PARENT}/tuningJobs", {"baseModel": "gemini-2.5-flash"})
    assert "A tuning spec is required" in error_of(no_spec)["message"]
    unknown = post(emulator, f"{PARENT}/tuningJobs", job_body(dataset, hyperParams={}))
    assert unknown.status_code == 400
    assert 'no field named "hyperParams"' in error_of(unknown)["message"]
    nested = job_body(dataset)
    nested["supervisedTuningSpec"]["epochs"] = 3
    assert (
        'no field named "epochs"'
        in error_of(post(emulator, f"{PARENT}/tuningJobs", nested))["message"]
    )
    two_specs = job_body(dataset, distillationSpec={"trainingDatasetUri": dataset})
    assert post(emulator, f"{PARENT}/tuningJobs", two_specs, "v1beta1").status_code == 400
    not_json = httpx.post(
        f"{emulator.url}/v1/{PARENT}/tuningJobs",
        content=b"{oops",
        headers={"content-type": "application/json"},
    )
    assert not_json.status_code == 400 and "Invalid JSON payload" in error_of(not_json)["message"]
    missing = post(
        emulator,
        f"{PARENT}/tuningJobs",
        {"baseModel": "gemini-2.5-flash", "supervisedTuningSpec": {}},
    )
    assert "trainingDatasetUri is required" in error_of(missing)["message"]


def test_output_only_fields_are_ignored(emulator, dataset):
    body = job_body(
        dataset, state="JOB_STATE_SUCCEEDED", name="projects/x/locations/y/tuningJobs/1"
    )
    job = post(emulator, f"{PARENT}/tuningJobs", body).json()
    assert job["state"] == "JOB_STATE_PENDING"
    assert (
        job["name"].startswith(f"{PARENT}/tuningJobs/") and job["name"].rsplit("/", 1)[1].isdigit()
    )


def test_local_paths_need_the_flag(tmp_path, dataset):
    with Emulator(data_dir=str(tmp_path / "e"), tokenizer="cl100k_base") as emu:
        response = post(emu, f"{PARENT}/tuningJobs", job_body(dataset))
        assert response.status_code == 400
        assert "must be a Cloud Storage URI" in error_of(response)["message"]
        assert "--allow-local-paths" in error_of(response)["message"]
        ok = post(emu, f"{PARENT}/tuningJobs", job_body("gs://some-bucket/train.jsonl"))
        assert ok.status_code == 200


# --- the labels of exactness ------------------------------------------------------------------


def test_labels_say_the_default_tokenizer_is_exact(exact_emulator, dataset, monkeypatch):
    import dataclasses

    import tunestats
    from tunestats import tokenizers as tk

    # issue 21: Llama counts with its own tokenizer when the open-models extra is installed
    # (tests/engine/test_open_models.py checks those labels); here it is missing.
    llama = tk.PACKAGED["llama3"]
    monkeypatch.setitem(tk.PACKAGED, "llama3", dataclasses.replace(llama, places=()))
    emu = exact_emulator
    expected = {
        "gemini-2.5-flash": {TOKENIZER: "gemma3", EXACT: "true"},
        "gemini-3.5-flash": {TOKENIZER: "gemma4", EXACT: "true"},
        "gemini-3.1-flash-lite": {TOKENIZER: "gemma4", EXACT: "true"},
        "gemini-1.5-flash-002": {TOKENIZER: "gemma2", EXACT: "true"},
        # An open model whose tokenizer is not installed: cl100k_base estimates.
        "meta/llama3_1@llama-3.1-8b": {TOKENIZER: "cl100k_base", EXACT: "false"},
    }
    names = {}
    for model, labels in expected.items():
        created = post(emu, f"{PARENT}/tuningJobs", job_body(dataset, baseModel=model)).json()
        assert created["labels"] == labels, model  # in the reply to create already
        assert httpx.get(f"{emu.url}/v1/{created['name']}").json()["labels"] == labels
        names[model] = created["name"]
    job = wait_state(emu, names["gemini-3.5-flash"])
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    assert job["labels"] == expected["gemini-3.5-flash"]
    counted = tunestats.compute(dataset, model="gemini-3.5-flash", jobs=1)
    assert (counted.tokenizer, counted.exact) == ("gemini:tokenizer_gemma4.model", True)
    assert job["tuningDataStats"] == counted.to_dict()
    # List filters select on them like on any label.
    reply = httpx.get(
        f"{emu.url}/v1/{PARENT}/tuningJobs", params={"filter": f"labels.{EXACT}=false"}
    ).json()
    assert [j["name"] for j in reply["tuningJobs"]] == [names["meta/llama3_1@llama-3.1-8b"]]
    ints = httpx.get(f"{emu.url}/v1/{job['name']}", params={"$alt": "json;enum-encoding=int"})
    assert ints.json()["labels"] == expected["gemini-3.5-flash"]


@pytest.mark.parametrize("model", ["gemini-2.5-flash", *GEMINI_3])
def test_labels_say_cl100k_base_is_an_estimate(emulator, dataset, model):
    created = post(emulator, f"{PARENT}/tuningJobs", job_body(dataset, baseModel=model)).json()
    assert created["labels"] == ESTIMATED
    job = wait_state(emulator, created["name"])
    assert job["state"] == "JOB_STATE_SUCCEEDED" and job["labels"] == ESTIMATED


def test_the_users_labels_are_kept_as_set(emulator, dataset):
    user = {"team": "nlp", EXACT: "maybe"}  # a key of ours, set by the user: the user's value
    created = post(emulator, f"{PARENT}/tuningJobs", job_body(dataset, labels=user)).json()
    assert created["labels"] == {"team": "nlp", EXACT: "maybe", TOKENIZER: "cl100k_base"}
    done = wait_state(emulator, created["name"])
    assert done["state"] == "JOB_STATE_SUCCEEDED" and done["labels"] == created["labels"]
    both = {TOKENIZER: "mine", EXACT: ""}
    assert (
        post(emulator, f"{PARENT}/tuningJobs", job_body(dataset, labels=both)).json()["labels"]
        == both
    )
    # The limit of 64 is the user's: ours come on top, and stay out of every reply's way.
    many = {f"k{i}": "v" for i in range(64)}
    full = post(emulator, f"{PARENT}/tuningJobs", job_body(dataset, labels=many)).json()
    assert full["labels"] == {**many, **ESTIMATED}
    assert not any(key.startswith("_") for key in full)  # no hidden field of the store
    full = wait_state(emulator, full["name"])
    # A rebased copy has the source's labels as the user set them, and ours once more.
    for source, labels in ((done, created["labels"]), (full, {**many, **ESTIMATED})):
        op = post(
            emulator,
            f"{PARENT}/tuningJobs:rebaseTunedModel",
            {"tunedModelRef": {"tuningJob": source["name"]}},
        )
        assert op.status_code == 200, op.text
        waited = httpx.post(
            f"{emulator.url}/ui/{op.json()['name']}:wait", json={"timeout": "10s"}
        ).json()
        assert waited["response"]["labels"] == labels
    # Filters see the user's value.
    reply = httpx.get(
        f"{emulator.url}/v1/{PARENT}/tuningJobs", params={"filter": f"labels.{EXACT}=maybe"}
    ).json()
    assert len(reply["tuningJobs"]) == 2  # the job and its rebased copy


def test_a_bad_tokenizer_stops_the_start(tmp_path):
    from tunestats.tokenizers import TokenizerError

    with pytest.raises(TokenizerError, match="unknown tokenizer 'bogus'"):
        Emulator(data_dir=str(tmp_path / "a"), tokenizer="bogus").start()
    with pytest.raises(TokenizerError, match="none.model"):
        Emulator(data_dir=str(tmp_path / "b"), tokenizer_model=str(tmp_path / "none.model")).start()
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# --- the life of a job -----------------------------------------------------------------------


def test_job_lifecycle_and_stats(emulator, dataset):
    import tunestats

    body = job_body(dataset, labels={"team": "nlp"})
    body["supervisedTuningSpec"]["hyperParameters"] = {"epochCount": "3"}
    created = post(emulator, f"{PARENT}/tuningJobs", body).json()
    job = wait_state(emulator, created["name"])
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    times = [parse_timestamp(job[k]) for k in ("createTime", "startTime", "endTime")]
    assert times == sorted(times) and job["updateTime"] == job["endTime"]
    assert all(job[k].endswith("Z") for k in ("createTime", "startTime", "endTime"))
    job_id = job["name"].rsplit("/", 1)[1]
    assert job["tunedModel"] == {
        "model": f"{PARENT}/models/{job_id}@1",
        "endpoint": f"{PARENT}/endpoints/{job_id}",
    }
    assert job["experiment"].endswith(f"/contexts/tuning-experiment-{job_id}")
    expected = tunestats.compute(dataset, tokenizer="cl100k_base", epochs=3).to_dict()
    assert job["tuningDataStats"] == expected


def test_unusable_dataset_fails_the_job(emulator, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"contents": 3}\n{"contents": []}\n')
    job = wait_state(
        emulator, post(emulator, f"{PARENT}/tuningJobs", job_body(str(bad))).json()["name"]
    )
    assert job["state"] == "JOB_STATE_FAILED" and job["error"]["code"] == 3
    assert "no valid example" in job["error"]["message"] and "line 1:" in job["error"]["message"]
    assert "tuningDataStats" not in job and "endTime" in job
    # A local file must exist when the job is created (test_emulator_hostile.py has the rest).
    missing = post(emulator, f"{PARENT}/tuningJobs", job_body(str(tmp_path / "none.jsonl")))
    assert missing.status_code == 400 and "no such file" in error_of(missing)["message"]


def test_cancel(tmp_path, dataset):
    slow = Schedule(pending=5, running=5, cancelling=0.2)
    with Emulator(
        data_dir=str(tmp_path / "e"), schedule=slow, allow_local_paths=True, tokenizer="cl100k_base"
    ) as emu:
        name = post(emu, f"{PARENT}/tuningJobs", job_body(dataset)).json()["name"]
        assert httpx.post(f"{emu.url}/v1/{name}:cancel", json={}).json() == {}
        assert httpx.get(f"{emu.url}/v1/{name}").json()["state"] == "JOB_STATE_CANCELLING"
        job = wait_state(emu, name, ("JOB_STATE_CANCELLED",))
        assert job["error"]["code"] == 1 and "endTime" in job
        again = httpx.post(f"{emu.url}/v1/{name}:cancel", json={})
        assert again.status_code == 400 and error_of(again)["status"] == "FAILED_PRECONDITION"
        missing = httpx.post(f"{emu.url}/v1/{PARENT}/tuningJobs/123:cancel", json={})
        assert missing.status_code == 404 and error_of(missing)["status"] == "NOT_FOUND"


def test_restart_keeps_every_job_and_resumes_schedules(tmp_path, dataset):
    data = str(tmp_path / "state")
    schedule = Schedule(pending=0.5, running=0.3)
    with Emulator(
        data_dir=data, schedule=schedule, allow_local_paths=True, tokenizer="cl100k_base"
    ) as emu:
        done = post(emu, f"{PARENT}/tuningJobs", job_body(dataset)).json()["name"]
        wait_state(emu, done)
        pending = post(emu, f"{PARENT}/tuningJobs", job_body(dataset)).json()["name"]
        before = httpx.get(f"{emu.url}/v1/{PARENT}/tuningJobs").json()
    with Emulator(
        data_dir=data, schedule=schedule, allow_local_paths=True, tokenizer="cl100k_base"
    ) as emu:
        after = httpx.get(f"{emu.url}/v1/{PARENT}/tuningJobs").json()
        assert [j["name"] for j in after["tuningJobs"]] == [pending, done]
        assert after["tuningJobs"][1] == before["tuningJobs"][1]
        assert wait_state(emu, pending)["state"] == "JOB_STATE_SUCCEEDED"


# --- list ------------------------------------------------------------------------------------


def test_list_pages_newest_first_and_tokens(emulator, dataset):
    names = [
        post(emulator, f"{PARENT}/tuningJobs", job_body(dataset)).json()["name"] for _ in range(7)
    ]
    seen, token = [], None
    while True:
        params = {"pageSize": 3, **({"pageToken": token} if token else {})}
        page = httpx.get(f"{emulator.url}/v1/{PARENT}/tuningJobs", params=params).json()
        seen += [j["name"] for j in page["tuningJobs"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == names[::-1]
    other = httpx.get(f"{emulator.url}/v1/projects/other/locations/us-central1/tuningJobs").json()
    assert other == {"tuningJobs": []}
    first = httpx.get(f"{emulator.url}/v1/{PARENT}/tuningJobs", params={"pageSize": 2}).json()
    wrong = httpx.get(
        f"{emulator.url}/v1/{PARENT}/tuningJobs",
        params={"pageToken": first["nextPageToken"], "filter": "state=JOB_STATE_PENDING"},
    )
    assert wrong.status_code == 400 and "does not belong" in error_of(wrong)["message"]
    for bad in ({"pageToken": "garbage"}, {"pageSize": -1}, {"pageSize": "x"}):
        assert httpx.get(f"{emulator.url}/v1/{PARENT}/tuningJobs", params=bad).status_code == 400
    big = httpx.get(f"{emulator.url}/v1/{PARENT}/tuningJobs", params={"pageSize": 10**6})
    assert len(big.json()["tuningJobs"]) == 7


def test_list_filters(emulator, dataset):
    a = post(emulator, f"{PARENT}/tuningJobs", job_body(dataset, labels={"team": "nlp"})).json()
    wait_state(emulator, a["name"])
    b = post(emulator, f"{PARENT}/tuningJobs", job_body(dataset, labels={"team": "cv"})).json()
    c = post(emulator, f"{PARENT}/tuningJobs", job_body(dataset)).json()

    def names(text: str) -> list[str]:
        reply = httpx.get(f"{emulator.url}/v1/{PARENT}/tuningJobs", params={"filter": text})
        assert reply.status_code == 200, reply.text
        return [j["name"] for j in reply.json()["tuningJobs"]]

    assert names('state="JOB_STATE_SUCCEEDED"') == [a["name"]]
    assert names("labels.team=nlp OR labels.team=cv") == [b["name"], a["name"]]
    assert names("labels.team:*") == [b["name"], a["name"]]
    assert names("NOT labels.team:*") == [c["name"]]
    assert names(f'create_time>"{b["createTime"]}"') == [c["name"]]
    assert names(f'create_time>="{b["createTime"]}" AND labels.team:*') == [b["name"]]
    bad = httpx.get(f"{emulator.url}/v1/{PARENT}/tuningJobs", params={"filter": "state=("})
    assert bad.status_code == 400 and error_of(bad)["message"].startswith("Invalid filter: ")


# --- JSON conventions ------------------------------------------------------------------------


def test_int64_and_enums_in_both_spellings(emulator, dataset):
    for epochs, size in (("3", "ADAPTER_SIZE_FOUR"), (3, 2)):
        body = job_body(dataset)
        body["supervisedTuningSpec"]["hyperParameters"] = {
            "epochCount": epochs,
            "adapterSize": size,
        }
        job = post(emulator, f"{PARENT}/tuningJobs", body).json()
        assert job["supervisedTuningSpec"]["hyperParameters"] == {
            "epochCount": "3",
            "adapterSize": "ADAPTER_SIZE_FOUR",
        }
        ints = httpx.get(
            f"{emulator.url}/v1/{job['name']}", params={"$alt": "json;enum-encoding=int"}
        )
        assert ints.json()["state"] in (2, 3, 4)
        assert ints.json()["supervisedTuningSpec"]["hyperParameters"]["adapterSize"] == 2
    snake = {
        "base_model": "gemini-2.5-flash",
        "supervised_tuning_spec": {"training_dataset_uri": dataset},
    }
    assert post(emulator, f"{PARENT}/tuningJobs", snake).status_code == 200


def test_rebase_operation(emulator, dataset):
    source = post(emulator, f"{PARENT}/tuningJobs", job_body(dataset)).json()
    running = post(
        emulator,
        f"{PARENT}/tuningJobs:rebaseTunedModel",
        {"tunedModelRef": {"tuningJob": source["name"]}},
    )
    assert running.status_code == 400 and error_of(running)["status"] == "FAILED_PRECONDITION"
    done = wait_state(emulator, source["name"])
    op = post(
        emulator,
        f"{PARENT}/tuningJobs:rebaseTunedModel",
        {
            "tunedModelRef": {"tunedModel": done["tunedModel"]["model"]},
            "tuningJob": {"description": "again"},
        },
    ).json()
    assert op["name"].startswith(f"{PARENT}/tuningJobs/") and "/operations/" in op["name"]
    assert op["metadata"]["@type"].endswith("v1.RebaseTunedModelOperationMetadata")
    for prefix in ("ui", "v1", "v1beta1"):
        assert httpx.get(f"{emulator.url}/{prefix}/{op['name']}").status_code == 200
    waited = httpx.post(f"{emulator.url}/ui/{op['name']}:wait", json={"timeout": "10s"}).json()
    assert waited["done"] is True
    response = waited["response"]
    assert response["@type"] == "type.googleapis.com/google.cloud.aiplatform.v1.TuningJob"
    assert response["description"] == "again" and response["baseModel"] == "gemini-2.5-flash"
    assert (
        httpx.post(f"{emulator.url}/ui/{op['name']}:cancel", json={}).json() == {}
    )  # done: no effect
    assert httpx.get(f"{emulator.url}/ui/{op['name']}").json()["done"] is True
    missing = post(
        emulator,
        f"{PARENT}/tuningJobs:rebaseTunedModel",
        {"tunedModelRef": {"tuningJob": f"{PARENT}/tuningJobs/1"}},
    )
    assert missing.status_code == 404


def test_unknown_paths(emulator):
    assert httpx.get(f"{emulator.url}/v2/{PARENT}/tuningJobs").status_code == 404
    assert httpx.get(f"{emulator.url}/v1/{PARENT}/models").status_code == 404
    assert httpx.get(f"{emulator.url}/v1/{PARENT}/tuningJobs/42").status_code == 404
    assert httpx.delete(f"{emulator.url}/v1/{PARENT}/tuningJobs/42").status_code == 501


def test_many_clients_lose_and_duplicate_nothing(emulator, dataset):
    made: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client() as http:
            for _ in range(8):
                reply = http.post(f"{emulator.url}/v1/{PARENT}/tuningJobs", json=job_body(dataset))
                assert reply.status_code == 200
                with lock:
                    made.append(reply.json()["name"])

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    listed = httpx.get(f"{emulator.url}/v1/{PARENT}/tuningJobs", params={"pageSize": 1000}).json()
    names = [j["name"] for j in listed["tuningJobs"]]
    assert len(made) == 48 and sorted(names) == sorted(made) and len(set(names)) == 48


# --- the parts, on a hand-turned clock ----------------------------------------------------------


def test_lifecycle_on_a_fake_clock(tmp_path):
    store = Store(str(tmp_path / "db.sqlite"))
    now = [10**18]
    counted = Counted({"supervisedTuningDataStats": {"tuningDatasetExampleCount": "5"}})
    life = Lifecycle(
        store, Schedule(pending=1, running=2, cancelling=1), lambda plan: counted, lambda: now[0]
    )
    doc = lambda name: {"name": name, "state": "JOB_STATE_PENDING", "createTime": timestamp(now[0])}  # noqa: E731
    job = store.insert_job(PARENT, "v1", now[0], {"task": "supervised"}, doc)

    def state() -> str:
        return store.get_job(job.name).state

    life.tick()
    assert state() == "JOB_STATE_PENDING"
    now[0] += 10**9
    life.tick()
    assert state() == "JOB_STATE_RUNNING"
    assert store.get_job(job.name).doc["startTime"] == timestamp(now[0])
    for _ in range(100):  # counting runs in a thread
        life.tick()
        if "tuningDataStats" in store.get_job(job.name).doc:
            break
        time.sleep(0.01)
    assert state() == "JOB_STATE_RUNNING"
    now[0] += 2 * 10**9
    life.tick()
    final = store.get_job(job.name).doc
    assert final["state"] == "JOB_STATE_SUCCEEDED" and final["endTime"] == timestamp(now[0])
    assert final["tuningDataStats"] == counted.stats

    other = store.insert_job(PARENT, "v1", now[0], {"task": "supervised"}, doc)
    store.update_job(other.name, lambda j: request_cancel(j, now[0]))
    life.tick()
    assert store.get_job(other.name).state == "JOB_STATE_CANCELLING"
    now[0] += 10**9
    life.tick()
    assert store.get_job(other.name).doc["error"] == {
        "code": 1,
        "message": "The tuning job was cancelled.",
    }
    life.stop()
    store.close()


def test_timestamps_are_rfc3339_z():
    assert timestamp(0) == "1970-01-01T00:00:00Z"
    assert timestamp(1_500_000_000_123_000_000) == "2017-07-14T02:40:00.123Z"
    assert timestamp(1_500_000_000_123_456_789) == "2017-07-14T02:40:00.123456789Z"
    assert parse_timestamp("2017-07-14T08:10:00.123+05:30") == 1_500_000_000_123_000_000


def test_cli_serves_until_interrupted(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunestats.cli",
            "emulator",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("tunestats emulator on http://127.0.0.1:")
        url = line.split()[3].rstrip(",")
        assert httpx.get(f"{url}/v1/{PARENT}/tuningJobs").json() == {"tuningJobs": []}
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    assert (tmp_path / "tuning_jobs.sqlite").exists()
