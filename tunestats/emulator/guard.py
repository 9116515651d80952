"""Guard: what every request must pass before a handler sees it.

The emulator serves on the loopback interface of a developer's machine, where any web page the
developer opens can send it requests. So, before routing:

- **Host** (DNS rebinding): a page on ``evil.example`` whose name the attacker re-points to
  127.0.0.1 reaches the emulator with ``Host: evil.example``. Only loopback names are accepted
  (``127.0.0.1``, ``localhost``, ``[::1]``, any port), plus the ``--host`` the emulator was
  started with; bound to a wildcard address (``0.0.0.0``, ``::``), also any IP address and
  this machine's own names (a rebinding page always sends its own DNS name, never an address).
  A request without ``Host`` (HTTP/1.0) is no browser's. Refused: 403 PERMISSION_DENIED.
- **Origin**: a browser names the page a request comes from; one whose host is not allowed in
  ``Host`` either (or ``null``) is refused the same way. Google's clients send no Origin.
- **Content type**: every POST must say ``application/json`` (parameters such as
  ``charset=utf-8`` allowed), as Google's clients do. The types a page may send without a CORS
  preflight (``text/plain``, forms) are thus refused: 415, INVALID_ARGUMENT.
- **Size**: a body over :data:`MAX_BODY_BYTES` is refused with 413 (INVALID_ARGUMENT), from
  its ``Content-Length`` before any of it is read, or, sent chunked, as soon as what has come
  passes the limit; nothing larger is ever held.
- **JSON**: the body must be UTF-8 (RFC 8259; not UTF-16 or UTF-32, which Python's JSON
  reader would take) and one JSON object, nested at most :data:`MAX_JSON_DEPTH` deep,
  without unpaired surrogates (``"\\ud800"``), which no proto string may hold.

Every refusal is an :class:`~tunestats.emulator.messages.ApiError`, hence a google.rpc.Status.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .messages import ApiError, invalid

# A TuningJob is a few hundred bytes: URIs, a model name, hyperparameters, at most 64 labels
# of 64 characters and a display name of 128 (about 9 kB all told), a description. A MiB is
# a hundred times that, and bounds what parsing one request costs (about 20 times its size).
MAX_BODY_BYTES = 1 << 20
# Deeper than any TuningJob (whose deepest field is 6 levels down) and within what the protos
# parse and print without running out of stack.
MAX_JSON_DEPTH = 100
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
_PORT = re.compile(r"[0-9]{1,5}")
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class HostPolicy:
    """Which ``Host`` (and ``Origin``) values an emulator bound to one address accepts."""

    names: frozenset[str]  # lower case, without brackets or port
    any_address: bool = False  # a wildcard bind: every IP address literal as well

    @classmethod
    def for_bind(cls, host: str) -> HostPolicy:
        bound = host.strip("[]").lower()
        if bound in WILDCARDS:
            own = {socket.gethostname().lower(), socket.getfqdn().lower()} - {""}
            return cls(LOOPBACK | own, any_address=True)
        return cls(LOOPBACK | {bound})

    def allows(self, host: str) -> bool:
        host = host.lower()
        if host in self.names:
            return True
        if not self.any_address:
            return False
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True


def host_of(header: str) -> str | None:
    """The host of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``); None if bad."""
    if header.startswith("["):
        end = header.find("]")
        if end < 0:
            return None
        host, rest = header[1:end], header[end + 1 :]
        if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
            return None
        return host
    host, colon, port = header.partition(":")
    if colon and not _PORT.fullmatch(port):
        return None
    return host


def check_origin_and_host(headers: Mapping[str, str], policy: HostPolicy) -> None:
    header = headers.get("host")
    if header is not None:
        host = host_of(header)
        if host is None or not policy.allows(host):
            raise ApiError(
                "PERMISSION_DENIED",
                f"Host {_shown(header)} is not served here: the emulator answers requests for "
                "127.0.0.1, localhost, [::1] and its --host only (a defence against DNS "
                "rebinding).",
            )
    origin = headers.get("origin")
    if origin is not None and not _origin_allowed(origin, policy):
        raise ApiError(
            "PERMISSION_DENIED",
            f"Requests from web pages are refused (Origin {_shown(origin)}); use a client "
            "such as google-cloud-aiplatform or google-genai.",
        )


def _origin_allowed(origin: str, policy: HostPolicy) -> bool:
    try:
        parts = urlsplit(origin)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and host is not None and policy.allows(host)


def check_content_type(headers: Mapping[str, str]) -> None:
    """A POST says its body is JSON, as Google's clients do, or it is refused (415)."""
    header = headers.get("content-type", "")
    media = header.split(";", 1)[0].strip().lower()
    if media != "application/json":
        shown = _shown(header) if header else "none"
        raise ApiError(
            "INVALID_ARGUMENT",
            f"Content-Type must be application/json, not {shown}.",
            http_status=415,
        )


def too_large(size: str) -> ApiError:
    return ApiError(
        "INVALID_ARGUMENT",
        f"Request payload size exceeds the limit: {MAX_BODY_BYTES} bytes ({size}).",
        http_status=413,
    )


async def read_body(headers: Mapping[str, str], chunks: AsyncIterator[bytes]) -> bytes:
    """The body, refused (413) as soon as it is known to pass :data:`MAX_BODY_BYTES`."""
    length = headers.get("content-length", "")
    if _DIGITS.fullmatch(length) and (len(length) > 18 or int(length) > MAX_BODY_BYTES):
        raise too_large(f"Content-Length {length[:30]}")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large(f"more than {MAX_BODY_BYTES} bytes sent")
        parts.append(chunk)
    return b"".join(parts)


def parse_json(raw: bytes) -> dict[str, Any]:
    """An empty body is ``{}``; anything else must be one JSON object within the limits."""
    if not raw.strip():
        return {}
    text = _utf8(raw)
    try:
        body = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        raise invalid(f"Invalid JSON payload received. {exc}") from None
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received: the body must be a JSON object.")
    _check_tree(body)
    return body


def _utf8(raw: bytes) -> str:
    """The body as text: JSON is UTF-8 (RFC 8259), which json.loads alone does not insist on
    (it takes UTF-16 and UTF-32 too). A UTF-8 byte order mark is tolerated, as RFC 8259 allows."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:2]:
        raise invalid(
            "Invalid JSON payload received: the body is UTF-16 or UTF-32; JSON must be UTF-8 "
            "(RFC 8259)."
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid(
            f"Invalid JSON payload received: the body is not UTF-8 (byte {exc.start}); JSON "
            "must be UTF-8 (RFC 8259)."
        ) from None


def _too_deep() -> ApiError:
    return invalid(f"Invalid JSON payload received: nested more than {MAX_JSON_DEPTH} levels deep.")


def _check_tree(body: Any) -> None:
    """Depth and strings of a parsed body, without recursion (it may be deep)."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
            continue
        if isinstance(value, dict):
            items: Any = value.values()
            for key in value:
                _check_text(key)
        elif isinstance(value, list):
            items = value
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        stack.extend((item, depth + 1) for item in items)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(
            "Invalid JSON payload received: a string holds an unpaired surrogate "
            "(a \\ud800-\\udfff escape without its pair), which is not Unicode text."
        ) from None


def _shown(text: str) -> str:
    """Text as a message may quote it: on one line, at most 200 characters."""
    quoted = json.dumps(text[:200])
    return quoted if len(text) <= 200 else quoted[:-1] + '..."'
