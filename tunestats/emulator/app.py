"""App: the HTTP face of the emulator (an ASGI app; Starlette reads the requests).

Every request first passes ``guard`` (Host and Origin, content type, body size, JSON shape);
then :data:`ROUTES` send it by method and path, under ``/v1/``, ``/v1beta1/`` and ``/ui/``
(where Google's REST transports poll operations), to its handler: ``tuning_jobs``
(``projects.locations.tuningJobs``), ``operations`` (their long-running operations) or
``contexts`` (the experiment context that a job names, which vertexai's
``TuningJob.refresh()`` loads). Bodies and replies follow Google's JSON conventions (see
``messages``); every error is a ``google.rpc.Status`` body with its HTTP status, whatever went
wrong: bad input is INVALID_ARGUMENT (or another 4xx code), and INTERNAL (500) is left for the
emulator's own bugs.

Takes from ``server``: a :class:`~.service.Service` (store, schedule, options). Hands to the
client: JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from . import guard
from .contexts import get_context
from .messages import ApiError
from .operations import cancel_operation, get_operation, wait_operation
from .service import Handler, Service
from .tuning_jobs import cancel, create, get, list_jobs, rebase

_SEGMENT = r"[^/:]+"
_PARENT = rf"projects/{_SEGMENT}/locations/{_SEGMENT}"
_JOB = rf"{_PARENT}/tuningJobs/{_SEGMENT}"
_OPERATION = rf"{_PARENT}(?:/tuningJobs/{_SEGMENT})?/operations/{_SEGMENT}"
_CONTEXT = rf"{_PARENT}/metadataStores/{_SEGMENT}/contexts/{_SEGMENT}"


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


# (method, pattern of the path after the version, handler); versions: v1, v1beta1, ui. The
# handlers of jobs are not served under /ui/ (the clients poll only operations there).
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
