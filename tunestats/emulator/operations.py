"""Operations: the handlers of long-running operations (get, cancel, wait).

The emulator's one long-running call is rebaseTunedModel (``tuning_jobs``): its operation is
done once its time has come, and then holds the new TuningJob, or the error that ended it.
Google's REST transports poll operations under ``/ui/`` as well as ``/v1/`` and ``/v1beta1/``.
Takes from ``app`` a :class:`~.service.Service` and a request's parts; hands back the
``google.longrunning.Operation`` in JSON.
"""

from __future__ import annotations

import re
import time
from typing import Any

from . import messages
from .messages import invalid, must_exist
from .service import Service, enums_as_ints
from .store import Operation

MAX_WAIT_SECONDS = 30.0


def operation_reply(service: Service, op: Operation, query: dict) -> dict[str, Any]:
    """The Operation as a client sees it now: not done yet, or done with its job or error."""
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
    rendered = messages.render(op.version, "TuningJob", job.doc, enums_as_ints(query))
    reply["response"] = {"@type": messages.type_url(op.version, "TuningJob"), **rendered}
    return reply


def _find_operation(service: Service, name: str) -> Operation:
    return must_exist(service.store.get_operation(name), _missing(name))


def _missing(name: str) -> str:
    return f"Operation does not exist: {name}"


def get_operation(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    return operation_reply(service, _find_operation(service, params["name"]), query)


def cancel_operation(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    now = service.clock()

    def change(op: Operation) -> Operation | None:
        if now >= op.done_ns:
            return None  # done already: cancelling it does nothing (google.longrunning)
        doc = {**op.doc, "error": {"code": 1, "message": "The operation was cancelled."}}
        return Operation(op.name, op.version, now, doc)

    must_exist(service.store.update_operation(params["name"], change), _missing(params["name"]))
    return {}


def wait_operation(service: Service, version: str, params: dict, body: Any, query: dict) -> dict:
    timeout = _duration(body.get("timeout") or query.get("timeout"), MAX_WAIT_SECONDS)
    deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
    while True:
        op = _find_operation(service, params["name"])
        if service.clock() >= op.done_ns or time.monotonic() >= deadline:
            return operation_reply(service, op, query)
        if service.stopping.wait(0.02):  # the emulator stops: answer now, not in 30 s
            return operation_reply(service, op, query)


def _duration(text: Any, default: float) -> float:
    """A google.protobuf.Duration in JSON ("5s", "0.5s")."""
    if not text:
        return default
    match = re.fullmatch(r"(\d+(?:\.\d*)?)s", str(text))
    if match is None:
        raise invalid(f'Invalid duration {text!r}; expected seconds such as "5s".', "timeout")
    return float(match.group(1))
