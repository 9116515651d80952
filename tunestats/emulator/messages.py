"""Messages: TuningJob and Operation JSON in the proto3 JSON mapping, both ways.

Requests are parsed through the real message types that google-cloud-aiplatform ships (the v1
or v1beta1 protos), so the emulator accepts exactly what Vertex accepts: camelCase or
snake_case names, int64 as string or number, enums as names or numbers, and nothing unknown.
What comes out is the canonical form the rest of the emulator stores: camelCase, enum names,
int64 as strings, defaults left out. Replies go back through the same types, with enum numbers
when the client asks for them (``$alt=json;enum-encoding=int``).

Hands to ``validate`` and ``store``: plain dicts in canonical form; raises :class:`ApiError`.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, TypeVar

# The HTTP status Google's front end gives each google.rpc.Code.
HTTP_OF = {
    "CANCELLED": 499,
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
}


@dataclass
class ApiError(Exception):
    """An error reply: a google.rpc.Status with its HTTP status."""

    status: str  # INVALID_ARGUMENT, NOT_FOUND, ...
    message: str
    violations: list[tuple[str, str]] = field(default_factory=list)  # (field, description)
    http_status: int | None = None  # when not the usual one of the code (413, 415)

    def __str__(self) -> str:
        return self.message

    @property
    def http(self) -> int:
        return self.http_status or HTTP_OF.get(self.status, 500)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.http,
            "message": self.message,
            "status": self.status,
        }
        if self.violations:
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": f, "description": d} for f, d in self.violations],
                }
            ]
        return {"error": error}


def invalid(message: str, field_path: str | None = None) -> ApiError:
    violations = [(field_path, message)] if field_path else []
    return ApiError("INVALID_ARGUMENT", message, violations)


_Found = TypeVar("_Found")


def must_exist(found: _Found | None, message: str) -> _Found:
    """What the store found for a request, or NOT_FOUND (404) with ``message`` if nothing."""
    if found is None:
        raise ApiError("NOT_FOUND", message)
    return found


def _types(version: str) -> Any:
    package = {"v1": "aiplatform_v1", "v1beta1": "aiplatform_v1beta1"}[version]
    return importlib.import_module(f"google.cloud.{package}.types")


def message_class(version: str, name: str) -> Any:
    """The protobuf class of a message (``TuningJob``, ``RebaseTunedModelRequest``...)."""
    return getattr(_types(version), name).pb()


def parse(version: str, name: str, body: Any) -> dict[str, Any]:
    """Parse a request body strictly; return it in canonical form.

    Whatever the protos refuse, however they refuse it, is the client's input at fault and
    INVALID_ARGUMENT: a ``ParseError``, but also what a hostile body provokes in the library
    (a ``RecursionError`` from deep nesting, a ``SerializeToJsonError`` for a NaN inside a
    ``google.protobuf.Value``, a ``TypeError`` or ``ValueError`` from a value of a wrong kind).
    """
    from google.protobuf import json_format

    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received: the body must be a JSON object.")
    message = message_class(version, name)()
    try:
        json_format.ParseDict(body, message, ignore_unknown_fields=False)
        return json_format.MessageToDict(message)
    except RecursionError:
        raise invalid("Invalid JSON payload received: nested too deeply.") from None
    except Exception as exc:  # see above: the body's fault, never a 500
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise invalid(f"Invalid JSON payload received. {text}") from None


RENDERED_KEPT = 4096  # replies remembered by render: a list page is 100, a job about 1 kB


def render(version: str, name: str, doc: dict[str, Any], enums_as_ints: bool) -> dict[str, Any]:
    """A stored message as the reply of ``version``: only the fields that version has.

    ``tuningDataStats`` is passed through as computed: its distillation part has fields that
    the REST API returns but the protos do not declare. Going through the protos costs about
    half a millisecond a job, which a page of 100 jobs, listed again and again by a client that
    polls, would pay every time: so the replies of the last :data:`RENDERED_KEPT` documents
    are remembered. The nested values of a reply are shared: callers copy before they change.
    """
    stats = doc.get("tuningDataStats")
    rest = {k: v for k, v in doc.items() if k != "tuningDataStats"}
    key = (version, name, enums_as_ints, json.dumps(rest, sort_keys=True, separators=(",", ":")))
    with _rendered_lock:
        out = _rendered.get(key)
        if out is not None:
            _rendered.move_to_end(key)
    if out is None:
        out = _render(version, name, rest, enums_as_ints)
        with _rendered_lock:
            _rendered[key] = out
            while len(_rendered) > RENDERED_KEPT:
                _rendered.popitem(last=False)
    out = dict(out)
    if stats is not None and name == "TuningJob":
        out["tuningDataStats"] = stats
    return out


_rendered: OrderedDict[tuple[str, str, bool, str], dict[str, Any]] = OrderedDict()
_rendered_lock = threading.Lock()


def check_renders(version: str, name: str, doc: dict[str, Any]) -> None:
    """Raise what rendering ``doc`` would raise; its reply is not remembered (no reply asks for
    a document before it is stored)."""
    _render(version, name, {k: v for k, v in doc.items() if k != "tuningDataStats"}, False)


def _render(version: str, name: str, doc: dict[str, Any], enums_as_ints: bool) -> dict[str, Any]:
    from google.protobuf import json_format

    message = message_class(version, name)()
    json_format.ParseDict(doc, message, ignore_unknown_fields=True)
    return json_format.MessageToDict(message, use_integers_for_enums=enums_as_ints)


def oneof_siblings(version: str, name: str, key: str) -> set[str]:
    """The other members (JSON names) of the oneof that field ``key`` of ``name`` is in."""
    descriptor = message_class(version, name).DESCRIPTOR
    fields = {f.json_name: f for f in descriptor.fields} | {f.name: f for f in descriptor.fields}
    found = fields.get(key)
    if found is None or found.containing_oneof is None:
        return set()
    return {f.json_name for f in found.containing_oneof.fields if f is not found}


def type_url(version: str, name: str) -> str:
    return f"type.googleapis.com/google.cloud.aiplatform.{version}.{name}"
