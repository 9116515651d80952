"""Google's three clients, unchanged but for the endpoint, drive the whole life of tuning jobs on
the emulator: google-cloud-aiplatform (v1 and v1beta1 GenAiTuningServiceClient over REST),
vertexai.tuning.sft (on top of it) and google-genai (``client.tunings``).

Each client creates jobs whose datasets are corpus files on the local GCS server (the emulator
reads them through gcsfs), polls them to the end, and must see the ``tuningDataStats`` that
``tunestats stats`` computes for the same file; then list (pages, filters), cancel, rebase,
long-running operations, a restart on the same data, the errors Vertex gives, Google's JSON
conventions (through httpx) and many clients at once.

Over REST, google.api_core maps an error by its HTTP status alone, so INVALID_ARGUMENT and
FAILED_PRECONDITION (both 400, as Google's front end sends them) arrive as ``BadRequest``; the
tests check the ``status`` of the error body to tell them apart.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
vertexai = pytest.importorskip("vertexai")
genai = pytest.importorskip("google.genai")

import google.oauth2.credentials  # noqa: E402
from google.api_core import exceptions as gexc  # noqa: E402
from google.auth.credentials import AnonymousCredentials  # noqa: E402
from google.cloud import aiplatform_v1, aiplatform_v1beta1  # noqa: E402
from google.cloud.aiplatform import initializer  # noqa: E402
from google.genai import errors as genai_errors  # noqa: E402
from google.genai import types as genai_types  # noqa: E402
from google.protobuf import json_format  # noqa: E402

import tunestats  # noqa: E402
from tests.conftest import CORPUS  # noqa: E402
from tests.emulator.helpers import emulators, local_emulator  # noqa: E402
from tunestats.emulator import Emulator, app  # noqa: E402
from tunestats.emulator.filter_fields import parse_timestamp  # noqa: E402
from tunestats.emulator.lifecycle import Schedule  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:This feature is deprecated:UserWarning"),
    pytest.mark.filterwarnings("ignore:The SDK's tuning implementation is experimental"),
]

PROJECT = "tunestats-test"
LOCATION = "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
MODEL = "gemini-2.5-flash"
ENDED = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"}
FAST = Schedule(pending=0.1, running=0.3, cancelling=0.2, operation=0.1)
# Jobs that stay PENDING, then RUNNING, long enough to be cancelled in either state.
SLOW = Schedule(pending=0.4, running=60, cancelling=0.3, operation=60)
TIMEOUT = 20.0
VERSIONS = {"v1": aiplatform_v1, "v1beta1": aiplatform_v1beta1}
ADAPTER_SIZE = aiplatform_v1.SupervisedHyperParameters.AdapterSize
DISTRIBUTIONS = (
    "userInputTokenDistribution",
    "userOutputTokenDistribution",
    "userMessagePerExampleDistribution",
)


def as_gemini(path: Path) -> Path:
    """A corpus file rewritten as gemini records, under the same folder and file names (a
    Gemini job takes only these: SPEC §8; the emulator fails a job in another format)."""
    out = _CONVERTED / path.parent.name / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    records = []
    for line in path.read_bytes().splitlines():
        record = json.loads(line)
        if "input_text" in record or "prompt" in record:
            pair = (
                ("input_text", "output_text")
                if "input_text" in record
                else ("prompt", "completion")
            )
            turns = [("user", record[pair[0]]), ("model", record[pair[1]])]
            system = None
        else:
            messages = record["messages"]
            system = messages[0]["content"] if messages[0]["role"] == "system" else None
            roles = {"user": "user", "assistant": "model"}
            turns = [(roles[m["role"]], m["content"]) for m in messages if m["role"] != "system"]
        gemini: dict[str, Any] = {}
        if system is not None:
            gemini["systemInstruction"] = {"parts": [{"text": system}]}
        gemini["contents"] = [{"role": r, "parts": [{"text": t}]} for r, t in turns]
        records.append(json.dumps(gemini, ensure_ascii=False))
    out.write_text("\n".join(records) + "\n", encoding="utf-8")
    return out


_CONVERTED = Path(tempfile.mkdtemp(prefix="tunestats-emulator-corpus-"))
FAQ = as_gemini(CORPUS / "palm" / "gemini_faq_gdg.jsonl")  # 14 pairs, as gemini records
TOY_CHAT = as_gemini(CORPUS / "openai" / "toy_chat_cookbook.jsonl")  # 5 chats, as gemini
PROMPT_COMPLETION = CORPUS / "openai" / "laa_prompt_completion.jsonl"  # 94 legacy pairs
BATCH_PREDICTIONS = CORPUS / "distill" / "batch_predictions_flash.jsonl"  # no SFT format
GLUCOSE = CORPUS / "gemini" / "patient_glucose_sysinstr.jsonl"  # 1 Gemini example
# The labels the emulator adds to every job (tunestats.emulator.labels): the ``emulator``
# fixture counts with cl100k_base, an estimate for every Gemini model.
ESTIMATED = {"tunestats-tokenizer": "cl100k_base", "tunestats-exact-token-counts": "false"}


# --- clients ---------------------------------------------------------------------------------


def aip(emu: Emulator, version: str = "v1") -> Any:
    """google-cloud-aiplatform's GenAiTuningServiceClient, as a user points it at an emulator."""
    return VERSIONS[version].GenAiTuningServiceClient(
        transport="rest",
        client_options={"api_endpoint": emu.url},
        credentials=AnonymousCredentials(),
    )


def gclient(emu: Emulator, api_version: str = "v1") -> Any:
    """google-genai's Client in Vertex mode (it needs OAuth credentials; any token will do)."""
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=google.oauth2.credentials.Credentials(token="local"),
        http_options=genai_types.HttpOptions(base_url=emu.url + "/", api_version=api_version),
    )


@pytest.fixture
def start_emulator(tmp_path: Path) -> Any:
    """Start emulators of one's own: ``start_emulator(name, **options)``, FAST unless given a
    schedule (``tokenizer=None``: the default, each model's own); all stopped."""
    with emulators(tmp_path, FAST) as start:
        yield start


@pytest.fixture
def sft(emulator: Emulator) -> Any:
    """vertexai.tuning.sft pointed at the ``emulator`` fixture (global config restored after)."""
    return _init_vertexai(emulator)


def _init_vertexai(emu: Emulator) -> Any:
    from vertexai.tuning import sft as module

    vertexai.init(
        project=PROJECT,
        location=LOCATION,
        api_endpoint=emu.url,
        api_transport="rest",
        credentials=AnonymousCredentials(),
    )
    return module


@pytest.fixture(autouse=True)
def _restore_vertexai_config() -> Any:
    saved = dict(vars(initializer.global_config))
    yield
    vars(initializer.global_config).clear()
    vars(initializer.global_config).update(saved)


@pytest.fixture
def http(emulator: Emulator) -> Any:
    with httpx.Client(base_url=emulator.url, timeout=TIMEOUT) as client:
        yield client


# --- helpers ---------------------------------------------------------------------------------


def wait_for(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.03)


def raw_job(emu: Emulator, name: str, query: str = "") -> dict:
    reply = httpx.get(f"{emu.url}/v1/{name}{query}", timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.json()


def raw_jobs(emu: Emulator) -> list[dict]:
    reply = httpx.get(f"{emu.url}/v1/{PARENT}/tuningJobs?pageSize=1000", timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.json().get("tuningJobs", [])


def wait_raw(emu: Emulator, name: str, states: set[str] = ENDED) -> dict:
    return wait_for(
        lambda: (job := raw_job(emu, name))["state"] in states and job,
        f"{name} to reach {sorted(states)}",
    )


def wait_aip(client: Any, name: str, states: set[str] = ENDED) -> Any:
    return wait_for(
        lambda: (job := client.get_tuning_job(name=name)).state.name in states and job,
        f"{name} to reach {sorted(states)}",
    )


def wait_genai(client: Any, name: str, states: set[str] = ENDED) -> Any:
    return wait_for(
        lambda: (job := client.tunings.get(name=name)).state.name in states and job,
        f"{name} to reach {sorted(states)}",
    )


def expected_stats(
    uri: str, model: str = MODEL, epochs: int | None = None, validation: str | None = None
) -> dict:
    """What ``tunestats stats`` says of the same file (as the emulator runs it)."""
    stats = tunestats.compute(
        uri, validation=validation, tokenizer="cl100k_base", model=model, epochs=epochs, jobs=1
    )
    return stats.to_dict()


def _plain(value: Any) -> Any:
    """int64 strings as ints (genai gives numbers, proto JSON gives strings), recursively."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def key_numbers(stats: dict) -> dict:
    """The numbers that matter of a camelCase TuningDataStats, int64 as ints."""
    s = stats["supervisedTuningDataStats"]
    out = {
        key: s.get(key)
        for key in (
            "tuningDatasetExampleCount",
            "totalBillableTokenCount",
            "totalTuningCharacterCount",
            "totalBillableCharacterCount",
            "totalTruncatedExampleCount",
            "truncatedExampleIndices",
            "droppedExampleReasons",
        )
    }
    for name in DISTRIBUTIONS:
        dist = s[name]
        keys = ("sum", "billableSum", "min", "max", "mean", "median", "p5", "p95", "buckets")
        out[name] = {key: dist.get(key) for key in keys}
    return _plain(out)


def proto_stats(version: str, expected: dict) -> dict:
    """``expected`` as the client's own TuningDataStats type carries it (its known fields)."""
    message = VERSIONS[version].TuningDataStats.pb()()
    json_format.ParseDict(expected, message, ignore_unknown_fields=True)
    return json_format.MessageToDict(message)


def check_times(create: Any, start: Any, end: Any, update: Any) -> None:
    assert create <= start <= end
    assert update == end


def check_outputs(name: str, model: str, endpoint: str, experiment: str) -> None:
    job_id = name.rsplit("/", 1)[1]
    assert re.fullmatch(rf"{PARENT}/tuningJobs/\d{{19}}", name)
    assert re.fullmatch(rf"{PARENT}/models/\d+@1", model)
    assert model.split("/")[-1].split("@")[0] == job_id
    assert re.fullmatch(rf"{PARENT}/endpoints/\d+", endpoint)
    assert experiment == f"{PARENT}/metadataStores/default/contexts/tuning-experiment-{job_id}"


def check_succeeded(job: Any) -> None:
    """The times and outputs of a succeeded job, as aiplatform and google-genai give them."""
    check_times(job.create_time, job.start_time, job.end_time, job.update_time)
    check_outputs(job.name, job.tuned_model.model, job.tuned_model.endpoint, job.experiment)


def checked_numbers(job: Any, version: str, expected: dict) -> dict:
    """The key numbers of an aiplatform job's tuningDataStats, once the stats are checked to be
    ``expected`` as the client's own types carry it."""
    got = json_format.MessageToDict(type(job).pb(job))["tuningDataStats"]
    assert got == proto_stats(version, expected)
    numbers = key_numbers(got)
    assert numbers == key_numbers(expected)
    return numbers


def plain_job(uri: str) -> dict:
    """The least a TuningJob needs, as a dict: supervised tuning of MODEL on ``uri``."""
    return {"base_model": MODEL, "supervised_tuning_spec": {"training_dataset_uri": uri}}


def create_v1(client: Any, uri: str, hyper: dict, **fields: Any) -> Any:
    """A supervised job created with aiplatform_v1's own types: ``hyper``, the fields of its
    SupervisedHyperParameters; ``fields``, the TuningJob's others (base_model...)."""
    hyper_parameters = aiplatform_v1.SupervisedHyperParameters(**hyper)
    spec = aiplatform_v1.SupervisedTuningSpec(
        training_dataset_uri=uri, hyper_parameters=hyper_parameters
    )
    job = aiplatform_v1.TuningJob(supervised_tuning_spec=spec, **fields)
    return client.create_tuning_job(parent=PARENT, tuning_job=job)


def check_cancel_refused(client: Any, name: str, state: str) -> None:
    """An ended job cannot be cancelled: FAILED_PRECONDITION (HTTP 400, so BadRequest)."""
    with pytest.raises(gexc.BadRequest) as caught:
        client.cancel_tuning_job(name=name)
    assert status_of(caught.value) == "FAILED_PRECONDITION"
    assert state in caught.value.message


def status_of(exc: gexc.GoogleAPICallError) -> str:
    """The google.rpc status name of an api_core error (its body; REST maps by HTTP only)."""
    return exc.response.json()["error"]["status"]


def violations(exc: gexc.GoogleAPICallError) -> list[str]:
    return [
        violation["field"]
        for detail in exc.details
        if isinstance(detail, dict)
        for violation in detail.get("fieldViolations", [])
    ]


def put(bucket: Any, path: Path, key: str | None = None) -> str:
    return bucket.put(key or f"data/{path.parent.name}-{path.name}", path.read_bytes())


def mixed_faq(bucket: Any) -> str:
    """The FAQ corpus file twice, with a record of no format and a line of no JSON after
    line 5 (2 dropped of 30: under the 10% at which Vertex fails a job)."""
    lines = FAQ.read_bytes().splitlines() * 2
    data = b"\n".join([*lines[:5], b'{"foo": 1}', b"not json", *lines[5:]]) + b"\n"
    return bucket.put("data/faq-mixed.jsonl", data)


# --- 1. a job's life, per client ---------------------------------------------------------------


def test_aiplatform_v1_job_succeeds_with_the_stats_of_tunestats_stats(
    emulator: Emulator, bucket: Any, capsys: Any
) -> None:
    from tunestats.cli import main

    uri = put(bucket, FAQ)
    client = aip(emulator, "v1")
    hyper = {"epoch_count": 3, "adapter_size": ADAPTER_SIZE.ADAPTER_SIZE_FOUR}
    created = create_v1(
        client,
        uri,
        hyper,
        base_model=MODEL,
        tuned_model_display_name="faq-v1",
        description="a FAQ",
        labels={"team": "nlp"},
    )
    assert created.state.name == "JOB_STATE_PENDING"
    assert created.create_time and not created.start_time and not created.tuning_data_stats
    job = wait_aip(client, created.name)
    assert job.state.name == "JOB_STATE_SUCCEEDED", job.error
    assert job.name == created.name and job.create_time == created.create_time
    assert (job.tuned_model_display_name, job.description) == ("faq-v1", "a FAQ")
    assert dict(job.labels) == {"team": "nlp", **ESTIMATED}
    spec = job.supervised_tuning_spec
    assert spec.training_dataset_uri == uri and spec.hyper_parameters.epoch_count == 3
    assert spec.hyper_parameters.adapter_size.name == "ADAPTER_SIZE_FOUR"
    check_succeeded(job)
    assert not job.error.message

    # The same file through `tunestats stats` (gcsfs too), as a user would compare them.
    capsys.readouterr()
    argv = ["stats", uri, "--json", "--quiet", "--tokenizer", "cl100k_base"]
    assert main([*argv, "--model", MODEL, "--epochs", "3", "--jobs", "1"]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert checked_numbers(job, "v1", expected)["tuningDatasetExampleCount"] == 14
    # The raw reply carries the whole document, REST-only fields included.
    assert raw_job(emulator, job.name)["tuningDataStats"] == expected

    check_cancel_refused(client, job.name, "JOB_STATE_SUCCEEDED")
    with pytest.raises(gexc.NotFound):
        client.get_tuning_job(name=f"{PARENT}/tuningJobs/1234567890123456789")


def test_aiplatform_v1beta1_job_with_dropped_records(emulator: Emulator, bucket: Any) -> None:
    uri = mixed_faq(bucket)
    client = aip(emulator, "v1beta1")
    created = client.create_tuning_job(
        parent=PARENT,
        tuning_job={
            "base_model": "gemini-2.0-flash-001",
            "supervised_tuning_spec": {
                "training_dataset_uri": uri,
                "hyper_parameters": {"epoch_count": 2, "adapter_size": "ADAPTER_SIZE_EIGHT"},
            },
        },
    )
    job = wait_aip(client, created.name)
    assert job.state.name == "JOB_STATE_SUCCEEDED", job.error
    check_succeeded(job)
    expected = expected_stats(uri, "gemini-2.0-flash-001", epochs=2)
    numbers = checked_numbers(job, "v1beta1", expected)
    assert numbers["tuningDatasetExampleCount"] == 28
    assert numbers["totalTruncatedExampleCount"] == 2
    assert numbers["truncatedExampleIndices"] == [6, 7]
    assert [reason.split(":")[0] for reason in numbers["droppedExampleReasons"]] == [
        "line 6",
        "line 7",
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b"not json\n" * 2,
            "2 of the 16 training examples (12.5%) are dropped; Vertex fails a job before "
            "training when more than 10% of its examples are dropped",
        ),
        (None, "the training set is palm; gemini-2.0-flash-001 takes gemini records"),
    ],
)
def test_a_job_vertex_would_reject_fails_with_the_reason(
    emulator: Emulator, bucket: Any, data: bytes | None, reason: str
) -> None:
    """SPEC §8: the job fails, with the words of ``tunestats stats``."""
    if data is None:
        uri = put(bucket, CORPUS / "palm" / "gemini_faq_gdg.jsonl", "data/palm-faq.jsonl")
    else:
        uri = bucket.put("data/faq-rejected.jsonl", FAQ.read_bytes() + data)
    client = aip(emulator, "v1")
    created = client.create_tuning_job(
        parent=PARENT,
        tuning_job={
            "base_model": "gemini-2.0-flash-001",
            "supervised_tuning_spec": {"training_dataset_uri": uri},
        },
    )
    job = wait_aip(client, created.name)
    assert job.state.name == "JOB_STATE_FAILED"
    assert job.error.code == 3  # INVALID_ARGUMENT
    assert job.error.message == f"Vertex would reject this job: {reason}"
    stats = tunestats.compute(uri, model="gemini-2.0-flash-001", tokenizer="cl100k_base")
    assert stats.readiness.rejections == [job.error.message]


def test_vertexai_sft_job_with_validation_dataset(
    emulator: Emulator, bucket: Any, sft: Any
) -> None:
    train, validation = put(bucket, TOY_CHAT), put(bucket, FAQ)
    job = sft.train(
        source_model=MODEL,
        train_dataset=train,
        validation_dataset=validation,
        epochs=4,
        adapter_size=4,
        learning_rate_multiplier=0.5,
        tuned_model_display_name="toy-chat",
        labels={"team": "nlp", "run": "sft"},
    )
    assert isinstance(job, sft.SupervisedTuningJob)
    assert job.state.name == "JOB_STATE_PENDING"
    # The loop of Google's samples; refresh() also loads job.experiment (a metadata context).
    wait_for(lambda: job.refresh().has_ended, "the sft job to end")
    assert job.has_succeeded, job.error
    resource = job.gca_resource
    check_times(resource.create_time, resource.start_time, resource.end_time, resource.update_time)
    check_outputs(
        job.resource_name, job.tuned_model_name, job.tuned_model_endpoint_name, resource.experiment
    )
    assert job.experiment.name == f"tuning-experiment-{job.resource_name.rsplit('/', 1)[1]}"
    hp = resource.supervised_tuning_spec.hyper_parameters
    assert (hp.epoch_count, hp.adapter_size.name) == (4, "ADAPTER_SIZE_FOUR")
    assert hp.learning_rate_multiplier == 0.5
    assert resource.supervised_tuning_spec.validation_dataset_uri == validation
    assert dict(resource.labels) == {"team": "nlp", "run": "sft", **ESTIMATED}

    expected = expected_stats(train, MODEL, epochs=4, validation=validation)
    assert checked_numbers(resource, "v1beta1", expected)["tuningDatasetExampleCount"] == 5

    again = sft.SupervisedTuningJob(job.resource_name)  # a job by name, as in another session
    assert again.gca_resource == resource
    with pytest.raises(gexc.BadRequest) as caught:
        job.cancel()
    assert status_of(caught.value) == "FAILED_PRECONDITION"


@pytest.mark.parametrize("api_version", ["v1", "v1beta1"])
def test_genai_job_succeeds_with_the_stats_of_tunestats(
    emulator: Emulator, bucket: Any, api_version: str
) -> None:
    uri, validation = put(bucket, as_gemini(PROMPT_COMPLETION)), mixed_faq(bucket)
    client = gclient(emulator, api_version)
    created = client.tunings.tune(
        base_model="gemini-2.5-flash-lite",
        training_dataset=genai_types.TuningDataset(gcs_uri=uri),
        config=genai_types.CreateTuningJobConfig(
            epoch_count=3,
            adapter_size="ADAPTER_SIZE_SIXTEEN",
            tuned_model_display_name="laa",
            labels={"team": "nlp"},
            validation_dataset=genai_types.TuningValidationDataset(gcs_uri=validation),
        ),
    )
    assert created.state == genai_types.JobState.JOB_STATE_PENDING
    job = wait_genai(client, created.name)
    assert job.state == genai_types.JobState.JOB_STATE_SUCCEEDED, job.error
    assert job.has_ended and job.has_succeeded
    # genai keeps times to the microsecond; the order holds all the same.
    check_succeeded(job)
    assert (job.base_model, job.tuned_model_display_name) == ("gemini-2.5-flash-lite", "laa")
    assert job.labels == {"team": "nlp", **ESTIMATED}
    spec = job.supervised_tuning_spec
    assert (spec.hyper_parameters.epoch_count, spec.validation_dataset_uri) == (3, validation)
    assert spec.hyper_parameters.adapter_size == genai_types.AdapterSize.ADAPTER_SIZE_SIXTEEN

    expected = expected_stats(uri, "gemini-2.5-flash-lite", epochs=3, validation=validation)
    assert job.tuning_data_stats == genai_types.TuningDataStats._from_response(
        response=expected, kwargs={}
    )
    got = job.tuning_data_stats.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert key_numbers(got) == key_numbers(expected)
    assert key_numbers(got)["tuningDatasetExampleCount"] == 94

    with pytest.raises(genai_errors.ClientError) as caught:
        client.tunings.cancel(name=job.name)
    assert (caught.value.code, caught.value.status) == (400, "FAILED_PRECONDITION")
    with pytest.raises(genai_errors.ClientError) as caught:
        client.tunings.get(name=f"{PARENT}/tuningJobs/1234567890123456789")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")


def test_genai_continues_tuning_a_tuned_model(emulator: Emulator, bucket: Any) -> None:
    """genai sends a base model of ``projects/...`` as preTunedModel (continuous tuning)."""
    uri = put(bucket, FAQ)
    client = gclient(emulator)
    first = wait_genai(
        client,
        client.tunings.tune(
            base_model=MODEL, training_dataset=genai_types.TuningDataset(gcs_uri=uri)
        ).name,
    )
    assert first.has_succeeded, first.error
    second = client.tunings.tune(
        base_model=first.tuned_model.model,
        training_dataset=genai_types.TuningDataset(gcs_uri=uri),
        config=genai_types.CreateTuningJobConfig(epoch_count=2),
    )
    assert second.pre_tuned_model.tuned_model_name == first.tuned_model.model
    job = wait_genai(client, second.name)
    assert job.has_succeeded, job.error
    expected = expected_stats(uri, MODEL, epochs=2)
    assert key_numbers(
        job.tuning_data_stats.model_dump(mode="json", by_alias=True, exclude_none=True)
    ) == key_numbers(expected)
    # A model no succeeded job tuned is refused.
    with pytest.raises(genai_errors.ClientError) as caught:
        client.tunings.tune(
            base_model=f"{PARENT}/models/42@1",
            training_dataset=genai_types.TuningDataset(gcs_uri=uri),
        )
    assert caught.value.code == 400 and "preTunedModel" in caught.value.message


@pytest.mark.parametrize("version", VERSIONS)
def test_aiplatform_reads_the_labels_of_exactness(
    start_emulator: Any, emulator: Emulator, bucket: Any, version: str
) -> None:
    """job.labels says which tokenizer counts the job and whether its counts are exact."""
    uri = put(bucket, FAQ)
    exact = start_emulator("exact", tokenizer=None)
    types = VERSIONS[version]
    for emu, model, ours in (
        (exact, MODEL, {"tunestats-tokenizer": "gemma3", "tunestats-exact-token-counts": "true"}),
        (
            exact,
            "gemini-3.1-flash-lite",
            {"tunestats-tokenizer": "gemma4", "tunestats-exact-token-counts": "true"},
        ),
        (emulator, MODEL, ESTIMATED),
    ):
        client = aip(emu, version)
        created = client.create_tuning_job(
            parent=PARENT,
            tuning_job=types.TuningJob(
                base_model=model,
                labels={"team": "nlp"},
                supervised_tuning_spec=types.SupervisedTuningSpec(training_dataset_uri=uri),
            ),
        )
        assert dict(created.labels) == {"team": "nlp", **ours}  # from the first reply on
        job = wait_aip(client, created.name)
        assert job.state.name == "JOB_STATE_SUCCEEDED", job.error
        assert dict(job.labels) == {"team": "nlp", **ours}
    # A label the user sets is the user's: kept as set, and the emulator's is not written.
    client = aip(exact, version)
    mine = {"tunestats-exact-token-counts": "unknown", "team": "nlp"}
    job = client.create_tuning_job(
        parent=PARENT,
        tuning_job={
            "base_model": MODEL,
            "labels": mine,
            "supervised_tuning_spec": {"training_dataset_uri": uri},
        },
    )
    assert dict(job.labels) == {**mine, "tunestats-tokenizer": "gemma3"}
    request = {"parent": PARENT, "filter": "labels.tunestats-exact-token-counts=true"}
    assert len(list(client.list_tuning_jobs(request=request))) == 2


def test_aiplatform_tunes_gemini_3_5_flash_with_its_own_tokenizer(
    start_emulator: Any, bucket: Any
) -> None:
    model = "gemini-3.5-flash"
    uri = put(bucket, GLUCOSE)
    emu = start_emulator("exact", tokenizer=None)
    client = aip(emu, "v1")
    hyper = {"epoch_count": 2, "adapter_size": ADAPTER_SIZE.ADAPTER_SIZE_SIXTEEN}
    created = create_v1(client, uri, hyper, base_model=model, tuned_model_display_name="glucose")
    assert created.state.name == "JOB_STATE_PENDING"
    job = wait_aip(client, created.name)
    assert job.state.name == "JOB_STATE_SUCCEEDED", job.error
    assert job.base_model == model
    assert job.supervised_tuning_spec.hyper_parameters.adapter_size.name == "ADAPTER_SIZE_SIXTEEN"
    check_succeeded(job)
    assert dict(job.labels) == {
        "tunestats-tokenizer": "gemma4",
        "tunestats-exact-token-counts": "true",
    }
    # The stats of `tunestats stats --model gemini-3.5-flash`: the shipped Gemma 4 tokenizer.
    expected = tunestats.compute(uri, model=model, epochs=2, jobs=1).to_dict()
    numbers = checked_numbers(job, "v1", expected)
    assert numbers["tuningDatasetExampleCount"] == 1
    assert numbers != key_numbers(expected_stats(uri, model, epochs=2))  # not cl100k
    assert raw_job(emu, job.name)["tuningDataStats"] == expected


# --- 2. list: order, pages, filters --------------------------------------------------------------


@pytest.fixture(scope="module")
def listed(tmp_path_factory: Any, gcs_server: Any) -> Any:
    """Five ended jobs made by the three clients, in a known order and with known states.

    Built once for the list tests, which only read; vertexai's global config is restored after
    each test, so a test that lists with vertexai calls ``_init_vertexai(listed["emu"])``.
    """
    from tests.support.gcs import Bucket, gcs_filesystem

    bucket = Bucket(gcs_filesystem()).create()
    data_dir = tmp_path_factory.mktemp("listed")
    emulator = local_emulator(data_dir, FAST).start()
    saved = dict(vars(initializer.global_config))
    try:
        yield _make_listed(emulator, bucket)
    finally:
        vars(initializer.global_config).clear()
        vars(initializer.global_config).update(saved)
        emulator.stop()


def _make_listed(emulator: Emulator, bucket: Any) -> dict:
    uri = put(bucket, FAQ)
    v1, beta, gen = aip(emulator, "v1"), aip(emulator, "v1beta1"), gclient(emulator)
    sft = _init_vertexai(emulator)
    names = []

    def v1_job(labels: dict, training: str = uri) -> str:
        job = aiplatform_v1.TuningJob(
            base_model=MODEL,
            labels=labels,
            supervised_tuning_spec=aiplatform_v1.SupervisedTuningSpec(
                training_dataset_uri=training
            ),
        )
        return v1.create_tuning_job(parent=PARENT, tuning_job=job).name

    names.append(v1_job({"team": "nlp"}))  # 0 SUCCEEDED
    config = genai_types.CreateTuningJobConfig(labels={"team": "cv"}, tuned_model_display_name="cv")
    names.append(
        gen.tunings.tune(
            base_model=MODEL, training_dataset=genai_types.TuningDataset(gcs_uri=uri), config=config
        ).name
    )  # 1 SUCCEEDED
    names.append(
        sft.train(source_model=MODEL, train_dataset=uri, labels={"team": "nlp"}).resource_name
    )  # 2 SUCCEEDED
    missing = bucket.uri("data/missing.jsonl")
    names.append(
        beta.create_tuning_job(
            parent=PARENT,
            tuning_job={
                "base_model": MODEL,
                "supervised_tuning_spec": {"training_dataset_uri": missing},
            },
        ).name
    )  # 3 FAILED (no such object)
    names.append(v1_job({"team": "nlp", "env": "dev"}))  # 4 CANCELLED
    v1.cancel_tuning_job(name=names[4])
    states = [wait_raw(emulator, name)["state"] for name in names]
    assert states == [
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
    ]
    return {"names": names, "jobs": raw_jobs(emulator), "emu": emulator, "gen": gen}


def test_list_is_newest_first_in_pages(listed: dict) -> None:
    emulator = listed["emu"]
    newest_first = listed["names"][::-1]
    assert [job["name"] for job in listed["jobs"]] == newest_first
    creates = [parse_timestamp(job["createTime"]) for job in listed["jobs"]]
    assert creates == sorted(creates, reverse=True) and len(set(creates)) == len(creates)

    for version in VERSIONS:
        pager = aip(emulator, version).list_tuning_jobs(request={"parent": PARENT, "page_size": 2})
        pages = [[job.name for job in page.tuning_jobs] for page in pager.pages]
        assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]
        everything = aip(emulator, version).list_tuning_jobs(parent=PARENT)
        assert [job.name for job in everything] == newest_first

    gen = listed["gen"]
    pager = gen.tunings.list(config={"page_size": 2})
    assert pager.page_size == 2 and [job.name for job in pager.page] == newest_first[0:2]
    assert [job.name for job in pager.next_page()] == newest_first[2:4]
    assert [job.name for job in gen.tunings.list(config={"page_size": 3})] == newest_first

    sft = _init_vertexai(emulator)
    listed_sft = sft.SupervisedTuningJob.list()
    assert [job.resource_name for job in listed_sft] == newest_first
    assert listed_sft[0].state.name == "JOB_STATE_CANCELLED"


FILTERS: dict[str, Callable[[dict], bool]] = {
    'state="JOB_STATE_SUCCEEDED"': lambda job: job["state"] == "JOB_STATE_SUCCEEDED",
    "state!=JOB_STATE_SUCCEEDED": lambda job: job["state"] != "JOB_STATE_SUCCEEDED",
    "labels.team=nlp": lambda job: job.get("labels", {}).get("team") == "nlp",
    "labels.team:*": lambda job: "team" in job.get("labels", {}),
    "labels.env:*": lambda job: "env" in job.get("labels", {}),
    "labels.team=nlp AND state=JOB_STATE_SUCCEEDED": lambda job: (
        job.get("labels", {}).get("team") == "nlp" and job["state"] == "JOB_STATE_SUCCEEDED"
    ),
    "labels.team=cv OR state=JOB_STATE_FAILED": lambda job: (
        job.get("labels", {}).get("team") == "cv" or job["state"] == "JOB_STATE_FAILED"
    ),
    "NOT labels.team:*": lambda job: "team" not in job.get("labels", {}),
    "-state=JOB_STATE_SUCCEEDED AND NOT labels.env=dev": lambda job: (
        job["state"] != "JOB_STATE_SUCCEEDED" and job.get("labels", {}).get("env") != "dev"
    ),
    'display_name="cv"': lambda job: job.get("tunedModelDisplayName") == "cv",
}


def test_list_filters_through_every_client(listed: dict) -> None:
    emulator, jobs = listed["emu"], listed["jobs"]
    sft = _init_vertexai(emulator)
    # createTime of the middle job: "create_time>" keeps the two created after it.
    middle = next(job for job in jobs if job["name"] == listed["names"][2])["createTime"]

    def created(job: dict) -> int:
        return parse_timestamp(job["createTime"]) - parse_timestamp(middle)

    cases = {
        **FILTERS,
        f'create_time>"{middle}"': lambda job: created(job) > 0,
        f'create_time<="{middle}" AND labels.team:*': lambda job: (
            created(job) <= 0 and "team" in job.get("labels", {})
        ),
    }
    clients = {version: aip(emulator, version) for version in VERSIONS}
    for text, keep in cases.items():
        expected = [job["name"] for job in jobs if keep(job)]
        assert 0 < len(expected) < len(jobs), text  # each filter keeps some, not all
        for version, client in clients.items():
            request = {"parent": PARENT, "filter": text, "page_size": 1}
            got = [job.name for job in client.list_tuning_jobs(request=request)]
            assert got == expected, (version, text)
        got = [
            job.name for job in listed["gen"].tunings.list(config={"filter": text, "page_size": 2})
        ]
        assert got == expected, ("genai", text)
        got = [job.resource_name for job in sft.SupervisedTuningJob.list(filter=text)]
        assert got == expected, ("vertexai", text)


@pytest.mark.parametrize(
    "text", ["state==JOB_STATE_SUCCEEDED", "labels.team=nlp AND", "colour=red"]
)
def test_a_malformed_filter_is_invalid_argument(listed: dict, text: str) -> None:
    emulator = listed["emu"]
    for version in VERSIONS:
        with pytest.raises(gexc.BadRequest) as caught:
            list(
                aip(emulator, version).list_tuning_jobs(request={"parent": PARENT, "filter": text})
            )
        assert status_of(caught.value) == "INVALID_ARGUMENT"
        assert "invalid filter at character" in caught.value.message
        assert violations(caught.value) == ["filter"]
    with pytest.raises(genai_errors.ClientError) as genai_caught:
        listed["gen"].tunings.list(config={"filter": text})
    assert (genai_caught.value.code, genai_caught.value.status) == (400, "INVALID_ARGUMENT")
    with pytest.raises(gexc.BadRequest):
        _init_vertexai(emulator).SupervisedTuningJob.list(filter=text)


def test_a_page_token_belongs_to_its_filter(listed: dict) -> None:
    client = aip(listed["emu"])
    first = client.list_tuning_jobs(request={"parent": PARENT, "page_size": 1})
    token = first.next_page_token
    assert token
    with pytest.raises(gexc.BadRequest) as caught:
        client.list_tuning_jobs(
            request={"parent": PARENT, "page_token": token, "filter": "labels.team:*"}
        )
    assert violations(caught.value) == ["page_token"]


# --- 3. cancel ---------------------------------------------------------------------------------


@pytest.fixture
def slow(start_emulator: Any) -> Emulator:
    return start_emulator("slow", schedule=SLOW)


def _cancelled(job_state: str, code: int) -> None:
    assert job_state == "JOB_STATE_CANCELLED"
    assert code == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_aiplatform_cancels_pending_and_running_jobs(
    slow: Emulator, bucket: Any, version: str
) -> None:
    uri = put(bucket, FAQ)
    client = aip(slow, version)
    spec = plain_job(uri)
    pending = client.create_tuning_job(parent=PARENT, tuning_job=spec)
    running = client.create_tuning_job(parent=PARENT, tuning_job=spec)
    assert client.cancel_tuning_job(name=pending.name) is None
    job = client.get_tuning_job(name=pending.name)
    assert job.state.name == "JOB_STATE_CANCELLING" and not job.start_time
    client.cancel_tuning_job(name=pending.name)  # asking twice is fine while cancelling
    job = wait_aip(client, pending.name)
    _cancelled(job.state.name, job.error.code)
    assert job.error.message and job.end_time >= job.create_time and not job.tuned_model.model

    wait_aip(client, running.name, {"JOB_STATE_RUNNING"})
    client.cancel_tuning_job(name=running.name)
    job = wait_aip(client, running.name)
    _cancelled(job.state.name, job.error.code)
    check_times(job.create_time, job.start_time, job.end_time, job.update_time)

    check_cancel_refused(client, running.name, "JOB_STATE_CANCELLED")
    with pytest.raises(gexc.NotFound):
        client.cancel_tuning_job(name=f"{PARENT}/tuningJobs/1234567890123456789")


def test_vertexai_cancels_a_job(slow: Emulator, bucket: Any) -> None:
    sft = _init_vertexai(slow)
    job = sft.train(source_model=MODEL, train_dataset=put(bucket, FAQ))
    wait_for(lambda: job.refresh().state.name == "JOB_STATE_RUNNING", "a running job")
    job.cancel()
    assert job.refresh().state.name == "JOB_STATE_CANCELLING"
    wait_for(lambda: job.refresh().has_ended, "the cancelled job")
    _cancelled(job.state.name, job.error.code)
    assert not job.has_succeeded
    with pytest.raises(gexc.BadRequest) as caught:
        job.cancel()
    assert status_of(caught.value) == "FAILED_PRECONDITION"


def test_genai_cancels_a_job(slow: Emulator, bucket: Any) -> None:
    client = gclient(slow)
    job = client.tunings.tune(
        base_model=MODEL, training_dataset=genai_types.TuningDataset(gcs_uri=put(bucket, FAQ))
    )
    client.tunings.cancel(name=job.name)
    assert client.tunings.get(name=job.name).state == genai_types.JobState.JOB_STATE_CANCELLING
    job = wait_genai(client, job.name)
    _cancelled(job.state.name, job.error.code)
    assert job.has_ended and not job.has_succeeded
    with pytest.raises(genai_errors.ClientError) as caught:
        client.tunings.cancel(name=job.name)
    assert (caught.value.code, caught.value.status) == (400, "FAILED_PRECONDITION")


# --- 4. rebaseTunedModel and operations --------------------------------------------------------


@pytest.fixture
def operation_polls(monkeypatch: Any) -> list[str]:
    """The API version (v1, v1beta1, ui) of every operations request the emulator serves."""
    seen: list[str] = []
    for handler in (app.get_operation, app.wait_operation, app.cancel_operation):

        def recording(service: Any, version: str, *rest: Any, _handler: Any = handler) -> dict:
            seen.append(version)
            return _handler(service, version, *rest)

        replace_handler(monkeypatch, handler, recording)
    return seen


def replace_handler(monkeypatch: Any, old: Any, new: Any) -> None:
    """Serve ``new`` wherever the emulator's routes serve ``old`` (for this test only)."""
    routes = [(verb, pattern, new if h is old else h) for verb, pattern, h in app.ROUTES]
    monkeypatch.setattr(app, "ROUTES", routes)
    if old in app.JOB_HANDLERS:
        monkeypatch.setattr(app, "JOB_HANDLERS", (app.JOB_HANDLERS - {old}) | {new})


@pytest.mark.parametrize("version", VERSIONS)
def test_aiplatform_rebases_a_tuned_model(
    emulator: Emulator, bucket: Any, version: str, operation_polls: list[str]
) -> None:
    types = VERSIONS[version]
    uri = put(bucket, FAQ)
    client = aip(emulator, version)
    source = client.create_tuning_job(
        parent=PARENT,
        tuning_job={
            "base_model": MODEL,
            "labels": {"team": "nlp"},
            "supervised_tuning_spec": {
                "training_dataset_uri": uri,
                "hyper_parameters": {"epoch_count": 2},
            },
        },
    )
    source = wait_aip(client, source.name)
    assert source.state.name == "JOB_STATE_SUCCEEDED"

    rebased = []
    for ref in ({"tuning_job": source.name}, {"tuned_model": source.tuned_model.model}):
        operation = client.rebase_tuned_model(parent=PARENT, tuned_model_ref=ref)
        op_name = operation.operation.name
        assert re.fullmatch(rf"{PARENT}/tuningJobs/\d+/operations/\d+", op_name)
        assert isinstance(operation.metadata, types.RebaseTunedModelOperationMetadata)
        assert operation.metadata.generic_metadata.create_time
        new = operation.result(timeout=TIMEOUT)  # polls GET /ui/{operation}
        assert isinstance(new, types.TuningJob)
        assert op_name.startswith(new.name + "/operations/") and new.name != source.name
        assert new.base_model == MODEL and dict(new.labels) == {"team": "nlp", **ESTIMATED}
        assert new.supervised_tuning_spec.hyper_parameters.epoch_count == 2
        assert operation.done() and not operation.exception()

        done = client.get_operation({"name": op_name})
        assert done.done and done.response.type_url == (
            f"type.googleapis.com/google.cloud.aiplatform.{version}.TuningJob"
        )
        assert client.wait_operation({"name": op_name, "timeout": {"seconds": 1}}).done
        rebased.append(new.name)
    assert operation_polls and set(operation_polls) == {"ui"}
    for name in rebased:
        finished = wait_aip(client, name)
        assert finished.state.name == "JOB_STATE_SUCCEEDED"
        assert finished.tuning_data_stats == source.tuning_data_stats

    with pytest.raises(gexc.NotFound):
        client.rebase_tuned_model(
            parent=PARENT, tuned_model_ref={"tuning_job": f"{PARENT}/tuningJobs/1"}
        )
    with pytest.raises(gexc.NotFound):
        client.get_operation({"name": f"{PARENT}/tuningJobs/1/operations/1"})


def test_vertexai_rebases_a_tuned_model(emulator: Emulator, bucket: Any, sft: Any) -> None:
    from vertexai.preview.tuning import sft as preview_sft

    job = sft.train(source_model=MODEL, train_dataset=put(bucket, FAQ))
    wait_for(lambda: job.refresh().has_ended, "the sft job")
    assert job.has_succeeded
    rebased = preview_sft.rebase_tuned_model(tuned_model_ref=job.resource_name)
    assert rebased.resource_name != job.resource_name
    wait_for(lambda: rebased.refresh().has_ended, "the rebased job")
    assert rebased.has_succeeded
    assert rebased.gca_resource.base_model == MODEL


def test_operations_wait_and_cancel(start_emulator: Any, bucket: Any) -> None:
    emu = start_emulator("ops", schedule=Schedule(pending=0.1, running=0.3, operation=60))
    client = aip(emu)
    source = client.create_tuning_job(parent=PARENT, tuning_job=plain_job(put(bucket, FAQ)))
    assert wait_aip(client, source.name).state.name == "JOB_STATE_SUCCEEDED"
    operation = client.rebase_tuned_model(
        parent=PARENT, tuned_model_ref={"tuning_job": source.name}
    )
    name = operation.operation.name
    assert not operation.done()
    operations = client.transport.operations_client  # what Operation.done()/result() poll with
    assert operations.get_operation(name).name == name and not operations.get_operation(name).done
    started = time.monotonic()
    waited = client.wait_operation({"name": name, "timeout": {"nanos": 200_000_000}})
    assert not waited.done and 0.15 < time.monotonic() - started < 5
    # api_core's Operation.cancel() cannot build the REST request of aiplatform's operations
    # (a KeyError in the client, before any request); the client's own mixin can.
    client.cancel_operation({"name": name})
    cancelled = client.get_operation({"name": name})
    assert cancelled.done and cancelled.error.code == 1
    assert operation.done() and operation.cancelled()
    with pytest.raises(gexc.GoogleAPICallError):
        operation.result(timeout=TIMEOUT)
    assert operations.get_operation(name).error.code == 1
    client.cancel_operation({"name": name})  # done already: nothing happens
    with pytest.raises(gexc.NotFound):
        client.cancel_operation({"name": f"{PARENT}/tuningJobs/1/operations/1"})


def test_rebase_needs_a_succeeded_job(slow: Emulator, bucket: Any) -> None:
    client = aip(slow)
    job = client.create_tuning_job(parent=PARENT, tuning_job=plain_job(put(bucket, FAQ)))
    with pytest.raises(gexc.BadRequest) as caught:
        client.rebase_tuned_model(parent=PARENT, tuned_model_ref={"tuning_job": job.name})
    assert status_of(caught.value) == "FAILED_PRECONDITION"


# --- 5. restart --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_restart_loses_nothing(start_emulator: Any, bucket: Any, tmp_path: Path) -> None:
    uri = put(bucket, FAQ)
    schedule = Schedule(pending=0.3, running=0.6, cancelling=0.1, operation=0.1)
    first = start_emulator("state", schedule=schedule)
    client = aip(first)
    spec = plain_job(uri)

    done = wait_aip(client, client.create_tuning_job(parent=PARENT, tuning_job=spec).name)
    assert done.state.name == "JOB_STATE_SUCCEEDED"
    cancelled = client.create_tuning_job(parent=PARENT, tuning_job={**spec, "labels": {"a": "b"}})
    client.cancel_tuning_job(name=cancelled.name)
    cancelled = wait_aip(client, cancelled.name)
    operation = client.rebase_tuned_model(parent=PARENT, tuned_model_ref={"tuning_job": done.name})
    rebased = operation.result(timeout=TIMEOUT)
    running = wait_aip(
        client,
        client.create_tuning_job(parent=PARENT, tuning_job=spec).name,
        {"JOB_STATE_RUNNING"},
    )
    pending = client.create_tuning_job(parent=PARENT, tuning_job=spec)
    before = {job["name"]: job for job in raw_jobs(first)}
    assert before[pending.name]["state"] == "JOB_STATE_PENDING"
    assert before[running.name]["state"] == "JOB_STATE_RUNNING"
    first.stop()
    with pytest.raises(requests.exceptions.ConnectionError):  # nothing listens any more
        client.get_tuning_job(name=done.name)

    # The same data directory and port: the same client goes on as if nothing happened.
    second = start_emulator("state", schedule=schedule, port=first.port)
    after = {job["name"]: job for job in raw_jobs(second)}
    assert list(after) == list(before)
    for name in (done.name, cancelled.name):
        assert after[name] == before[name]
    assert client.get_tuning_job(name=done.name) == done
    assert client.get_tuning_job(name=cancelled.name) == cancelled
    assert client.get_operation({"name": operation.operation.name}).done

    uri_stats = expected_stats(uri)
    for job in (pending, running, rebased):
        finished = wait_aip(client, job.name)
        assert finished.state.name == "JOB_STATE_SUCCEEDED", finished.error
        assert finished.create_time == job.create_time
        got = json_format.MessageToDict(finished._pb)["tuningDataStats"]
        assert key_numbers(got) == key_numbers(uri_stats)
    # A new client of another kind finds them too.
    other = gclient(second)  # kept: a genai.Client closes its connections when collected
    assert {job.name for job in other.tunings.list()} == set(before)


# --- 6. errors ---------------------------------------------------------------------------------

# name -> (create arguments that Vertex refuses, the field it names, words of the message)
INVALID: dict[str, tuple[dict, str, str]] = {
    "unknown model": ({"model": "gemini-9.9-ultra"}, "tuning_job.base_model", "not supported"),
    "display name of 129": (
        {"display_name": "x" * 129},
        "tuning_job.tuned_model_display_name",
        "129 characters",
    ),
    "label key": ({"labels": {"Team": "nlp"}}, "tuning_job.labels['Team']", "Label key 'Team'"),
    "label value": ({"labels": {"team": "NLP"}}, "tuning_job.labels['team']", "Label value"),
    "epochs": (
        {"epochs": 101},
        "tuning_job.supervised_tuning_spec.hyper_parameters.epoch_count",
        "between 1 and 100",
    ),
    "adapter size": (
        {"model": "gemini-2.5-pro", "adapter": 16},
        "tuning_job.supervised_tuning_spec.hyper_parameters.adapter_size",
        "ADAPTER_SIZE_SIXTEEN is not supported for gemini-2.5-pro",
    ),
}
ADAPTERS = {1: "ONE", 4: "FOUR", 8: "EIGHT", 16: "SIXTEEN"}


def create_with(kind: str, emu: Emulator, uri: str, **args: Any) -> None:
    """Create a job through one client, from client-neutral arguments."""
    model = args.get("model", MODEL)
    adapter = args.get("adapter")
    if kind == "vertexai":
        _init_vertexai(emu).train(
            source_model=model,
            train_dataset=uri,
            epochs=args.get("epochs"),
            adapter_size=adapter,
            tuned_model_display_name=args.get("display_name"),
            labels=args.get("labels"),
        )
    elif kind == "genai":
        config = genai_types.CreateTuningJobConfig(
            epoch_count=args.get("epochs"),
            adapter_size=f"ADAPTER_SIZE_{ADAPTERS[adapter]}" if adapter else None,
            tuned_model_display_name=args.get("display_name"),
            labels=args.get("labels"),
        )
        client = gclient(emu)  # kept: a genai.Client closes its connections when collected
        client.tunings.tune(
            base_model=model, training_dataset=genai_types.TuningDataset(gcs_uri=uri), config=config
        )
    else:
        hp: dict[str, Any] = {}
        if "epochs" in args:
            hp["epoch_count"] = args["epochs"]
        if adapter:
            hp["adapter_size"] = f"ADAPTER_SIZE_{ADAPTERS[adapter]}"
        job = {
            "base_model": model,
            "tuned_model_display_name": args.get("display_name", ""),
            "labels": args.get("labels", {}),
            "supervised_tuning_spec": {"training_dataset_uri": uri, "hyper_parameters": hp},
        }
        aip(emu, kind).create_tuning_job(parent=PARENT, tuning_job=job)


CLIENTS = ["v1", "v1beta1", "vertexai", "genai"]


def refused(kind: str, emu: Emulator, uri: str, **args: Any) -> tuple[str, str, list[str]]:
    """Status, message and field violations of a create the emulator refuses."""
    error_type = genai_errors.ClientError if kind == "genai" else gexc.BadRequest
    with pytest.raises(error_type) as caught:
        create_with(kind, emu, uri, **args)
    if kind == "genai":
        error = caught.value
        assert error.code == 400
        fields = [
            v["field"] for d in error.details["error"]["details"] for v in d["fieldViolations"]
        ]
        return error.status, error.message, fields
    return status_of(caught.value), caught.value.message, violations(caught.value)


@pytest.mark.parametrize("kind", CLIENTS)
def test_invalid_jobs_are_refused_through_each_client(
    emulator: Emulator, bucket: Any, kind: str
) -> None:
    uri = put(bucket, FAQ)
    for case, (args, field, words) in INVALID.items():
        status, message, fields = refused(kind, emulator, uri, **args)
        assert status == "INVALID_ARGUMENT", case
        assert words in message, (case, message)
        assert fields == [field], case
    # The limits themselves are fine.
    create_with(kind, emulator, uri, display_name="x" * 128, epochs=100, labels={"ü-1_": ""})
    assert len(raw_jobs(emulator)) == 1


@pytest.mark.parametrize("kind", CLIENTS)
def test_local_datasets_need_allow_local_paths(
    start_emulator: Any, kind: str, tmp_path: Path
) -> None:
    strict = start_emulator("strict", allow_local_paths=False)
    local = tmp_path / "train.jsonl"
    local.write_bytes(FAQ.read_bytes())
    for uri in (str(local), local.as_uri(), "https://example.com/train.jsonl", "gs://B/x"):
        status, message, fields = refused(kind, strict, uri)
        assert status == "INVALID_ARGUMENT"
        assert "must be a Cloud Storage URI gs://BUCKET/OBJECT" in message and uri in message
        assert fields == ["tuning_job.supervised_tuning_spec.training_dataset_uri"]
    assert raw_jobs(strict) == []


def test_datasets_that_cannot_be_used_fail_the_job(
    emulator: Emulator, bucket: Any, sft: Any
) -> None:
    csv = bucket.put("data/people.csv", b"name,age\nalice,3\nbob,4\n")
    batch = put(bucket, BATCH_PREDICTIONS)
    missing = bucket.uri("data/nothing-here.jsonl")
    no_bucket = "gs://tunestats-no-such-bucket/train.jsonl"
    client, gen = aip(emulator), gclient(emulator)

    job = wait_aip(
        client,
        client.create_tuning_job(
            parent=PARENT,
            tuning_job={
                "base_model": MODEL,
                "supervised_tuning_spec": {"training_dataset_uri": csv},
            },
        ).name,
    )
    assert job.state.name == "JOB_STATE_FAILED"
    assert job.error.code == 3 and not job.tuned_model.model and not job.tuning_data_stats
    assert csv in job.error.message and "not JSONL" in job.error.message
    assert "looks like CSV" in job.error.message  # issue 18: CSV is named as such
    check_times(job.create_time, job.start_time, job.end_time, job.update_time)

    gjob = wait_genai(
        gen,
        gen.tunings.tune(
            base_model=MODEL, training_dataset=genai_types.TuningDataset(gcs_uri=batch)
        ).name,
    )
    assert gjob.state == genai_types.JobState.JOB_STATE_FAILED
    assert "no valid example (10 dropped)" in gjob.error.message
    assert "line 1: record matches no format" in gjob.error.message
    assert "line 2:" in gjob.error.message

    vjob = sft.train(source_model=MODEL, train_dataset=missing)
    wait_for(lambda: vjob.refresh().has_ended, "the job of a missing object")
    assert vjob.state.name == "JOB_STATE_FAILED"
    assert vjob.error.message == f"Dataset cannot be used: {missing}: no such file or object"

    # A missing validation dataset fails the job as well, and so does a missing bucket.
    for training, validation in ((put(bucket, FAQ), missing), (no_bucket, None)):
        config = genai_types.CreateTuningJobConfig(
            validation_dataset=genai_types.TuningValidationDataset(gcs_uri=validation)
            if validation
            else None
        )
        failed = wait_genai(
            gen,
            gen.tunings.tune(
                base_model=MODEL,
                training_dataset=genai_types.TuningDataset(gcs_uri=training),
                config=config,
            ).name,
        )
        assert failed.state == genai_types.JobState.JOB_STATE_FAILED
        bad = validation or training
        assert bad in failed.error.message and ("no such" in failed.error.message)


# --- 7. Google's JSON conventions, as raw HTTP ---------------------------------------------------


def _post(http: Any, path: str, body: Any, query: str = "") -> Any:
    return http.post(f"/v1/{PARENT}/{path}{query}", json=body)


def test_int64_and_enums_in_either_form(http: Any, emulator: Emulator, bucket: Any) -> None:
    uri = put(bucket, FAQ)
    bodies = [
        {"epochCount": "3", "adapterSize": "ADAPTER_SIZE_FOUR"},
        {"epochCount": 3, "adapterSize": 2},
        {"epoch_count": 3, "adapter_size": "ADAPTER_SIZE_FOUR"},
    ]
    names = []
    for hp in bodies:
        reply = _post(
            http,
            "tuningJobs",
            {
                "baseModel": MODEL,
                "supervisedTuningSpec": {"trainingDatasetUri": uri, "hyperParameters": hp},
            },
        )
        assert reply.status_code == 200, reply.text
        job = reply.json()
        assert job["supervisedTuningSpec"]["hyperParameters"] == {
            "epochCount": "3",
            "adapterSize": "ADAPTER_SIZE_FOUR",
        }
        assert job["state"] == "JOB_STATE_PENDING"
        names.append(job["name"])

    numbers = "?$alt=json;enum-encoding=int"
    job = _post(
        http,
        "tuningJobs",
        {
            "baseModel": MODEL,
            "supervisedTuningSpec": {
                "trainingDatasetUri": uri,
                "hyperParameters": {"adapterSize": "ADAPTER_SIZE_ONE"},
            },
        },
        numbers,
    ).json()
    assert job["state"] == 2 and job["supervisedTuningSpec"]["hyperParameters"] == {
        "adapterSize": 1
    }
    names.append(job["name"])
    for name in names:
        wait_raw(emulator, name)
    done = raw_job(emulator, names[-1], numbers)
    assert done["state"] == 4 and "JOB_STATE" not in json.dumps(done)
    assert raw_job(emulator, names[-1])["state"] == "JOB_STATE_SUCCEEDED"
    listed = http.get(f"/v1/{PARENT}/tuningJobs", params={"$alt": "json;enum-encoding=int"}).json()
    assert [job["state"] for job in listed["tuningJobs"]] == [4, 4, 4, 4]
    stats = done["tuningDataStats"]["supervisedTuningDataStats"]
    assert stats["tuningDatasetExampleCount"] == "14"  # int64 out: a string
    assert isinstance(stats["userInputTokenDistribution"]["mean"], float)

    # Enums by a name or number no version has, and int64 that is no integer, are refused.
    for hp in ({"adapterSize": "ADAPTER_SIZE_HUGE"}, {"adapterSize": 99}, {"epochCount": "three"}):
        reply = _post(
            http,
            "tuningJobs",
            {
                "baseModel": MODEL,
                "supervisedTuningSpec": {"trainingDatasetUri": uri, "hyperParameters": hp},
            },
        )
        assert reply.status_code == 400, hp
        assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_operation_response_carries_its_type(http: Any, emulator: Emulator, bucket: Any) -> None:
    spec = {"baseModel": MODEL, "supervisedTuningSpec": {"trainingDatasetUri": put(bucket, FAQ)}}
    source = wait_raw(emulator, _post(http, "tuningJobs", spec).json()["name"])
    for version in VERSIONS:
        reply = http.post(
            f"/{version}/{PARENT}/tuningJobs:rebaseTunedModel",
            json={"tunedModelRef": {"tuningJob": source["name"]}},
        )
        assert reply.status_code == 200, reply.text
        operation = reply.json()
        assert operation["metadata"]["@type"] == (
            f"type.googleapis.com/google.cloud.aiplatform.{version}.RebaseTunedModelOperationMetadata"
        )
        assert "done" not in operation
        name = operation["name"]
        done = wait_for(
            lambda name=name: (op := http.get(f"/ui/{name}").json()).get("done") and op, "the op"
        )
        response = done["response"]
        assert (
            response["@type"] == f"type.googleapis.com/google.cloud.aiplatform.{version}.TuningJob"
        )
        assert name.startswith(response["name"] + "/operations/")
        again = http.get(f"/{version}/{name}").json()  # the same operation under /v1...
        assert again["response"]["name"] == response["name"] and again["done"] is True
        numbered = http.get(f"/{version}/{name}", params={"$alt": "json;enum-encoding=int"}).json()
        assert isinstance(numbered["response"]["state"], int)
        waited = http.post(f"/ui/{name}:wait", json={"timeout": "1s"}).json()
        assert waited["done"] is True


def test_bad_requests_get_google_rpc_status_bodies(http: Any, bucket: Any) -> None:
    uri = put(bucket, FAQ)
    spec = {"baseModel": MODEL, "supervisedTuningSpec": {"trainingDatasetUri": uri}}
    cases = [
        (_post(http, "tuningJobs", {**spec, "colour": "red"}), 400, "INVALID_ARGUMENT", "colour"),
        (
            _post(
                http,
                "tuningJobs",
                {**spec, "supervisedTuningSpec": {"trainingDatasetUri": uri, "epochs": 3}},
            ),
            400,
            "INVALID_ARGUMENT",
            "epochs",
        ),
        (
            http.post(
                f"/v1/{PARENT}/tuningJobs",
                content=b"{oops",
                headers={"content-type": "application/json"},
            ),
            400,
            "INVALID_ARGUMENT",
            "JSON",
        ),
        (_post(http, "tuningJobs", [spec]), 400, "INVALID_ARGUMENT", "JSON object"),
        (
            _post(http, "tuningJobs", {"supervisedTuningSpec": {"trainingDatasetUri": uri}}),
            400,
            "INVALID_ARGUMENT",
            "baseModel is required",
        ),
        (
            _post(http, "tuningJobs", {"baseModel": MODEL}),
            400,
            "INVALID_ARGUMENT",
            "spec is required",
        ),
        (http.get(f"/v1/{PARENT}/tuningJobs/1"), 404, "NOT_FOUND", "does not exist"),
        (
            http.get(f"/v1/{PARENT}/metadataStores/default/contexts/tuning-experiment-1"),
            404,
            "NOT_FOUND",
            "tuning-experiment-1 not found",
        ),
        (http.delete(f"/v1/{PARENT}/tuningJobs/1"), 501, "UNIMPLEMENTED", "DELETE"),
        (http.get("/v2/projects"), 404, "NOT_FOUND", "/v2/projects"),
        (http.get(f"/v1/{PARENT}/tuningJobs?pageSize=-1"), 400, "INVALID_ARGUMENT", "pageSize"),
        (http.get(f"/v1/{PARENT}/tuningJobs?pageToken=zz"), 400, "INVALID_ARGUMENT", "pageToken"),
    ]
    for reply, code, status, words in cases:
        error = reply.json()["error"]
        assert (reply.status_code, error["code"], error["status"]) == (code, code, status), error
        assert words in error["message"], error


# --- 8. many clients at once -------------------------------------------------------------------


@pytest.mark.slow
def test_thirty_creates_from_six_threads(emulator: Emulator, bucket: Any) -> None:
    uri = put(bucket, FAQ)
    client = aip(emulator)  # one client shared by all threads, as an application would
    spec = plain_job(uri)
    made: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def work(thread: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                job = client.create_tuning_job(
                    parent=PARENT,
                    tuning_job={**spec, "labels": {"thread": str(thread), "i": str(i)}},
                )
                with lock:
                    made.append(job.name)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(made) == len(set(made)) == 30

    pager = client.list_tuning_jobs(request={"parent": PARENT, "page_size": 7})
    listed = [job.name for job in pager]
    assert len(listed) == 30 and set(listed) == set(made)
    labels = {(job["labels"]["thread"], job["labels"]["i"]) for job in raw_jobs(emulator)}
    assert labels == {(str(t), str(i)) for t in range(6) for i in range(5)}

    def all_done() -> bool:
        request = {"parent": PARENT, "filter": "state=JOB_STATE_SUCCEEDED", "page_size": 1000}
        return len(list(client.list_tuning_jobs(request=request))) == 30

    wait_for(all_done, "thirty jobs to succeed")
