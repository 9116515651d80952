"""Server: runs the emulator (store, lifecycle, app) under uvicorn, in the foreground or a thread.

``tunestats emulator`` calls :func:`serve`; tests and programs that embed the emulator use
:class:`Emulator` as a context manager, which serves on a free port in a background thread.
The tokenizer options are resolved before anything starts: a bad ``--tokenizer`` or an
unreadable ``--tokenizer-model`` raises ``TokenizerError`` (a ``ValueError``) from ``start``.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .app import Service, create_app
from .labels import TokenizerLabels
from .lifecycle import Lifecycle, Schedule, count_job
from .store import Store

DB_NAME = "tuning_jobs.sqlite"


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
    _parts: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _build(self) -> Any:
        import uvicorn

        labels = TokenizerLabels(self.tokenizer, self.tokenizer_model)
        labels.check()  # a bad --tokenizer / --tokenizer-model stops the start, before any job
        if self.data_dir is None:
            self._parts["tmp"] = tempfile.TemporaryDirectory(prefix="tunestats-emulator-")
            self.data_dir = self._parts["tmp"].name
        if self.port == 0:
            self.port = _free_port(self.host)
        store = Store(os.path.join(self.data_dir, DB_NAME))

        def count(plan: dict[str, Any]) -> Any:
            return count_job(plan, self.tokenizer, self.tokenizer_model)

        lifecycle = Lifecycle(store, self.schedule, count)
        service = Service(store, self.schedule, self.allow_local_paths, labels=labels)
        config = uvicorn.Config(
            create_app(service), host=self.host, port=self.port, log_level="warning"
        )
        self._parts.update(store=store, lifecycle=lifecycle)
        return uvicorn.Server(config)

    def start(self) -> Emulator:
        """Serve in a background thread; return once it accepts connections."""
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
        return self

    def stop(self) -> None:
        server = self._parts.pop("server", None)
        if server is not None:
            server.should_exit = True
            self._parts.pop("thread").join()
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
        """Serve in the foreground until interrupted (Ctrl-C, SIGINT)."""
        self.start()
        if announce:
            print(f"tunestats emulator on {self.url}, data in {self.data_dir}", flush=True)
        try:
            thread = self._parts["thread"]
            while thread.is_alive():
                thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve(**options: Any) -> None:
    """``tunestats emulator``: serve until interrupted (options are Emulator's fields)."""
    Emulator(**options).run()
