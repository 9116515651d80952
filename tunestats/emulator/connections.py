"""Connections: the HTTP/1.1 layer under the app, with bounds on time and on connections.

uvicorn's own h11 protocol waits forever for a request's headers and body, keeps as many
connections open as clients make (until the process runs out of file descriptors, when
asyncio prints a traceback for every refused accept and nobody is served), and answers
malformed HTTP with a plain-text 400. The emulator serves through :func:`protocol_class`, a
subclass of that protocol which adds, per :class:`Limits`:

- **headers** must be complete within ``header_timeout`` seconds of the connection (or of the
  first byte of a later request on a kept-alive connection); else 408 and the connection is
  closed (a connection that sent nothing at all is only closed);
- **the body** must be complete within ``body_timeout`` seconds of the headers; else 408
  and the connection is closed (when the app answered before the body was all in, a 413,
  the connection is only closed);
- **idle** kept-alive connections close after ``keep_alive_timeout`` seconds (uvicorn's);
- **at most** ``max_connections`` are open: a new one beyond that closes the connection idle
  the longest (one with no request under way, which HTTP lets a server close at any time);
  when every one is busy, the new one gets 503 UNAVAILABLE and is closed;
- **malformed HTTP** (a garbage request line, bad headers, headers past 16 kB while they
  are still coming) is answered 400 INVALID_ARGUMENT, a google.rpc.Status like every other
  error, and uvicorn's warning for it is not logged (errors still are);
- **on shutdown**, a request still waiting for its body is closed at once, not awaited.

Answers written here bypass h11 (whose state machine allows no response before a request)
and always close the connection. :func:`quiet_server` prints one line instead of asyncio's
traceback when accepting fails for want of file descriptors.

Hands to ``server``: :class:`Limits`, :func:`protocol_class`, :func:`quiet_server`,
:func:`backlog`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

from .messages import ApiError

MAX_CONNECTIONS = 1000  # plenty for a local emulator; each costs a descriptor and some memory
BACKLOG = 128  # connections the kernel queues, and asyncio accepts per turn of the loop


@dataclass(frozen=True)
class Limits:
    """How long a request may take to arrive, and how many connections may be open."""

    header_timeout: float = 10.0  # seconds for a request's headers
    body_timeout: float = 30.0  # seconds for its body, from the end of the headers
    keep_alive_timeout: float = 5.0  # seconds an idle connection is kept between requests
    max_connections: int | None = None  # None: from the file-descriptor limit

    def check(self) -> None:
        for name in ("header_timeout", "body_timeout", "keep_alive_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"the {name.replace('_', ' ')} must be positive, not {value}")
        if self.max_connections is not None and self.max_connections < 1:
            raise ValueError(f"max connections must be at least 1, not {self.max_connections}")

    def connections(self) -> int:
        """The connection limit: the one given, or half the descriptors the process may open
        (the other half for the store, counting workers, and connections being accepted)."""
        if self.max_connections is not None:
            return self.max_connections
        soft = _descriptor_limit()
        if soft is None:
            return MAX_CONNECTIONS
        return max(1, min(MAX_CONNECTIONS, soft // 2))


def backlog() -> int:
    """The listen backlog: asyncio accepts up to this many connections at a time, before any
    is turned away, so a few times it must fit in the descriptors the connection limit leaves
    (half of them, by default)."""
    soft = _descriptor_limit()
    if soft is None:
        return BACKLOG
    return max(8, min(BACKLOG, soft // 8))


def _descriptor_limit() -> int | None:
    """How many files this process may open, or None for no limit (or none known)."""
    try:
        import resource  # Unix only
    except ImportError:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def raw_reply(error: ApiError) -> bytes:
    """A whole HTTP/1.1 response carrying ``error``'s google.rpc.Status, closing the connection."""
    body = json.dumps(error.body(), ensure_ascii=False).encode("utf-8", "backslashreplace")
    reason = _REASONS.get(error.http, "Error")
    head = (
        f"HTTP/1.1 {error.http} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    503: "Service Unavailable",
}


def malformed() -> ApiError:
    return ApiError(
        "INVALID_ARGUMENT",
        "Invalid HTTP request received: the request line or a header is malformed, or the "
        "headers are larger than 16 kB.",
    )


def headers_too_slow(limits: Limits) -> ApiError:
    return _timed_out(f"The request's headers did not arrive within {limits.header_timeout:g} s.")


def body_too_slow(limits: Limits) -> ApiError:
    return _timed_out(
        f"The request's body did not arrive within {limits.body_timeout:g} s of its headers "
        "(fewer bytes sent than its Content-Length?)."
    )


def _timed_out(message: str) -> ApiError:
    # 408 Request Timeout rather than DEADLINE_EXCEEDED's usual 504: the client was the slow one.
    return ApiError("DEADLINE_EXCEEDED", message, http_status=408)


def too_many() -> ApiError:
    return ApiError(
        "UNAVAILABLE",
        "Too many connections are open and busy; try again shortly.",
        http_status=503,
    )


# Numbers the moments connections become idle: the smallest is the one idle longest.
_idle_order = itertools.count()

# Phases of a connection, for its timer and for choosing which connection to close.
IDLE = "idle"  # between requests (uvicorn's keep-alive timer runs)
HEADERS = "headers"  # a request's headers are expected (the header timer runs)
BODY = "body"  # its body is expected (the body timer runs)
BUSY = "busy"  # the request is in; the app answers (no timer: the handlers bound themselves)
DRAIN = "drain"  # answered before its body was all in (413): the rest has the body's time


# The connections' log: errors only (the emulator's own bugs), not uvicorn's warnings. Not a
# child of uvicorn's loggers, whose configuration (at each start) resets their children.
_QUIET_LOGGER = logging.getLogger("tunestats.emulator.http")
_QUIET_LOGGER.setLevel(logging.ERROR)


@functools.cache
def protocol_class(limits: Limits) -> type:
    """uvicorn's H11Protocol, bounded by ``limits`` (see the module's docstring)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class BoundedH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # uvicorn warns of each malformed request, which the client is told of already
            self.logger = _QUIET_LOGGER

        def connection_made(self, transport: Any) -> None:
            self._timer: Any = None
            self._phase = HEADERS
            self._got_bytes = False  # any byte of the request expected now
            self._seen_cycle: Any = None
            self._idle_since = next(_idle_order)  # when it became idle, in order
            super().connection_made(transport)
            if not _make_room(self):
                self._answer(too_many())
                return
            self._arm(limits.header_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._phase == IDLE:  # the next request begins: its headers have their time
                self._phase = HEADERS
                self._arm(limits.header_timeout)
            self._got_bytes = True
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            self._disarm()
            if self.conn.their_state is h11.SEND_BODY:
                self._phase = DRAIN  # uvicorn drops the rest of the body as it comes
                self._arm(limits.body_timeout)
            else:
                self._phase, self._got_bytes = IDLE, False
                self._idle_since = next(_idle_order)  # when it became idle, in order
            super().on_response_complete()
            self._follow()  # a pipelined request may have begun

        def send_400_response(self, msg: str) -> None:
            self._answer(malformed())

        def shutdown(self) -> None:
            if self._phase == BODY and not self.cycle.response_started:
                # Waiting for a body would hold the stop for the whole body timeout.
                self._disarm()
                self.transport.close()
                return
            super().shutdown()

        def evictable(self) -> bool:
            """No request under way, not even its first byte: closing it loses nothing."""
            return self._phase == IDLE or (self._phase == HEADERS and not self._got_bytes)

        def _follow(self) -> None:
            """Move to the phase h11 has reached, with its timer."""
            if self._phase == DRAIN and self.conn.their_state is h11.IDLE:
                # The dropped body is all in: what follows is the next request's headers.
                self._phase, self._got_bytes = HEADERS, bool(self.conn.trailing_data[0])
                self._arm(limits.header_timeout)
            cycle = self.cycle
            if cycle is not None and cycle is not self._seen_cycle:
                self._seen_cycle = cycle  # a request's headers are in
                self._phase = BODY
                self._arm(limits.body_timeout)
            if self._phase == BODY and (not cycle.more_body or cycle.response_complete):
                self._phase = BUSY
                self._disarm()

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expired(self) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            if self._phase == HEADERS and self._got_bytes:
                self._answer(headers_too_slow(limits))
            elif self._phase == BODY and not self.cycle.response_started:
                self._answer(body_too_slow(limits))
            else:  # nothing came, or the app answered already: nothing to say
                self._close()

        def _answer(self, error: ApiError) -> None:
            if not self.transport.is_closing():
                self.transport.write(raw_reply(error))
            self._close()

        def _close(self) -> None:
            self._disarm()
            self._phase = BUSY  # never chosen for eviction again
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.keep_alive = False
            # In the middle of a request h11 refuses: the transport's close is enough then.
            with contextlib.suppress(h11.LocalProtocolError):
                self.conn.send(h11.ConnectionClosed())
            self.transport.close()

    def _make_room(new: BoundedH11Protocol) -> bool:
        """Keep at most the limit open: close the connection idle longest; False if none is."""
        others = [c for c in new.connections if c is not new and not c.transport.is_closing()]
        if len(others) < limits.connections():
            return True
        idle = [c for c in others if isinstance(c, BoundedH11Protocol) and c.evictable()]
        if not idle:
            return False
        min(idle, key=lambda c: c._idle_since)._close()
        return True

    return BoundedH11Protocol


def quiet_accept_errors(loop: Any, context: dict[str, Any]) -> None:
    """asyncio's handler, but one line when accept() fails for want of descriptors (asyncio
    retries a second later); any other problem is reported as asyncio would."""
    exc = context.get("exception")
    if context.get("message") == "socket.accept() out of system resource":
        print(
            f"tunestats emulator: cannot accept a connection ({exc}); retrying in 1 s",
            file=sys.stderr,
            flush=True,
        )
        return
    loop.default_exception_handler(context)


def quiet_server(config: Any) -> Any:
    """A uvicorn Server whose event loop uses :func:`quiet_accept_errors`."""
    import asyncio

    import uvicorn

    class QuietServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            asyncio.get_running_loop().set_exception_handler(quiet_accept_errors)
            await super().startup(sockets=sockets)

    return QuietServer(config)
