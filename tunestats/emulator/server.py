"""Server: runs the emulator (store, lifecycle, app) under uvicorn, in the foreground or a thread.

``tunestats emulator`` calls :func:`serve`; tests and programs that embed the emulator use
:class:`Emulator` as a context manager, which serves on a free port in a background thread.
The tokenizer options are resolved before anything starts: a bad ``--tokenizer`` or an
unreadable ``--tokenizer-model`` raises ``TokenizerError`` (a ``ValueError``) from ``start``.
HTTP goes through ``connections``' bounded protocol, with ``Emulator.limits``.

In the foreground, SIGINT, SIGTERM and SIGHUP stop the emulator cleanly: requests under way
get :data:`GRACEFUL_SECONDS` to finish, every count is ended, the store is closed and the
temporary data directory (without ``data_dir``) removed. A second signal stops at once.
"""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .app import create_app
from .connections import Limits, backlog, protocol_class, quiet_server
from .datastats import ProcessCounter
from .guard import HostPolicy
from .labels import TokenizerLabels
from .lifecycle import DEFAULT_COUNT_TIMEOUT, Lifecycle, Schedule
from .service import Service
from .store import Store

DB_NAME = "tuning_jobs.sqlite"
GRACEFUL_SECONDS = 5  # what a request under way has to finish when the emulator stops


@dataclass
class Emulator:
    """One emulator: ``with Emulator(data_dir=...) as emu: emu.url``."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    data_dir: str | None = None  # None: a temporary directory, removed on stop
    allow_local_paths: bool = False
    schedule: Schedule = field(default_factory=Schedule)
    tokenizer: str | None = None
    tokenizer_model: str | None = None
    count_timeout: float = DEFAULT_COUNT_TIMEOUT  # seconds a count may take; then it FAILS
    limits: Limits = field(default_factory=Limits)  # request times and connections
    _parts: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _build(self) -> Any:
        import uvicorn

        if not self.count_timeout > 0:
            raise ValueError(f"the count timeout must be positive, not {self.count_timeout}")
        self.limits.check()
        labels = TokenizerLabels(self.tokenizer, self.tokenizer_model)
        labels.check()  # a bad --tokenizer / --tokenizer-model stops the start, before any job
        if self.data_dir is None:
            self._parts["tmp"] = tempfile.TemporaryDirectory(prefix="tunestats-emulator-")
            self.data_dir = self._parts["tmp"].name
        if self.port == 0:
            self.port = _free_port(self.host)
        store = Store(os.path.join(self.data_dir, DB_NAME))
        counter = ProcessCounter(self.tokenizer, self.tokenizer_model)
        lifecycle = Lifecycle(store, self.schedule, counter, count_timeout=self.count_timeout)
        service = Service(
            store,
            self.schedule,
            self.allow_local_paths,
            labels=labels,
            hosts=HostPolicy.for_bind(self.host),
        )
        config = uvicorn.Config(
            create_app(service),
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws="none",
            http=protocol_class(self.limits),
            timeout_keep_alive=self.limits.keep_alive_timeout,
            backlog=backlog(),
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
        )
        self._parts.update(store=store, lifecycle=lifecycle, service=service)
        return quiet_server(config)

    def start(self) -> Emulator:
        """Serve in a background thread; return once it accepts connections."""
        try:
            server = self._build()
            self._parts["server"] = server
            self._parts["lifecycle"].start()
            thread = threading.Thread(target=server.run, name="tunestats-emulator", daemon=True)
            thread.start()
            self._parts["thread"] = thread
            deadline = time.monotonic() + 20
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not start on {self.url}")
                time.sleep(0.01)
        except BaseException:
            self.stop()  # whatever was made (a temporary directory, a store) goes again
            raise
        return self

    def stop(self) -> None:
        service = self._parts.pop("service", None)
        if service is not None:
            service.stopping.set()  # long waits (operations :wait) answer now
        server = self._parts.pop("server", None)
        if server is not None:
            server.should_exit = True
            thread = self._parts.pop("thread", None)
            if thread is not None:
                thread.join()
        lifecycle = self._parts.pop("lifecycle", None)
        if lifecycle is not None:
            lifecycle.stop()
        store = self._parts.pop("store", None)
        if store is not None:
            store.close()
        tmp = self._parts.pop("tmp", None)
        if tmp is not None:
            tmp.cleanup()
            self.data_dir = None

    def run(self, announce: bool = True) -> None:
        """Serve in the foreground until SIGINT (Ctrl-C), SIGTERM or SIGHUP; then stop cleanly.

        The handlers are installed before anything starts, so that even a signal during the
        start leaves nothing behind; a second signal raises KeyboardInterrupt at once.
        """
        stop = threading.Event()
        previous = (
            _on_signals(stop) if threading.current_thread() is threading.main_thread() else {}
        )
        try:
            self.start()
            if announce:
                print(f"tunestats emulator on {self.url}, data in {self.data_dir}", flush=True)
            thread = self._parts["thread"]
            while thread.is_alive() and not stop.wait(0.5):
                pass
        finally:
            try:
                self.stop()
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _on_signals(stop: threading.Event) -> dict[int, Any]:
    """Make SIGINT, SIGTERM and SIGHUP set ``stop`` (once); the previous handlers, to restore."""

    def handler(number: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # asked twice: stop now, whatever is left undone
        stop.set()

    names = ("SIGINT", "SIGTERM", "SIGHUP")
    numbers = [getattr(signal, name) for name in names if hasattr(signal, name)]
    return {number: signal.signal(number, handler) for number in numbers}


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve(**options: Any) -> None:
    """``tunestats emulator``: serve until interrupted (options are Emulator's fields)."""
    Emulator(**options).run()
