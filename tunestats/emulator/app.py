"""App: the HTTP face of the emulator (an ASGI app; Starlette reads the requests).

Every request first passes ``guard`` (Host and Origin, content type, body size, JSON shape);
then the routes send ``projects.locations.tuningJobs`` and their operations under ``/v1/``,
``/v1beta1/`` and ``/ui/`` (where Google's REST transports poll operations) to small
handlers, each one transaction on the store; also the experiment context that a job names
(``metadataStores.contexts.get``), which vertexai's ``TuningJob.refresh()`` loads. Bodies and
replies follow Google's JSON conventions (see ``messages``); every error is a
``google.rpc.Status`` body with its HTTP status, whatever went wrong: bad input is
INVALID_ARGUMENT (or another 4xx code), and INTERNAL (500) is left for the emulator's own bugs.

Hands to the client: JSON. Takes from ``server``: a :class:`Service` (store, schedule, options).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import guard, messages
from .filters import Filter, FilterError, compile_filter
from .labels import TokenizerLabels, add_labels, user_labels_only
from .lifecycle import ENDED, Schedule, request_cancel, timestamp
from .messages import ApiError, invalid
from .store import Job, Operation, Store
from .validate import strip_output_only, validate_job

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_WAIT_SECONDS = 30.0
MAX_TOKEN_CHARS = 1000
MAX_FILTER_CHARS = 8192  # a filter of hundreds of terms; longer ones only slow every list down

_SEGMENT = r"[^/:]+"
_PARENT = rf"projects/{_SEGMENT}/locations/{_SEGMENT}"
_JOB = rf"{_PARENT}/tuningJobs/{_SEGMENT}"
_OPERATION = rf"{_PARENT}(?:/tuningJobs/{_SEGMENT})?/operations/{_SEGMENT}"
_CONTEXT = rf"{_PARENT}/metadataStores/{_SEGMENT}/contexts/{_SEGMENT}"
EXPERIMENT_PREFIX = "tuning-experiment-"  # how lifecycle names the experiment of a job


@dataclass
class Service:
    """What the handlers share: the store, the schedule, the options of the emulator."""

    store: Store
    schedule: Schedule
    allow_local_paths: bool = False
    clock: Callable[[], int] = time.time_ns
    labels: TokenizerLabels = field(default_factory=lambda: TokenizerLabels(None, None))
    hosts: guard.HostPolicy = field(default_factory=lambda: guard.HostPolicy(guard.LOOPBACK))
    stopping: threading.Event = field(default_factory=threading.Event)  # set on shutdown


def create_app(service: Service) -> Callable[..., Any]:
    """The ASGI app (HTTP only: run it with uvicorn's ``lifespan="off"``, ``ws="none"``)."""
    from starlette.requests import ClientDisconnect, Request

    async def app(scope: dict, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return  # nothing but HTTP is served (uvicorn is told so; this is for others)
        request = Request(scope, receive)
        try:
            status, body = await _answer(service, request)
        except ClientDisconnect:
            return  # nobody to answer
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


async def _answer(service: Service, request: Any) -> tuple[int, bytes]:
    """Status and body of the reply to one request; every failure is a google.rpc.Status."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect

    try:
        guard.check_origin_and_host(request.headers, service.hosts)
        version, handler, params = _route(request.method, request.scope["path"])
        if request.method == "POST":
            guard.check_content_type(request.headers)
        body = guard.parse_json(await guard.read_body(request.headers, request.stream()))
        reply = await run_in_threadpool(
            handler, service, version, params, body, dict(request.query_params)
        )
        return 200, _encode(reply)
    except ApiError as exc:
        error = exc
    except ClientDisconnect:
        raise
    except Exception as exc:  # a bug: still a google.rpc.Status, never a bare 500 page
        error = ApiError("INTERNAL", f"Internal error: {type(exc).__name__}: {exc}")
    try:
        return error.http, _encode(error.body())
    except Exception:  # an error that cannot even be written (it cannot happen; but if)
        fallback = {"error": {"code": 500, "message": "Internal error.", "status": "INTERNAL"}}
        return 500, json.dumps(fallback).encode()


def _encode(reply: dict[str, Any]) -> bytes:
    """JSON as Google writes it: UTF-8, no NaN (a reply that holds one is a bug)."""
    text = json.dumps(reply, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8", "backslashreplace")


def _route(method: str, path: str) -> tuple[str, Callable[..., Any], dict[str, str]]:
    version, _, rest = path.lstrip("/").partition("/")
    if version not in ("v1", "v1beta1", "ui"):
        raise ApiError("NOT_FOUND", f"The requested URL {path} was not found on this server.")
    matched_path = False
    for verb, pattern, handler in ROUTES:
        match = pattern.fullmatch(rest)
        if match is None or (version == "ui" and handler in JOB_HANDLERS):
            continue
        matched_path = True
        if verb == method:
            return version, handler, match.groupdict()
    if matched_path:
        raise ApiError("UNIMPLEMENTED", f"Method {method} is not allowed on {path}.")
    raise ApiError("NOT_FOUND", f"The requested URL {path} was not found on this server.")


def _enums_as_ints(query: dict[str, str]) -> bool:
    return "enum-encoding=int" in query.get("$alt", "")


def _job_reply(version: str, job: Job, query: dict[str, str]) -> dict[str, Any]:
    api = "v1beta1" if version == "v1beta1" else "v1"
    return messages.render(api, "TuningJob", job.doc, _enums_as_ints(query))


# --- tuningJobs ------------------------------------------------------------------------------


def create(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    job = messages.parse(version, "TuningJob", body)
    return _job_reply(version, new_job(service, version, params["parent"], job), query)


def new_job(service: Service, version: str, parent: str, job: dict[str, Any]) -> Job:
    """Validate a TuningJob (canonical form) and store it as PENDING, with our labels added."""
    job = strip_output_only(job)
    plan = validate_job(
        job, allow_local_paths=service.allow_local_paths, tuned_models=_tuned_models(service)
    )
    try:
        ours = service.labels.for_model(plan.model)
    except ValueError as exc:  # checked when the emulator starts: a file that became unreadable
        raise ApiError("INTERNAL", f"The emulator's tokenizer cannot be used: {exc}") from None
    job = add_labels(job, ours)
    api = "v1beta1" if version == "v1beta1" else "v1"
    try:  # what is stored must render: a job no GET or list can show would break them all
        messages.render(api, "TuningJob", job, False)
    except Exception as exc:
        raise invalid(f"The TuningJob is not valid: {type(exc).__name__}: {exc}") from None
    now = service.clock()

    def make_doc(name: str) -> dict[str, Any]:
        return {
            "name": name,
            **job,
            "state": "JOB_STATE_PENDING",
            "createTime": timestamp(now),
            "updateTime": timestamp(now),
        }

    return service.store.insert_job(parent, version, now, plan.__dict__, make_doc)


class _TunedModels(Mapping[str, str]):
    """Models tuned by succeeded jobs (name without @version) -> their base model, looked up
    one at a time in the store when a job names a preTunedModel (most never do)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getitem__(self, model: str) -> str:
        job = self.store.tuned_by(model)
        if job is None or job.state != "JOB_STATE_SUCCEEDED":
            raise KeyError(model)
        return job.plan["model"]

    def __iter__(self) -> Iterator[str]:
        for job in self.store.jobs():
            model = job.doc.get("tunedModel", {}).get("model")
            if model and job.state == "JOB_STATE_SUCCEEDED":
                yield model.split("@", 1)[0]

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _tuned_models(service: Service) -> Mapping[str, str]:
    return _TunedModels(service.store)


def get(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    return _job_reply(version, _find_job(service, params["name"]), query)


def _find_job(service: Service, name: str) -> Job:
    job = service.store.get_job(name)
    if job is None:
        raise ApiError("NOT_FOUND", f"The TuningJob does not exist: {name}")
    return job


def list_jobs(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    size = _page_size(query.get("pageSize") or query.get("page_size"))
    text = query.get("filter", "")
    if len(text) > MAX_FILTER_CHARS:
        raise invalid(
            f"Invalid filter: {len(text)} characters long; at most {MAX_FILTER_CHARS} are allowed.",
            "filter",
        )
    try:
        chosen = compile_filter(text)
    except FilterError as exc:
        raise invalid(f"Invalid filter: {exc}", "filter") from None
    token = query.get("pageToken") or query.get("page_token") or ""
    after = _read_token(token, params["parent"], text) if token else None
    page = _filtered_page(service.store, params["parent"], after, chosen, size + 1)
    more = len(page) > size
    page = page[:size]
    reply: dict[str, Any] = {"tuningJobs": [_job_reply(version, job, query) for job in page]}
    if more:
        last = page[-1]
        reply["nextPageToken"] = _make_token(last.create_ns, last.name, params["parent"], text)
    return reply


def _filtered_page(
    store: Store, parent: str, after: tuple[int, str] | None, chosen: Filter, limit: int
) -> list[Job]:
    """Up to ``limit`` jobs of ``parent`` after ``after`` that pass the filter: the store picks
    them by the filter's SQL; a filter without SQL is run over the stored documents (in the
    form a reply has them: the filterable fields are the same)."""
    if chosen.sql is not None:
        return store.page(parent, after, chosen.sql, chosen.args, limit)
    page: list[Job] = []
    for job in store.scan(parent, after):
        if chosen.test(job.doc):
            page.append(job)
            if len(page) == limit:
                break
    return page


def _page_size(text: str | None) -> int:
    if not text:
        return DEFAULT_PAGE_SIZE
    match = re.fullmatch(r"\s*([+-]?)0*([0-9]+)\s*", text)  # an int32, as the field is
    if match is None:
        raise invalid(f"pageSize must be an integer, not {_quoted(text)}.", "page_size")
    if match[1] == "-" and match[2] != "0":
        raise invalid(f"pageSize must not be negative, not {_quoted(text)}.", "page_size")
    digits = match[2]
    size = MAX_PAGE_SIZE if len(digits) > 9 else int(digits)  # huge: cut as any large value
    return min(size, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE


def _quoted(text: str) -> str:
    """User text in a message: on one line, at most 100 characters."""
    return json.dumps(text if len(text) <= 100 else text[:100] + "...")


def _fingerprint(parent: str, text: str) -> str:
    return hashlib.sha256(f"{parent}\n{text}".encode()).hexdigest()[:16]


def _make_token(create_ns: int, name: str, parent: str, text: str) -> str:
    raw = json.dumps([create_ns, name, _fingerprint(parent, text)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, parent: str, text: str) -> tuple[int, str]:
    ok = len(token) <= MAX_TOKEN_CHARS  # ours are about 100 characters
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)) if ok else b""
        create_ns, name, fingerprint = json.loads(raw)
        ok = isinstance(create_ns, int) and isinstance(name, str)
    except (ValueError, TypeError, RecursionError):
        ok = False
    if not ok:
        raise invalid("Invalid pageToken.", "page_token")
    if fingerprint != _fingerprint(parent, text):
        raise invalid("pageToken does not belong to this parent and filter.", "page_token")
    return create_ns, name


def cancel(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    now = service.clock()
    problem: list[ApiError] = []

    def change(job: Job) -> dict[str, Any] | None:
        if job.state in ENDED:
            problem.append(
                ApiError(
                    "FAILED_PRECONDITION",
                    f"The TuningJob {job.name} is in state {job.state} and cannot be cancelled.",
                )
            )
            return None
        if job.state == "JOB_STATE_CANCELLING":
            return None  # asked twice: nothing more to do
        return request_cancel(job, now)

    if service.store.update_job(params["name"], change) is None:
        raise ApiError("NOT_FOUND", f"The TuningJob does not exist: {params['name']}")
    if problem:
        raise problem[0]
    return {}


def rebase(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    """rebaseTunedModel: a new job from a succeeded one, in a long-running operation."""
    request = messages.parse(
        version, "RebaseTunedModelRequest", {**body, "parent": params["parent"]}
    )
    source = _rebase_source(service, request.get("tunedModelRef", {}))
    # The source's own labels; the new job gets the emulator's labels for its own base model.
    spec = {k: v for k, v in user_labels_only(source.doc).items() if not k.startswith("_")}
    overrides = strip_output_only(request.get("tuningJob", {}))
    for key in overrides:  # a field of a oneof replaces the source's member of that oneof
        for sibling in messages.oneof_siblings(version, "TuningJob", key):
            spec.pop(sibling, None)
    job = new_job(service, version, params["parent"], {**strip_output_only(spec), **overrides})
    now = service.clock()
    op_id = job.name.rsplit("/", 1)[1]
    name = f"{job.name}/operations/{op_id}"
    api = "v1beta1" if version == "v1beta1" else "v1"
    doc = {
        "name": name,
        "job": job.name,
        "metadata": {
            "@type": messages.type_url(api, "RebaseTunedModelOperationMetadata"),
            "genericMetadata": {"createTime": timestamp(now), "updateTime": timestamp(now)},
        },
    }
    operation = Operation(name, api, now + int(service.schedule.operation * 1e9), doc)
    service.store.insert_operation(operation)
    return _operation_reply(service, operation, query)


def _rebase_source(service: Service, ref: dict[str, Any]) -> Job:
    if "tuningJob" in ref:
        job = service.store.get_job(ref["tuningJob"])
    elif "tunedModel" in ref:
        job = service.store.tuned_by(ref["tunedModel"].split("@", 1)[0])
    else:
        raise invalid("tunedModelRef needs tuningJob or tunedModel.", "tuned_model_ref")
    if job is None:
        raise ApiError("NOT_FOUND", f"No tuned model or tuning job matches {ref}.")
    if job.state != "JOB_STATE_SUCCEEDED":
        raise ApiError(
            "FAILED_PRECONDITION", f"The TuningJob {job.name} has not succeeded ({job.state})."
        )
    return job


# --- operations ------------------------------------------------------------------------------


def _operation_reply(service: Service, op: Operation, query: dict) -> dict[str, Any]:
    reply: dict[str, Any] = {"name": op.name, "metadata": op.doc["metadata"]}
    if service.clock() < op.done_ns:
        return reply
    reply["done"] = True
    if "error" in op.doc:
        reply["error"] = op.doc["error"]
        return reply
    job = service.store.get_job(op.doc["job"])
    if job is None:
        reply["error"] = {"code": 5, "message": f"{op.doc['job']} no longer exists"}
        return reply
    rendered = messages.render(op.version, "TuningJob", job.doc, _enums_as_ints(query))
    reply["response"] = {"@type": messages.type_url(op.version, "TuningJob"), **rendered}
    return reply


def _find_operation(service: Service, name: str) -> Operation:
    op = service.store.get_operation(name)
    if op is None:
        raise ApiError("NOT_FOUND", f"Operation does not exist: {name}")
    return op


def get_operation(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    return _operation_reply(service, _find_operation(service, params["name"]), query)


def cancel_operation(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    now = service.clock()

    def change(op: Operation) -> Operation | None:
        if now >= op.done_ns:
            return None  # done already: cancelling it does nothing (google.longrunning)
        doc = {**op.doc, "error": {"code": 1, "message": "The operation was cancelled."}}
        return Operation(op.name, op.version, now, doc)

    if service.store.update_operation(params["name"], change) is None:
        raise ApiError("NOT_FOUND", f"Operation does not exist: {params['name']}")
    return {}


def wait_operation(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    timeout = _duration(body.get("timeout") or query.get("timeout"), MAX_WAIT_SECONDS)
    deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
    while True:
        op = _find_operation(service, params["name"])
        if service.clock() >= op.done_ns or time.monotonic() >= deadline:
            return _operation_reply(service, op, query)
        if service.stopping.wait(0.02):  # the emulator stops: answer now, not in 30 s
            return _operation_reply(service, op, query)


def _duration(text: Any, default: float) -> float:
    """A google.protobuf.Duration in JSON ("5s", "0.5s")."""
    if not text:
        return default
    match = re.fullmatch(r"(\d+(?:\.\d*)?)s", str(text))
    if match is None:
        raise invalid(f'Invalid duration {text!r}; expected seconds such as "5s".', "timeout")
    return float(match.group(1))


# --- metadataStores.contexts ------------------------------------------------------------------


def get_context(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    """MetadataService.GetContext for the experiment a job names (and nothing else).

    vertexai's ``TuningJob.refresh()`` loads ``job.experiment`` as an ``aiplatform.Experiment``
    as soon as the job has one, which fetches this context and checks that it is a
    ``system.Experiment``; without it the documented polling loop fails with 404.
    """
    name = params["name"]
    parent, _, context_id = name.partition("/metadataStores/")
    context_id = context_id.rsplit("/", 1)[1]
    job = None
    if context_id.startswith(EXPERIMENT_PREFIX):
        job_id = context_id.removeprefix(EXPERIMENT_PREFIX)
        job = service.store.get_job(f"{parent}/tuningJobs/{job_id}")
    if job is None or job.doc.get("experiment") != name:
        raise ApiError("NOT_FOUND", f"Context {name} not found.")
    created = job.doc.get("startTime", job.doc["createTime"])
    doc = {
        "name": name,
        "displayName": context_id,
        "schemaTitle": "system.Experiment",
        "schemaVersion": "0.0.1",
        "metadata": {"experiment_deleted": False},
        "createTime": created,
        "updateTime": created,
    }
    api = "v1beta1" if version == "v1beta1" else "v1"
    return messages.render(api, "Context", doc, _enums_as_ints(query))


# (method, pattern of the path after the version, handler); versions: v1, v1beta1, ui. The
# handlers of jobs are not served under /ui/ (the clients poll only operations there).
Handler = Callable[..., dict]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("POST", re.compile(rf"(?P<parent>{_PARENT})/tuningJobs"), create),
    ("GET", re.compile(rf"(?P<parent>{_PARENT})/tuningJobs"), list_jobs),
    ("POST", re.compile(rf"(?P<parent>{_PARENT})/tuningJobs:rebaseTunedModel"), rebase),
    ("GET", re.compile(rf"(?P<name>{_JOB})"), get),
    ("POST", re.compile(rf"(?P<name>{_JOB}):cancel"), cancel),
    ("GET", re.compile(rf"(?P<name>{_OPERATION})"), get_operation),
    ("POST", re.compile(rf"(?P<name>{_OPERATION}):cancel"), cancel_operation),
    ("POST", re.compile(rf"(?P<name>{_OPERATION}):wait"), wait_operation),
    ("GET", re.compile(rf"(?P<name>{_OPERATION}):wait"), wait_operation),
    ("GET", re.compile(rf"(?P<name>{_CONTEXT})"), get_context),
]
JOB_HANDLERS = {create, list_jobs, rebase, get, cancel, get_context}  # not under /ui/
