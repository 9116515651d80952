"""Contexts: the one handler of ``metadataStores.contexts``, for the experiment a job names.

Takes from ``app`` a :class:`~.service.Service` and the context's name; hands back the
``Context`` in proto3 JSON, found from the job whose experiment it is (the store holds no
contexts of its own).
"""

from __future__ import annotations

from typing import Any

from . import messages
from .lifecycle import EXPERIMENT_PREFIX
from .messages import ApiError
from .service import Service, enums_as_ints


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
    return messages.render(api, "Context", doc, enums_as_ints(query))
