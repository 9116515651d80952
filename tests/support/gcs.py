"""A real GCS server for the tests: gcp-storage-emulator, in this process, on 127.0.0.1.

gcsfs (and Google's own clients) find it through ``STORAGE_EMULATOR_HOST``, exactly as they
would find any emulator; nothing in tunestats is replaced.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Read by gcsfs when it is imported: without it every bucket call against an emulator waits
# about 60 s for a layout probe (see docs/CHOICES.md).
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class GcsServer:
    """One emulator on its own port; ``stop()``/``start()`` to fake an outage."""

    port: int = field(default_factory=free_port)
    server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GcsServer:
        from gcp_storage_emulator.server import create_server

        # The emulator logs a traceback whenever a client closes a connection early.
        logging.getLogger("gcp_storage_emulator").setLevel(logging.CRITICAL)
        self.server = create_server("127.0.0.1", self.port, in_memory=True)
        self.server.start()
        self._quiet()
        return self

    def _quiet(self) -> None:
        # Clients that close a connection early (a read cut short) make the server print a
        # BrokenPipe traceback; that is expected here, not a failure.
        self.server._api._httpd.handle_error = lambda request, address: None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def restart(self) -> None:
        """Serve again on the same port, with the same objects (after ``stop()``)."""
        from gcp_storage_emulator.server import APIThread

        self.server._api = APIThread("127.0.0.1", self.port, self.server._storage)
        self.server.start()
        self._quiet()


class RequestLog:
    """Records the Range header of every GET the emulator serves (to see streamed reads)."""

    def __init__(self) -> None:
        self.ranges: list[str | None] = []

    def __enter__(self) -> RequestLog:
        import gcp_storage_emulator.server as emulator

        self._original = emulator.RequestHandler
        log = self.ranges

        class Logged(emulator.RequestHandler):  # type: ignore[misc, valid-type]
            def do_GET(self) -> None:
                if "/download/" in self.path:
                    log.append(self.headers.get("Range"))
                super().do_GET()

        emulator.RequestHandler = Logged
        return self

    def __exit__(self, *exc: object) -> None:
        import gcp_storage_emulator.server as emulator

        emulator.RequestHandler = self._original


@dataclass
class Bucket:
    """A fresh bucket on a running server, with helpers to put and rewrite objects."""

    fs: Any
    name: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:12]}")

    def create(self) -> Bucket:
        self.fs.mkdir(self.name)
        return self

    def uri(self, key: str) -> str:
        return f"gs://{self.name}/{key}"

    def put(self, key: str, data: bytes) -> str:
        self.fs.pipe_file(f"{self.name}/{key}", data)
        return self.uri(key)

    def generation(self, key: str) -> str:
        return str(self.fs.info(f"{self.name}/{key}", refresh=True)["generation"])


def gcs_filesystem() -> Any:
    import gcsfs

    # A fresh, uncached instance: listings must not come from another test's cache.
    # token="anon": the emulator needs none, and google-auth would probe the metadata server.
    return gcsfs.GCSFileSystem(skip_instance_cache=True, cache_timeout=0, token="anon")


class DenyAll(BaseHTTPRequestHandler):
    """A storage endpoint that answers 403 to everything: objects that cannot be read."""

    def _deny(self) -> None:
        body = json.dumps({"error": {"code": 403, "message": "Forbidden"}}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _deny

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1, a thread per request; yield its URL, stop at the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
