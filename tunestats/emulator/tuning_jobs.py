"""Tuning jobs: the handlers of ``projects.locations.tuningJobs`` (create, get, list, cancel,
rebaseTunedModel).

Takes from ``app`` a :class:`~.service.Service` and a request's parts; each handler is one
transaction on the store. A new job is checked by ``validate`` and gets the emulator's labels
(``labels``) before it is stored as PENDING; a list reads the store a page at a time, picked
by the compiled ``filter`` (``filters``) and continued by an opaque page token; a rebase
starts a new job in a long-running operation (``operations``). Hands back the reply: the
TuningJob in proto3 JSON (``messages``), for the API version asked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import messages
from .filter_tokens import FilterError
from .filters import Filter, compile_filter
from .labels import add_labels, user_labels_only
from .lifecycle import ENDED, request_cancel, timestamp
from .messages import ApiError, invalid, must_exist
from .operations import operation_reply
from .service import Service, enums_as_ints
from .store import Job, Operation, Store
from .validate import strip_output_only, validate_job

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_TOKEN_CHARS = 1000
MAX_FILTER_CHARS = 8192  # a filter of hundreds of terms; longer ones only slow every list down


def _job_reply(version: str, job: Job, query: dict[str, str]) -> dict[str, Any]:
    api = "v1beta1" if version == "v1beta1" else "v1"
    return messages.render(api, "TuningJob", job.doc, enums_as_ints(query))


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
        messages.check_renders(api, "TuningJob", job)
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
    return must_exist(service.store.get_job(name), _missing(name))


def _missing(name: str) -> str:
    return f"The TuningJob does not exist: {name}"


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

    must_exist(service.store.update_job(params["name"], change), _missing(params["name"]))
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
    return operation_reply(service, operation, query)


def _rebase_source(service: Service, ref: dict[str, Any]) -> Job:
    if "tuningJob" in ref:
        job = service.store.get_job(ref["tuningJob"])
    elif "tunedModel" in ref:
        job = service.store.tuned_by(ref["tunedModel"].split("@", 1)[0])
    else:
        raise invalid("tunedModelRef needs tuningJob or tunedModel.", "tuned_model_ref")
    job = must_exist(job, f"No tuned model or tuning job matches {ref}.")
    if job.state != "JOB_STATE_SUCCEEDED":
        raise ApiError(
            "FAILED_PRECONDITION", f"The TuningJob {job.name} has not succeeded ({job.state})."
        )
    return job
